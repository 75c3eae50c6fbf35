"""Who takes part in a conversation and in which role; what a socket receives first."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from contactcenter.models import Case, User
from contactcenter.permissions import can_see_case, record_access

from ..models import Conversation
from .messages import MAX_CHARS

logger = logging.getLogger("guichet.chat")


def open_conversation_of(citizen: User) -> Conversation | None:
    return (
        Conversation.objects.filter(citizen=citizen, status__in=Conversation.OPEN_STATUSES)
        .select_related("case")
        .first()
    )


@dataclass(frozen=True)
class Access:
    """Who is on a socket, in which role: ``citizen``, ``agent`` (writes) or ``observer``."""

    role: str
    conversation_id: int
    case_id: int
    user_id: int

    @property
    def can_write(self) -> bool:
        return self.role in ("citizen", "agent")


def access_for(user: User, conversation_id: int, *, audit: bool = True) -> Access | None:
    """The role of ``user`` in a conversation, or None (then: not found, never 'forbidden').

    A citizen joins their own chat; an agent only a chat assigned to them; a supervisor (or an
    admin) of the case's service observes read-only. Staff access is written to the audit log.
    """
    if not user.is_authenticated:
        return None
    conversation = Conversation.objects.select_related("case").filter(pk=conversation_id).first()
    if conversation is None:
        return None
    return access_to(user, conversation, audit=audit)


def access_to(user: User, conversation: Conversation, *, audit: bool = True) -> Access | None:
    """``access_for`` on a conversation the caller has already read (with its case): one query
    less for a view that needs the conversation's rows anyway (the workstation's chat tab)."""
    if not user.is_authenticated:
        return None
    case = conversation.case
    role = None
    if user.is_citizen:
        role = "citizen" if conversation.citizen_id == user.pk else None
    elif user.is_agent:
        assigned = case.assigned_to_id == user.pk
        role = "agent" if assigned and conversation.agent_id == user.pk else None
    elif (user.is_supervisor or user.is_admin_role) and can_see_case(user, case):
        role = "observer"
    if role is None:
        return None
    access = Access(role=role, conversation_id=conversation.pk, case_id=case.pk, user_id=user.pk)
    if audit:
        audit_access(user, access, case)
    return access


def audit_access(user: User, access: Access, case: Case, citizen: User | None = None) -> None:
    """Write a staff member's reading of the conversation of ``case`` to the audit log (a
    citizen reading their own chat is not audited). ``citizen``: the case's citizen when the
    caller has it loaded (else read through the case)."""
    if access.role == "citizen":
        return
    record_access(
        user,
        "view_case",
        case=case,
        citizen=citizen,
        reason="Tchat" if access.role == "agent" else "Observation d'un tchat",
        detail={"conversation": access.conversation_id, "role": access.role},
    )


def lock_agent_conversation(conversation_id: int, agent: User) -> Conversation:
    """The conversation, locked until commit, when ``agent`` handles it and still owns its case
    (else ``ValidationError``, code ``forbidden``). Call inside a transaction."""
    conversation = (
        Conversation.objects.select_for_update()
        .select_related("case")
        .filter(pk=conversation_id)
        .first()
    )
    if (
        conversation is None
        or conversation.agent_id != agent.pk
        or conversation.case.assigned_to_id != agent.pk
    ):
        raise ValidationError(_("Cette conversation ne vous est pas attribuée."), code="forbidden")
    return conversation


def may_still_write(access: Access) -> bool:
    """Re-check an agent's right (routing may have taken the chat back since they joined)."""
    if access.role == "citizen":
        return True
    if access.role != "agent":
        return False
    return Conversation.objects.filter(
        pk=access.conversation_id, agent_id=access.user_id, case__assigned_to_id=access.user_id
    ).exists()


def conversation_state(conversation_id: int, role: str) -> dict[str, Any]:
    """The first frame a socket receives: status, counters, who the peer is."""
    conversation = Conversation.objects.select_related("agent", "case__topic", "citizen").get(
        pk=conversation_id
    )
    state = {
        "type": "state",
        "role": role,
        "conversation": conversation.pk,
        "status": conversation.status,
        "end_reason": conversation.end_reason,
        "last_seq": conversation.last_seq,
        "citizen_read_seq": conversation.citizen_read_seq,
        "agent_read_seq": conversation.agent_read_seq,
        "agent": conversation.agent.first_name if conversation.agent is not None else "",
        "limits": {"max_chars": MAX_CHARS, "per_second": 5},
    }
    if conversation.status == Conversation.Status.WAITING:
        state.update(queue_status(conversation.case))
    return state


def queue_status(case: Case) -> dict[str, Any]:
    """Position in the queue and estimated wait, from routing."""
    from routing import queue_position

    try:
        position, wait = queue_position(case)
    except Exception:  # noqa: BLE001 - a display hint must never break the chat
        logger.exception("chat: queue position of case %s failed", case.pk)
        return {"position": None, "wait_seconds": None}
    return {"position": position, "wait_seconds": wait}


# --- agent workspace -----------------------------------------------------------------------------


def agent_conversations(agent: User) -> QuerySet[Conversation]:
    """Chats on the agent's desk: active ones, and ended ones still waiting for a summary."""
    return (
        Conversation.objects.filter(agent=agent, summary_sent_at__isnull=True)
        .filter(
            Q(status=Conversation.Status.ACTIVE, case__assigned_to=agent)
            | Q(status=Conversation.Status.ENDED, case__assigned_to=agent)
        )
        .select_related("case", "case__topic", "citizen")
        .order_by("created_at")
    )
