from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from contactcenter.attachments import CheckedFile, check_upload


class DocumentForm(forms.Form):
    """The document a step asks the citizen for: one file, checked by its content."""

    file = forms.FileField(
        label=_("Document"),
        help_text=_("Un fichier PDF, JPEG ou PNG de 10 Mo au plus."),
        allow_empty_file=True,
    )

    checked: CheckedFile

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            self.checked = check_upload(upload)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        return upload
