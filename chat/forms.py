from typing import cast

from django import forms
from django.utils.translation import gettext_lazy as _

from contactcenter.forms import AgentChoiceField, DsfrFormMixin, ServiceTopicChoiceField
from contactcenter.models import Service, Topic, User

from .services import MAX_CHARS, TRANSFER_REASON_MAX_CHARS


class StartChatForm(DsfrFormMixin, forms.Form):
    topic = forms.ModelChoiceField(
        label=_("Thème de votre question"),
        queryset=Topic.objects.filter(is_active=True).select_related("service"),
        to_field_name="slug",
        empty_label=_("Choisissez un thème"),
        error_messages={
            "required": _("Choisissez le thème de votre question."),
            "invalid_choice": _("Choisissez un des thèmes proposés."),
        },
    )
    body = forms.CharField(
        label=_("Votre question"),
        help_text=_("4 000 caractères au maximum. Un agent vous répond dans cette fenêtre."),
        widget=forms.Textarea(attrs={"rows": 5, "maxlength": MAX_CHARS}),
        strip=False,
        required=False,
    )
    client_id = forms.CharField(widget=forms.HiddenInput, required=False)
    chatbot = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
    fragile = forms.BooleanField(widget=forms.HiddenInput, required=False)


class SummaryForm(DsfrFormMixin, forms.Form):
    summary = forms.CharField(
        label=_("Synthèse pour l'usager"),
        help_text=_(
            "Ce qu'il faut retenir et les prochaines étapes. Elle est envoyée dans la messagerie "
            "sécurisée de l'usager, qui reçoit une alerte sans le contenu."
        ),
        widget=forms.Textarea(attrs={"rows": 4}),
        strip=False,
        required=False,
    )

    def __init__(self, *args, prefix_id: str = "", **kwargs):
        # Several panels on one page: ids must be unique (label/for, aria-describedby).
        if prefix_id:
            kwargs.setdefault("auto_id", f"id_{prefix_id}_%s")
        super().__init__(*args, **kwargs)


class TransferForm(DsfrFormMixin, forms.Form):
    to_service = forms.ModelChoiceField(
        label=_("Service destinataire"),
        queryset=Service.objects.filter(is_active=True),
        required=False,
        empty_label=_("Mon service (un autre agent)"),
    )
    to_agent = AgentChoiceField(
        label=_("Agent nommé (facultatif, service destinataire uniquement)"),
        queryset=User.objects.filter(role=User.Role.AGENT, is_active=True)
        .exclude(agent_profile__isnull=True)
        .order_by("first_name", "last_name"),
        required=False,
        empty_label=_("Le premier agent disponible"),
    )
    to_topic = ServiceTopicChoiceField(
        label=_("Thème dans le service destinataire"),
        help_text=_("Obligatoire pour un autre service : l'usager voit le nouveau thème."),
        queryset=Topic.objects.filter(is_active=True).select_related("service"),
        required=False,
        empty_label=_("— Choisir un thème —"),
        error_messages={"invalid_choice": _("Choisissez un des thèmes proposés.")},
    )
    reason = forms.CharField(
        label=_("Motif du transfert"),
        help_text=_("Lu par l'agent qui reprend le tchat, jamais par l'usager."),
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": TRANSFER_REASON_MAX_CHARS}),
        required=False,
        strip=False,
    )

    def __init__(self, *args, case=None, prefix_id: str = "", **kwargs):
        if prefix_id:
            kwargs.setdefault("auto_id", f"id_{prefix_id}_%s")
        super().__init__(*args, **kwargs)
        self.case = case
        if case is not None:
            to_topic = cast(forms.ModelChoiceField, self.fields["to_topic"])
            to_agent = cast(forms.ModelChoiceField, self.fields["to_agent"])
            topics, agents = to_topic.queryset, to_agent.queryset
            assert topics is not None and agents is not None  # both declared with a queryset
            to_topic.queryset = topics.exclude(service_id=case.service_id)
            # Named agents of other services only (in the same service the chat goes back to
            # the queue).
            to_agent.queryset = agents.exclude(agent_profile__services=case.service_id)

    def clean(self):
        super().clean()
        data = self.cleaned_data
        service, topic = data.get("to_service"), data.get("to_topic")
        other_service = service is not None and (
            self.case is None or service.pk != self.case.service_id
        )
        if (
            service is not None
            and other_service
            and topic is None
            and "to_topic" not in self.errors
        ):
            self.add_error(
                "to_topic",
                _("Choisissez le thème de la demande dans le service « %(service)s ».")
                % {"service": service.name},
            )
        elif topic is not None and not other_service:
            self.add_error(
                "to_topic", _("Un thème ne se choisit que pour un transfert à un autre service.")
            )
        elif topic is not None and service is not None and topic.service_id != service.pk:
            self.add_error(
                "to_topic",
                _("Le thème « %(topic)s » ne relève pas du service « %(service)s ».")
                % {"topic": topic.title, "service": service.name},
            )
        return data


class RatingForm(DsfrFormMixin, forms.Form):
    score = forms.TypedChoiceField(
        label=_("Êtes-vous satisfait de cet échange ?"),
        choices=[(i, str(i)) for i in range(1, 6)],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choisissez une note entre 1 et 5.")},
    )
    comment = forms.CharField(
        label=_("Commentaire (facultatif)"),
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 2000}),
        required=False,
        max_length=2000,
    )
