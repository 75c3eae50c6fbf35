from django import forms
from django.utils.translation import gettext_lazy as _

from contactcenter.forms import DsfrFormMixin

from .services import normalize_code


class CodeForm(DsfrFormMixin, forms.Form):
    code = forms.CharField(
        label=_("Code communiqué par l'usager"),
        help_text=_("6 chiffres, par exemple 482 913. Valable 10 minutes, une seule fois."),
        max_length=12,
        error_messages={"required": _("Saisissez le code à 6 chiffres que l'usager vous lit.")},
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "off",
                "spellcheck": "false",
                "autocapitalize": "off",
            }
        ),
    )

    def clean_code(self):
        code = normalize_code(self.cleaned_data["code"])
        if len(code) != 6 or not code.isascii() or not code.isdigit():
            raise forms.ValidationError(
                _("Le code comporte exactement 6 chiffres (vous en avez saisi %(count)s).")
                % {"count": sum(ch.isdigit() for ch in code)},
                code="format",
            )
        return code
