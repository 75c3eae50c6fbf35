"""Forms of routing (DSFR widgets, precise French errors; services re-validate everything)."""

from __future__ import annotations

from typing import cast

from django import forms
from django.utils import formats, timezone
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from contactcenter.forms import AgentChoiceField, DsfrFormMixin
from contactcenter.models import Topic, User

from .models import CAPACITY_MAX, AgentPresence


class StatusForm(DsfrFormMixin, forms.Form):
    status = forms.ChoiceField(
        label=_("Mon statut"),
        choices=AgentPresence.Status.choices,
        error_messages={"invalid_choice": _("Choisissez disponible, en pause ou hors ligne.")},
    )
    reason = forms.ChoiceField(
        label=_("Motif de la pause"),
        choices=[("", _("— Sans motif —")), *AgentPresence.PauseReason.choices],
        required=False,
        error_messages={"invalid_choice": _("Motif de pause inconnu.")},
    )


class AgentStatusForm(StatusForm):
    status = forms.ChoiceField(
        label=_("Statut de l'agent"),
        choices=AgentPresence.Status.choices,
        error_messages={"invalid_choice": _("Choisissez disponible, en pause ou hors ligne.")},
    )


# Lazy: the form class is built at import, the help text is read in the request's language.
_capacity_help = lazy(lambda limit: _("De 0 à %(max)s.") % {"max": limit}, str)


def _capacity_field(label, group):
    return forms.IntegerField(
        label=label,
        min_value=0,
        max_value=CAPACITY_MAX[group],
        help_text=_capacity_help(CAPACITY_MAX[group]),
        error_messages={
            "required": _("Indiquez une capacité (0 pour aucun contact sur ce canal)."),
            "invalid": _("Saisissez un nombre entier."),
            "min_value": _("La capacité ne peut pas être négative."),
            "max_value": _("La capacité est de %(limit_value)s au maximum sur ce canal."),
        },
    )


class CapacityForm(DsfrFormMixin, forms.Form):
    capacity_chat = _capacity_field(_("Tchats simultanés"), "chat")
    capacity_phone = _capacity_field(_("Appels et rappels simultanés"), "phone")
    capacity_web = _capacity_field(_("Demandes écrites ouvertes"), "web")


class ReassignForm(DsfrFormMixin, forms.Form):
    agent = AgentChoiceField(
        label=_("Attribuer à"),
        queryset=User.objects.none(),
        empty_label=_("Choisissez un agent"),
        error_messages={
            "required": _("Choisissez l'agent à qui attribuer la demande."),
            "invalid_choice": _("Cet agent n'appartient pas au service de la demande."),
        },
    )

    def __init__(self, *args, agents=None, **kwargs):
        super().__init__(*args, **kwargs)
        agent = cast(forms.ModelChoiceField, self.fields["agent"])
        agent.queryset = agents if agents is not None else User.objects.none()


class SlotChoiceField(forms.ChoiceField):
    """A select of slots grouped by day (optgroups); any value is accepted here and checked
    precisely by ``routing.request_callback`` (past, outside hours, full)."""

    def valid_value(self, value):
        return True


def slot_choices(slots) -> list:
    groups: dict[str, list] = {}
    for slot in slots:
        start = timezone.localtime(slot.start)
        end = timezone.localtime(slot.end)
        day = formats.date_format(start, "l j F Y").capitalize()
        groups.setdefault(day, []).append((slot.value, f"{start:%H:%M} – {end:%H:%M}"))
    return [("", _("Choisissez un créneau"))] + list(groups.items())


class CallbackForm(DsfrFormMixin, forms.Form):
    topic = forms.ModelChoiceField(
        label=_("Thème de votre demande"),
        queryset=Topic.objects.filter(is_active=True).select_related("service"),
        empty_label=_("Choisissez un thème"),
        error_messages={
            "required": _("Choisissez le thème de votre demande."),
            "invalid_choice": _("Ce thème n'est pas proposé."),
        },
    )
    phone = forms.CharField(
        label=_("Numéro de téléphone"),
        help_text=_("Le numéro auquel nous vous appellerons, par exemple 06 12 34 56 78."),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "type": "tel"}),
        error_messages={"required": _("Indiquez le numéro auquel vous rappeler.")},
    )
    description = forms.CharField(
        label=_("Objet de votre appel"),
        help_text=_("En quelques mots (1 000 caractères au maximum)."),
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": 1000}),
        error_messages={"required": _("Décrivez en quelques mots l'objet de votre appel.")},
    )
    slot = SlotChoiceField(
        label=_("Créneau de rappel"),
        help_text=_("Nous vous appelons pendant la demi-heure choisie (heure de Paris)."),
        error_messages={"required": _("Choisissez un créneau de rappel.")},
    )

    def clean_phone(self):
        from contactcenter.phones import parse_phone as normalize_phone

        # Checked here too so that every error shows at once (the service re-checks).
        normalize_phone(self.cleaned_data["phone"])
        return self.cleaned_data["phone"]

    def __init__(self, *args, slots=(), **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["slot"]).choices = slot_choices(slots)
        self.fields["topic"].widget.attrs.update({"data-callback-topic": ""})


class SkillsForm(DsfrFormMixin, forms.Form):
    skills = forms.MultipleChoiceField(
        label=_("Compétences"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("Compétence inconnue : « %(value)s ».")},
    )

    def __init__(self, *args, skills=(), **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["skills"]).choices = [(s.code, s.name) for s in skills]
