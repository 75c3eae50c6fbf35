"""The case lifecycle shared by every channel and the console: transfers between services,
their acceptance by the receiving side, and reclassification (topic, kind) within a service.

Plain functions that validate, then act, in one transaction with the case row locked. Core
imports no other app: routing connects nothing here, it sends ``case_assigned`` and
``on_case_assigned`` (connected in ``ContactcenterConfig.ready``) accepts a pending transfer.
Taking, releasing and assigning a case are routing's (``routing``).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .models import AgentProfile, Case, Event, Service, Topic, Transfer, User
from .permissions import can_act_on_case, user_service_ids
from .services import add_event, request_routing, validate_body

# --- transfer acceptance ------------------------------------------------------------------------


def _receiving_side(agent_id: int, service_ids) -> Q:
    """Transfers the agent's side receives: to the agent by name, or to one of ``service_ids``
    (a list, or a subquery of service ids)."""
    return Q(to_agent_id=agent_id) | Q(to_service_id__in=service_ids)


def accept_transfers(case: Case, agent: User, *, at=None) -> int:
    """Mark the case's pending transfers as accepted once someone of the receiving side owns it.

    Accepted when ``agent`` works for the service the case was transferred to, or is the agent
    it was transferred to by name. A conditional update: safe to call twice. Returns the count.
    """
    if agent is None:
        return 0
    return (
        Transfer.objects.filter(case_id=case.pk, accepted_at__isnull=True)
        .filter(_receiving_side(agent.pk, user_service_ids(agent)))
        .update(accepted_at=at or timezone.now())
    )


def on_case_assigned(sender, case_id, agent_id, **kwargs) -> None:
    """Receiver for ``contactcenter.signals.case_assigned``: automatic routing of a transferred
    case to an agent of the receiving service also accepts the transfer.

    Routing's hot path sends this after every assignment, nearly always for a case without a
    pending transfer: one statement, the agent's services read in it as a subquery (routing
    only gives cases to agents, whose services are those of their profile). None at all when
    routing says the case has no pending transfer (``pending_transfer=False``)."""
    if agent_id is None or kwargs.get("pending_transfer") is False:
        return
    services = AgentProfile.services.through.objects.filter(agentprofile__user_id=agent_id)
    Transfer.objects.filter(case_id=case_id, accepted_at__isnull=True).filter(
        _receiving_side(agent_id, services.values("service_id"))
    ).update(accepted_at=timezone.now())


def assignable_agents(case: Case) -> QuerySet[User]:
    """Agents a supervisor may pick for a case: active agents of the case's service."""
    return (
        User.objects.filter(
            is_active=True,
            role=User.Role.AGENT,
            agent_profile__services=case.service_id,
        )
        .order_by("last_name", "first_name", "id")
        .distinct()
    )


def pending_transfer(case: Case) -> Transfer | None:
    """The latest transfer of the case still waiting for the receiving side, if any."""
    return (
        Transfer.objects.filter(case=case, accepted_at__isnull=True)
        .select_related("from_service", "to_service", "created_by", "to_agent")
        .order_by("-created_at", "-id")
        .first()
    )


# --- reclassification ---------------------------------------------------------------------------


@transaction.atomic
def change_classification(case: Case, actor: User, *, topic: Topic, kind: str) -> Event | None:
    """Correct the topic and/or kind of a case (within its service; to change service, transfer).

    One transaction with the case row locked. Writes an internal timeline event; no-op (None)
    when nothing changes.
    """
    if not can_act_on_case(actor, case):
        raise ValidationError(_("Vous n'êtes pas habilité à traiter cette demande."))
    errors: dict[str, list[str]] = {}
    fresh = Case.objects.select_for_update().select_related("topic").get(pk=case.pk)
    if topic is None or not topic.is_active:
        errors["topic"] = [_("Choisissez un des thèmes proposés.")]
    elif topic.service_id != fresh.service_id:
        errors["topic"] = [
            _(
                "Le thème « %(topic)s » relève d'un autre service (%(service)s) : "
                "transférez la demande à ce service."
            )
            % {"topic": topic.title, "service": topic.service.name}
        ]
    if kind not in Case.Kind.values:
        errors["kind"] = [_("Choisissez la nature de la demande.")]
    if errors:
        raise ValidationError(errors)
    changes: dict = {}
    if topic.pk != fresh.topic_id:
        changes["topic"] = {"from": fresh.topic.title, "to": topic.title}
    if kind != fresh.kind:
        changes["kind"] = {
            "from": str(Case.Kind(fresh.kind).label),
            "to": str(Case.Kind(kind).label),
        }
    if not changes:
        return None
    Case.objects.filter(pk=case.pk).update(topic=topic, kind=kind)
    case.topic, case.kind = topic, kind
    return add_event(
        case,
        Event.Type.STATUS,
        actor=actor,
        internal=True,
        payload={"classification": changes},
        touch=False,
    )


# --- transfer (liaison interservices) -------------------------------------------------------------

REASON_MAX_CHARS = 2000


def transfer_case(
    case: Case,
    *,
    to_service: Service,
    reason: str,
    by: User,
    to_agent: User | None = None,
    to_topic: Topic | None = None,
) -> Transfer:
    """Hand a case over to the competent service, with a reason the receiving service reads.

    The case keeps its whole history; it moves to the new service's queue (assignment reset,
    routing requested after commit). The citizen's timeline says only which service now handles
    the request; the internal reason stays on the Transfer row and in the event's payload.
    ``to_topic`` (a topic of ``to_service``) reclassifies the case; by default the case keeps its
    topic if it belongs to the new service, else takes the new service's first active topic.

    One transaction with the case row locked (``select_for_update``), so two concurrent transfers
    cannot both move the case.
    """
    errors: dict[str, list[str]] = {}
    try:
        reason = validate_body(reason, max_chars=REASON_MAX_CHARS)
    except ValidationError:
        errors["reason"] = [
            _("Indiquez le motif du transfert (%(max)s caractères au maximum).")
            % {"max": REASON_MAX_CHARS}
        ]
    if to_service is None:
        errors["to_service"] = [_("Choisissez le service destinataire.")]
    elif not to_service.is_active:
        errors["to_service"] = [
            _("Le service « %(service)s » n'est plus actif : choisissez un autre service.")
            % {"service": to_service.name}
        ]
    if (
        to_service is not None
        and to_topic is not None
        and (to_topic.service_id != to_service.pk or not to_topic.is_active)
    ):
        errors["to_topic"] = [
            _("Le thème « %(topic)s » ne relève pas du service « %(service)s ».")
            % {"topic": to_topic.title, "service": to_service.name}
        ]
    if to_service is not None and to_agent is not None:
        in_service = (
            to_agent.is_active
            and to_agent.is_staff_member
            and Service.objects.filter(pk=to_service.pk, agents__user=to_agent).exists()
        )
        if not in_service:
            errors["to_agent"] = [
                _("%(agent)s ne fait pas partie du service « %(service)s ».")
                % {"agent": to_agent.display_name, "service": to_service.name}
            ]
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        fresh = Case.objects.select_for_update().select_related("service", "topic").get(pk=case.pk)
        if not can_act_on_case(by, fresh):
            raise ValidationError(_("Vous n'êtes pas habilité à traiter cette demande."))
        if fresh.service_id == to_service.pk:
            raise ValidationError(
                {
                    "to_service": [
                        _("La demande est déjà traitée par le service « %(service)s ».")
                        % {"service": to_service.name}
                    ]
                }
            )
        if fresh.status == Case.Status.CLOSED:
            raise ValidationError(
                _("Une demande clôturée ne peut pas être transférée : rouvrez-la d'abord."),
                code="closed",
            )
        topic = to_topic
        if topic is None:
            topic = (
                fresh.topic
                if fresh.topic.service_id == to_service.pk
                else to_service.topics.filter(is_active=True).order_by("position", "id").first()
                or fresh.topic
            )
        now = timezone.now()
        transfer = Transfer.objects.create(
            case=fresh,
            from_service=fresh.service,
            to_service=to_service,
            to_agent=to_agent,
            reason=reason,
            created_by=by,
            created_at=now,
        )
        # A transferred case starts again in the new service's queue (routing queues "new"
        # unowned cases), whatever it was waiting for: the receiving service decides.
        new_status = Case.Status.NEW
        Case.objects.filter(pk=fresh.pk).update(
            service=to_service,
            topic=topic,
            status=new_status,
            assigned_to=None,
            assigned_at=None,
            last_activity_at=now,
        )
        old_status = fresh.status
        for attr, value in (
            ("service", to_service),
            ("topic", topic),
            ("status", new_status),
            ("assigned_to", None),
            ("assigned_at", None),
            ("last_activity_at", now),
        ):
            setattr(case, attr, value)
        with translation.override(settings.LANGUAGE_CODE):
            citizen_text = _("Votre demande a été transmise au service %(service)s.") % {
                "service": to_service.name
            }
        add_event(
            case,
            Event.Type.TRANSFER,
            actor=by,
            body=citizen_text,
            payload={
                "transfer": transfer.pk,
                "from_service": fresh.service_id,
                "from_service_name": fresh.service.name,
                "to_service": to_service.pk,
                "to_service_name": to_service.name,
                "to_agent": to_agent.pk if to_agent else None,
                "from_topic": fresh.topic.title,
                "to_topic": topic.title,
                "from_status": old_status,
                "to_status": new_status,
                # Internal: the receiving service's context, never rendered for the citizen.
                "reason": reason,
            },
            at=now,
            # Signed by the service that hands the case over; what follows by the new one.
            service=fresh.service,
        )
        request_routing(case)
    return transfer


def transfer_targets(case: Case) -> QuerySet[Service]:
    """Services a case can be transferred to: every active service but its own."""
    return Service.objects.filter(is_active=True).exclude(pk=case.service_id).order_by("name")
