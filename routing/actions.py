"""What people do with cases: an agent takes or gives back a case, a supervisor assigns one,
a case goes back to its queue, a case is flagged fragile.

Every assignment goes through the engine's checked conditional UPDATE
(``routing.engine.conditional_assign``) with the agent's presence row locked.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.models import Case, Event, User
from contactcenter.permissions import user_service_ids
from contactcenter.services import add_event

from .availability import schedule_availability_refresh
from .capacity import GROUP_LABELS, HEAD_PRIORITY, agent_group, channel_group, lock_presence
from .engine import after_assignment, conditional_assign
from .models import AgentPresence
from .publish import group_send, queue_task


def _check_agent_of_service(agent: User, service_id: int, message: str) -> None:
    if not (agent.is_active and agent.is_agent) or service_id not in user_service_ids(agent):
        raise ValidationError(message, code="not_in_service")


def _refused_reason(case: Case, agent_id: int, expected_owner, expected_status) -> ValidationError:
    fresh = Case.objects.filter(pk=case.pk).values("assigned_to_id", "status").first()
    if (
        fresh is None
        or fresh["assigned_to_id"] != expected_owner
        or fresh["status"] != expected_status
    ):
        return ValidationError(
            _("Cette demande vient d'être prise par un autre agent."), code="already_taken"
        )
    group = channel_group(case.channel)
    presence = AgentPresence.objects.get(pk=agent_id)
    return ValidationError(
        _(
            "Capacité atteinte : %(name)s traite déjà %(cap)s demande(s) sur le canal "
            "« %(channel)s »."
        )
        % {
            "name": presence.user.display_name,
            "cap": presence.capacity_for(group),
            "channel": GROUP_LABELS[group],
        },
        code="capacity",
    )


def take_case(agent: User, case: Case) -> Case:
    """An agent picks a waiting case from their queue.

    Raises ValidationError when the case was taken meanwhile ("Cette demande vient d'être prise
    par un autre agent."), when the agent is at capacity on that channel, or when the case is
    not of their services. Runs its own transaction: locks the agent's presence row, then a
    checked conditional UPDATE (``assigned_to IS NULL AND status = 'new'``).
    """
    _check_agent_of_service(
        agent, case.service_id, _("Cette demande ne relève pas de vos services.")
    )
    if case.assigned_to_id == agent.pk and case.status != Case.Status.NEW:
        return case
    now = timezone.now()
    with transaction.atomic():
        lock_presence(agent.pk)
        if not conditional_assign(case, agent.pk, now=now, require_available=False):
            raise _refused_reason(case, agent.pk, None, Case.Status.NEW)
        case.status = Case.Status.NEW
        after_assignment(case, agent.pk, now=now, by=agent, mode="take")
    return case


def release_case(agent: User, case: Case) -> Case:
    """The owner gives a case back to its queue (someone else will get it).

    Checked conditional update on the current owner; runs in a transaction.
    """
    now = timezone.now()
    with transaction.atomic():
        updated = Case.objects.filter(
            pk=case.pk, assigned_to_id=agent.pk, status__in=Case.OPEN_STATUSES
        ).update(assigned_to=None, assigned_at=None, status=Case.Status.NEW, last_activity_at=now)
        if updated != 1:
            raise ValidationError(_("Cette demande ne vous est pas attribuée."), code="not_owner")
        old_status = case.status
        case.assigned_to_id, case.assigned_at, case.status = None, None, Case.Status.NEW
        add_event(
            case,
            Event.Type.ASSIGNMENT,
            actor=agent,
            internal=True,
            body=_("Remise dans la file du service par l'agent."),
            payload={
                "mode": "released",
                "agent": None,
                "previous_agent": agent.pk,
                "from": old_status,
            },
            touch=False,
            at=now,
        )
        # Someone else first; the releasing agent is not offered more work right away (that
        # would hand the same case back): the next trigger or the queue sweep will.
        queue_task("route_case", case.pk, [agent.pk])
        schedule_availability_refresh([case.service_id])
    return case


def assign_case(case: Case, agent: User, *, by: User) -> Case:
    """A supervisor gives (or takes back and gives) a case to a named agent of its service.

    The target agent's capacity on the channel is checked (whatever their status: a web case
    can go to an agent on break). Runs its own transaction: locks the case row and the agent's
    presence row, then a checked conditional UPDATE on the expected previous owner.
    """
    if not (by.is_admin_role or (by.is_supervisor and case.service_id in user_service_ids(by))):
        raise ValidationError(
            _("Vous ne supervisez pas le service de cette demande."), code="forbidden"
        )
    _check_agent_of_service(
        agent, case.service_id, _("Cet agent n'appartient pas au service de la demande.")
    )
    now = timezone.now()
    with transaction.atomic():
        # Lock order wherever a wait is possible: the agent's presence row, then the case.
        lock_presence(agent.pk)
        case = Case.objects.select_for_update(of=("self",)).select_related("topic").get(pk=case.pk)
        if not case.is_open:
            raise ValidationError(_("Cette demande est clôturée."), code="closed")
        if case.assigned_to_id == agent.pk:
            raise ValidationError(
                _("La demande est déjà attribuée à %(name)s.") % {"name": agent.display_name},
                code="unchanged",
            )
        previous = case.assigned_to_id
        new_status = Case.Status.ASSIGNED if case.status == Case.Status.NEW else case.status
        if not conditional_assign(
            case,
            agent.pk,
            now=now,
            expected_owner=previous,
            expected_status=case.status,
            new_status=new_status,
            require_available=False,
        ):
            raise _refused_reason(case, agent.pk, previous, case.status)
        after_assignment(
            case,
            agent.pk,
            now=now,
            by=by,
            mode="supervisor",
            previous_owner=previous,
            new_status=new_status,
        )
        if previous:
            queue_task("assign_agent", previous)
    return case


def requeue_case(case: Case, *, head: bool = False, actor: User | None = None) -> bool:
    """Put an open case back in its queue (``head=True``: before everything else waiting).

    Used when an agent drops (their chats go back at the head) and by callbacks to retry.
    Checked conditional update on the owner seen; False when the case moved meanwhile. Call in
    or out of a transaction; routing is queued after commit.
    """
    now = timezone.now()
    previous = case.assigned_to_id
    with transaction.atomic():
        updated = Case.objects.filter(
            pk=case.pk, assigned_to_id=previous, status__in=Case.OPEN_STATUSES
        ).update(
            assigned_to=None,
            assigned_at=None,
            status=Case.Status.NEW,
            priority=HEAD_PRIORITY if head else 0,
        )
        if updated != 1:
            return False
        old_status = case.status
        case.assigned_to_id, case.assigned_at, case.status = None, None, Case.Status.NEW
        case.priority = HEAD_PRIORITY if head else 0
        add_event(
            case,
            Event.Type.ASSIGNMENT,
            actor=actor,
            internal=True,
            body=_("Remise en tête de file.") if head else _("Remise dans la file du service."),
            payload={
                "mode": "requeued",
                "agent": None,
                "previous_agent": previous,
                "head": head,
                "from": old_status,
            },
            touch=False,
            at=now,
        )
        if previous:
            prev = previous
            transaction.on_commit(
                lambda: group_send(
                    agent_group(prev), {"type": "case.unassigned", "case_id": case.pk}
                )
            )
        queue_task("route_case", case.pk)
        if channel_group(case.channel) == "chat":
            schedule_availability_refresh([case.service_id])
    return True


def mark_fragile(case: Case, *, by: User | None = None, fragile: bool = True) -> bool:
    """Flag (or unflag) a "situation de fragilité": the case moves ahead in its queue at once
    (queue order reads the flag). Set by an agent of the case's service or by the chatbot
    (``by=None``). Conditional update; an internal note records who did it. Returns whether
    something changed."""
    if by is not None and not (
        by.is_admin_role or (by.is_staff_member and case.service_id in user_service_ids(by))
    ):
        raise ValidationError(_("Cette demande ne relève pas de vos services."), code="forbidden")
    with transaction.atomic():
        if not Case.objects.filter(pk=case.pk).exclude(fragile=fragile).update(fragile=fragile):
            return False
        case.fragile = fragile
        add_event(
            case,
            Event.Type.NOTE,
            actor=by,
            internal=True,
            body=_("Situation de fragilité signalée.")
            if fragile
            else _("Situation de fragilité levée."),
            payload={"fragile": fragile},
            touch=False,
        )
    return True


# --- Presence -----------------------------------------------------------------------------------
