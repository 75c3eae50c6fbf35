"""Forum forms (French messages; the checks themselves are the services')."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from contactcenter.forms import DsfrFormMixin
from contactcenter.models import Topic

from .models import Thread
from .services import MAX_BODY

PSEUDONYM_HELP = _(
    "Il sera le seul nom affiché sur le forum, et vous ne pourrez pas le changer : "
    "n'y mettez ni votre nom ni votre prénom."
)


class PseudonymMixin(forms.Form):
    pseudonym = forms.CharField(
        label=_("Votre pseudonyme"), max_length=30, required=False, help_text=PSEUDONYM_HELP
    )

    def __init__(self, *args, needs_pseudonym: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not needs_pseudonym:
            del self.fields["pseudonym"]
        else:
            self.fields["pseudonym"].required = True


class AskForm(DsfrFormMixin, PseudonymMixin):
    topic = forms.ModelChoiceField(
        label=_("Thème"), queryset=Topic.objects.filter(is_active=True), to_field_name="slug"
    )
    title = forms.CharField(label=_("Votre question en une phrase"), min_length=8, max_length=160)
    body = forms.CharField(
        label=_("Détaillez votre question"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=MAX_BODY,
        help_text=_(
            "N'indiquez aucune donnée personnelle : numéro de sécurité sociale ou fiscal, "
            "coordonnées bancaires, téléphone, adresse, date de naissance, noms."
        ),
    )
    language = forms.ChoiceField(
        label=_("Langue de la question"), choices=Thread.Language.choices, initial="fr"
    )
    field_order = ["topic", "title", "body", "language", "pseudonym"]


class ReplyForm(DsfrFormMixin, PseudonymMixin):
    body = forms.CharField(
        label=_("Votre réponse"),
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=MAX_BODY,
        help_text=_("N'indiquez aucune donnée personnelle."),
    )
    field_order = ["body", "pseudonym"]


class ReasonForm(DsfrFormMixin, forms.Form):
    reason = forms.CharField(label=_("Motif"), max_length=200)
