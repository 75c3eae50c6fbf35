from typing import cast

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from .models import Service, Topic, User


class DsfrFormMixin(forms.BaseForm):
    """Give widgets their DSFR classes and link each input to its error messages (RGAA)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.RadioSelect):
                continue
            css = "fr-select" if isinstance(widget, forms.Select) else "fr-input"
            if isinstance(widget, forms.ClearableFileInput | forms.FileInput):
                css = "fr-upload"
            widget.attrs["class"] = (widget.attrs.get("class", "") + " " + css).strip()
        # Error attributes are set in full_clean(): reading self.errors here would validate the
        # form before subclasses finish setting up their fields (choices, querysets).

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields and not isinstance(
                self.fields[name].widget, forms.CheckboxInput | forms.RadioSelect
            ):
                self.fields[name].widget.attrs["aria-invalid"] = "true"
                self.fields[name].widget.attrs["aria-describedby"] = (
                    f"{cast(str, self.auto_id) % name}-messages"
                )


# Choice fields labelling their objects otherwise than ``str(obj)``: one class per label.


class AgentChoiceField(forms.ModelChoiceField):
    """Users by their display name (full name, else e-mail)."""

    def label_from_instance(self, obj: User) -> str:
        return obj.display_name


class ServiceChoiceField(forms.ModelChoiceField):
    """Services by name; an inactive one is marked so (listed to get its precise refusal)."""

    def label_from_instance(self, obj: Service) -> str:
        return obj.name if obj.is_active else _("%(name)s (inactif)") % {"name": obj.name}


class ServiceTopicChoiceField(forms.ModelChoiceField):
    """Topics of several services as "Service — Topic" (select_related("service"))."""

    def label_from_instance(self, obj: Topic) -> str:
        return f"{obj.service.name} — {obj.title}"


class TopicServiceChoiceField(forms.ModelChoiceField):
    """Topics of several services as "Topic (Service)" (select_related("service"))."""

    def label_from_instance(self, obj: Topic) -> str:
        return f"{obj.title} ({obj.service.name})"


class LoginForm(DsfrFormMixin, AuthenticationForm):
    username = forms.EmailField(
        label=_("Adresse électronique"),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    error_messages = {
        "invalid_login": _(
            "Adresse électronique ou mot de passe incorrect. Après 5 essais, "
            "le compte est bloqué pendant 15 minutes."
        ),
        "inactive": _("Ce compte est désactivé."),
    }


class RatingForm(DsfrFormMixin, forms.Form):
    """A score from 1 to 5 and an optional comment (a case's rating, the survey after a contact)."""

    score = forms.TypedChoiceField(
        label=_("Votre note"),
        choices=[
            (5, _("5 — Très satisfait")),
            (4, _("4 — Satisfait")),
            (3, _("3 — Moyennement satisfait")),
            (2, _("2 — Peu satisfait")),
            (1, _("1 — Pas du tout satisfait")),
        ],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choisissez une note entre 1 et 5."),
            "invalid_choice": _("Choisissez une note entre 1 et 5."),
        },
    )
    comment = forms.CharField(
        label=_("Commentaire"),
        help_text=_("Facultatif, 2 000 caractères au maximum."),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 2000}),
        error_messages={
            "max_length": _("Le commentaire fait %(show_value)d caractères ; 2 000 au maximum.")
        },
    )


class SurveyForm(RatingForm):
    """The short survey after a contact (``contactcenter.surveys``)."""

    resolved = forms.ChoiceField(
        label=_("Votre demande est-elle résolue ?"),
        choices=[("oui", _("Oui")), ("non", _("Non"))],
        widget=forms.RadioSelect,
        required=False,
        error_messages={"invalid_choice": _("Répondez « oui » ou « non ».")},
    )

    field_order = ["score", "resolved", "comment"]
