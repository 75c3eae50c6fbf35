from django import forms
from django.utils.translation import gettext_lazy as _

from contactcenter.forms import DsfrFormMixin
from contactcenter.models import Topic

from .services import MAX_QUESTION_CHARS


class FaqSearchForm(DsfrFormMixin, forms.Form):
    q = forms.CharField(
        label=_("Rechercher dans la foire aux questions"),
        max_length=MAX_QUESTION_CHARS,
        error_messages={
            "required": _("Saisissez quelques mots, par exemple « carte Vitale perdue »."),
            "max_length": _(
                "Votre recherche est trop longue (%(limit_value)d caractères au plus)."
            ),
        },
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    topic = forms.SlugField(required=False, widget=forms.HiddenInput)

    def clean_q(self):
        value = self.cleaned_data["q"].strip()
        if not value:
            raise forms.ValidationError(self.fields["q"].error_messages["required"])
        return value

    def clean_topic(self):
        slug = self.cleaned_data.get("topic")
        if not slug:
            return None
        topic = Topic.objects.filter(slug=slug, is_active=True).first()
        if topic is None:
            raise forms.ValidationError(_("Ce thème n'existe pas."))
        return topic
