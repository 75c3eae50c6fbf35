"""Forms of the agent console. Each one only parses and checks input; services do the work."""

from __future__ import annotations

from typing import cast

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from contactcenter import cases
from contactcenter.forms import (
    AgentChoiceField,
    DsfrFormMixin,
    ServiceChoiceField,
    ServiceTopicChoiceField,
    TopicServiceChoiceField,
)
from contactcenter.models import Case, Channel, Service, Topic, User

from . import worklist


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; contactcenter.attachments checks each one."""

    widget = MultipleFileInput

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data if item]
        return [super().clean(data, initial)] if data else []


def _body_field(label, *, required=True, rows=8, help_text=""):
    return forms.CharField(
        label=label,
        required=required,
        strip=True,
        max_length=settings.GUICHET_MESSAGE_MAX_CHARS,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows}),
        error_messages={
            "required": _("Le message ne peut pas être vide."),
            "max_length": _(
                "Le message fait %(show_value)d caractères ; %(limit_value)d au maximum."
            ),
        },
    )


class ReplyForm(DsfrFormMixin, forms.Form):
    """Answer the citizen or ask for details: one box, two buttons (``action``)."""

    REPLY = "reply"
    DETAILS = "details"

    body = _body_field(
        _("Votre message à l'usager"),
        help_text=_("L'usager est prévenu par courriel ou SMS, sans le contenu du message."),
    )
    # A declared field: the form's metaclass moves it into base_fields, so the instance's
    # .files (the uploaded files) is not shadowed at run time, only for the type checker.
    files = MultipleFileField(  # type: ignore[assignment]
        label=_("Pièces jointes"),
        required=False,
        help_text=_("PDF, JPEG ou PNG ; 10 Mo au maximum par fichier, 5 fichiers au maximum."),
        widget=MultipleFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}),
    )
    action = forms.ChoiceField(
        choices=[(REPLY, _("Répondre")), (DETAILS, _("Demander des précisions"))],
        initial=REPLY,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": _("Action inconnue.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="reply-%s", **kwargs)


class NoteForm(DsfrFormMixin, forms.Form):
    body = _body_field(
        _("Note interne"),
        rows=4,
        help_text=_("Visible uniquement par les agents ; jamais montrée à l'usager."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="note-%s", **kwargs)


class CallSummaryForm(DsfrFormMixin, forms.Form):
    """The written summary of a phone call, posted to the citizen's secure messaging."""

    body = _body_field(_("Résumé de l'appel pour l'usager"), rows=3)


class ContactTraceForm(DsfrFormMixin, forms.Form):
    """« Ce qu'il faut retenir » after a contact, posted to the citizen's secure messaging."""

    body = _body_field(_("Ce qu'il faut retenir (envoyé à l'usager)"), rows=4)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="trace-%s", **kwargs)


class CloseForm(DsfrFormMixin, forms.Form):
    resolution = forms.ChoiceField(
        label=_("Résolution"),
        choices=Case.Resolution.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choisissez la résolution de la demande.")},
    )
    body = _body_field(
        _("Dernier message à l'usager (facultatif)"),
        required=False,
        rows=3,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="close-%s", **kwargs)


class ClassificationForm(DsfrFormMixin, forms.Form):
    topic = forms.ModelChoiceField(
        label=_("Thème"),
        queryset=Topic.objects.none(),
        empty_label=None,
        error_messages={"invalid_choice": _("Choisissez un des thèmes du service.")},
    )
    kind = forms.ChoiceField(label=_("Nature"), choices=Case.Kind.choices)

    def __init__(self, *args, case: Case, **kwargs):
        kwargs.setdefault("initial", {"topic": case.topic_id, "kind": case.kind})
        super().__init__(*args, auto_id="classify-%s", **kwargs)
        topic = cast(forms.ModelChoiceField, self.fields["topic"])
        topic.queryset = Topic.objects.filter(
            service_id=case.service_id, is_active=True
        ) | Topic.objects.filter(pk=case.topic_id)


class TransferForm(DsfrFormMixin, forms.Form):
    to_service = ServiceChoiceField(
        label=_("Service destinataire"),
        queryset=Service.objects.none(),
        empty_label=_("— Choisir un service —"),
        error_messages={
            "required": _("Choisissez le service destinataire."),
            "invalid_choice": _("Ce service ne peut pas recevoir la demande."),
        },
    )
    # Asked, never guessed: the topic the citizen sees changes with the service.
    to_topic = ServiceTopicChoiceField(
        label=_("Thème dans le service destinataire"),
        queryset=Topic.objects.none(),
        empty_label=_("— Choisir un thème —"),
        required=False,  # required in clean(), once the service is known to be a valid target
        error_messages={"invalid_choice": _("Choisissez un des thèmes proposés.")},
    )
    to_agent = AgentChoiceField(
        label=_("Agent destinataire (facultatif)"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("— La file du service —"),
        help_text=_("L'agent nommé voit la demande tant qu'il ne l'a pas prise en charge."),
    )
    reason = forms.CharField(
        label=_("Motif du transfert"),
        max_length=cases.REASON_MAX_CHARS,
        help_text=_("Lu par le service destinataire ; l'usager voit seulement le nom du service."),
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={
            "required": _("Indiquez le motif du transfert."),
            "max_length": _(
                "Le motif fait %(show_value)d caractères ; %(limit_value)d au maximum."
            ),
        },
    )

    def __init__(self, *args, case: Case, **kwargs):
        super().__init__(*args, auto_id="transfer-%s", **kwargs)
        # Inactive services stay listed so that choosing one gets the precise refusal.
        to_service = cast(forms.ModelChoiceField, self.fields["to_service"])
        to_topic = cast(forms.ModelChoiceField, self.fields["to_topic"])
        to_agent = cast(forms.ModelChoiceField, self.fields["to_agent"])
        to_service.queryset = Service.objects.exclude(pk=case.service_id)
        to_topic.queryset = (
            Topic.objects.filter(is_active=True)
            .exclude(service_id=case.service_id)
            .select_related("service")
        )
        to_agent.queryset = (
            User.objects.filter(is_active=True, role=User.Role.AGENT)
            .exclude(agent_profile__services=case.service_id)
            .filter(agent_profile__services__isnull=False)
            .distinct()
            .order_by("last_name", "first_name")
        )

    def clean(self):
        super().clean()
        data = self.cleaned_data
        service = data.get("to_service")
        # An inactive service gets its precise refusal from the transfer itself.
        if (
            service is not None
            and service.is_active
            and data.get("to_topic") is None
            and "to_topic" not in self.errors
        ):
            self.add_error(
                "to_topic",
                _("Choisissez le thème de la demande dans le service « %(service)s ».")
                % {"service": service.name},
            )
        return data


class AssignForm(DsfrFormMixin, forms.Form):
    agent = AgentChoiceField(
        label=_("Attribuer à"),
        queryset=User.objects.none(),
        empty_label=_("— Choisir un agent —"),
        error_messages={
            "required": _("Choisissez l'agent à qui attribuer la demande."),
            "invalid_choice": _("Cet agent ne fait pas partie du service de la demande."),
        },
    )

    def __init__(self, *args, case: Case, **kwargs):
        super().__init__(*args, auto_id="assign-%s", **kwargs)
        agent = cast(forms.ModelChoiceField, self.fields["agent"])
        agent.queryset = cases.assignable_agents(case)


class AccessReasonForm(DsfrFormMixin, forms.Form):
    motif = forms.CharField(
        label=_("Motif de la consultation (facultatif)"),
        max_length=300,
        required=False,
        help_text=_("Inscrit au journal des accès : par exemple « appel de l'usager »."),
        error_messages={
            "max_length": _("Le motif fait %(show_value)d caractères ; %(limit_value)d au maximum.")
        },
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "access-%s")
        super().__init__(*args, **kwargs)


class CitizenSearchForm(DsfrFormMixin, forms.Form):
    q = forms.CharField(
        label=_("Rechercher un usager"),
        max_length=worklist.QUERY_MAX_CHARS,
        help_text=_(
            "Nom, adresse électronique, référence d'une demande (2026-000123), "
            "numéro fiscal ou numéro de sécurité sociale."
        ),
        error_messages={
            "required": _("Saisissez un nom, une adresse, une référence ou un numéro."),
            "max_length": _("La recherche fait %(limit_value)d caractères au maximum."),
        },
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="search-%s", **kwargs)


NEW_CASE = "new"


class ContactForm(DsfrFormMixin, forms.Form):
    """A phone, counter, e-mail or letter contact, for a citizen found beforehand."""

    channel = forms.ChoiceField(
        label=_("Canal du contact"),
        choices=[(c.value, c.label) for c in worklist.CONTACT_CHANNELS],
        initial=Channel.PHONE,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choisissez le canal du contact.")},
    )
    case = forms.ChoiceField(
        label=_("Rattacher à"),
        error_messages={
            "required": _("Choisissez une demande ou « nouvelle demande »."),
            "invalid_choice": _("Cette demande n'appartient pas à l'usager choisi."),
        },
    )
    topic = TopicServiceChoiceField(
        label=_("Thème"),
        queryset=Topic.objects.none(),
        required=False,
        empty_label=_("— Choisir un thème —"),
        help_text=_("Pour une nouvelle demande : elle part au service compétent pour ce thème."),
    )
    kind = forms.ChoiceField(
        label=_("Nature de la demande"),
        choices=Case.Kind.choices,
        initial=Case.Kind.QUESTION,
        required=False,
    )
    subject = forms.CharField(
        label=_("Objet (facultatif)"),
        max_length=200,
        required=False,
        help_text=_("Pour une nouvelle demande ; à défaut, la première ligne du résumé."),
    )
    summary = forms.CharField(
        label=_("Résumé de l'échange"),
        max_length=worklist.SUMMARY_MAX_CHARS,
        help_text=_("Visible par l'usager dans « Mon historique »."),
        widget=forms.Textarea(attrs={"rows": 6}),
        error_messages={
            "required": _("Résumez l'échange."),
            "max_length": _(
                "Le résumé fait %(show_value)d caractères ; %(limit_value)d au maximum."
            ),
        },
    )
    resolved = forms.BooleanField(
        label=_("Résolu dès ce contact"),
        required=False,
        help_text=_("Pour une nouvelle demande : elle est créée clôturée (« répondu »)."),
    )
    trace = _body_field(
        _("Ce qu'il faut retenir (envoyé à l'usager)"),
        required=False,
        rows=3,
        help_text=_(
            "Facultatif : posté dans sa messagerie sécurisée ; il est prévenu sans le contenu."
        ),
    )

    def __init__(self, *args, cases, **kwargs):
        super().__init__(*args, auto_id="contact-%s", **kwargs)
        self.cases = {str(case.pk): case for case in cases}
        cast(forms.ChoiceField, self.fields["case"]).choices = [
            (NEW_CASE, _("Une nouvelle demande"))
        ] + [
            (
                str(case.pk),
                f"{case.reference} — {case.subject} ({case.get_status_display()}, "
                f"{case.service.name})",
            )
            for case in cases
        ]
        self.fields["case"].initial = NEW_CASE
        topic = cast(forms.ModelChoiceField, self.fields["topic"])
        topic.queryset = Topic.objects.filter(is_active=True).select_related("service")

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if data.get("case") == NEW_CASE:
            if not data.get("topic"):
                self.add_error("topic", _("Choisissez le thème de la nouvelle demande."))
            if not data.get("kind"):
                self.add_error("kind", _("Choisissez la nature de la nouvelle demande."))
        return data

    @property
    def chosen_case(self) -> Case | None:
        return self.cases.get(self.cleaned_data.get("case", ""))
