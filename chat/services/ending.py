"""Ending a chat (agent, citizen, inactivity), its transcript and the agent's summary."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from contactcenter.models import Case, Channel, Event, User
from contactcenter.services import add_event, change_status, check_message_body
from contactcenter.traces import post_contact_trace

from ..models import ChatMessage, Conversation
from .access import lock_agent_conversation
from .messages import Notice, author_name, in_site_language, post_system_message, publish_status


def inactivity_warn_seconds() -> int:
    return getattr(settings, "GUICHET_CHAT_INACTIVITY_WARN_SECONDS", 5 * 60)


def inactivity_end_seconds() -> int:
    return getattr(settings, "GUICHET_CHAT_INACTIVITY_END_SECONDS", 10 * 60)


def transcript_text(conversation: Conversation) -> str:
    """The conversation as plain text for the case timeline (without the assistant context)."""
    lines = []
    messages = (
        conversation.messages.exclude(kind=ChatMessage.Kind.CONTEXT)
        .select_related("sender")
        .prefetch_related("attachments")
        .order_by("seq")
    )
    for message in messages:
        at = date_format(timezone.localtime(message.created_at), "H:i")
        who = author_name(message, message.sender) or _("Information")
        text = message.body
        names = ", ".join(a.original_name for a in message.attachments.all())
        if names:
            text = (text + " " if text else "") + _("[pièce jointe : %(names)s]") % {"names": names}
        lines.append(f"[{at}] {who} : {text}")
    return "\n".join(lines)


END_TEXTS: dict[str, tuple[str, str]] = {
    Conversation.EndReason.AGENT: (
        Notice.ENDED,
        gettext_noop("%(name)s a mis fin à la conversation."),
    ),
    Conversation.EndReason.CITIZEN: (
        Notice.LEFT,
        gettext_noop("%(name)s a quitté la conversation."),
    ),
    Conversation.EndReason.INACTIVITY: (
        Notice.TIMEOUT,
        gettext_noop("La conversation est terminée faute de réponse depuis %(minutes)s minutes."),
    ),
}


@in_site_language
def end_conversation(conversation_id: int, *, reason: str, actor: User | None = None) -> bool:
    """End a chat (idempotent: False if it had already ended).

    Writes the closing line, the transcript on the case timeline (event ``chat``, visible in
    "Mon historique") and moves the case on: ``answered`` when an agent took part (the citizen
    may rate it; the agent still writes the summary), ``closed`` without follow-up when the
    citizen left before any agent joined. Leaving the agent's active statuses frees their chat
    slot (routing reacts to the status event). One transaction, conversation locked.
    """
    if reason not in Conversation.EndReason.values:
        raise ValidationError(_("Motif de fin inconnu."), code="invalid_reason")
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("case", "agent")
            .filter(pk=conversation_id)
            .first()
        )
        if conversation is None or conversation.is_ended:
            return False
        now = timezone.now()
        notice, template = END_TEXTS[reason]
        name = ""
        if actor is not None:
            name = actor.first_name if actor.is_staff_member else actor.get_full_name()
        text = _(template) % {
            "name": name or _("Votre interlocuteur"),
            "minutes": inactivity_end_seconds() // 60,
        }
        post_system_message(conversation, notice, text)
        conversation.status = Conversation.Status.ENDED
        conversation.ended_at = now
        conversation.end_reason = reason
        conversation.idle_since = None
        conversation.save(update_fields=["status", "ended_at", "end_reason", "idle_since"])
        case = Case.objects.select_for_update().get(pk=conversation.case_id)
        add_event(
            case,
            Event.Type.CHAT,
            actor=None,
            channel=Channel.CHAT,
            body=transcript_text(conversation),
            payload={
                "phase": "transcript",
                "conversation": conversation.pk,
                "messages": conversation.last_seq,
                "end_reason": reason,
                # A chat with an agent is a contact: its summary names this event
                # (contactcenter.trace_kpis).
                **({"agent": conversation.agent_id} if conversation.agent_id else {}),
            },
            at=now,
        )
        agent_id = conversation.agent_id if conversation.agent_id else None
        if agent_id and case.status not in (Case.Status.ANSWERED, Case.Status.CLOSED):
            change_status(case, Case.Status.ANSWERED, actor=actor, internal=True)
        elif not agent_id and case.status != Case.Status.CLOSED:
            change_status(
                case, Case.Status.CLOSED, actor=actor, resolution=Case.Resolution.NO_FOLLOW_UP
            )
        publish_status(conversation)
    return True


def check_summary(summary: str | None) -> str:
    return check_message_body(summary)


def finish_with_summary(conversation_id: int, agent: User, summary: str) -> Conversation:
    """The agent ends the chat (if still open) and sends the written summary.

    The summary goes to the citizen's secure messaging as the chat's written trace
    (``contactcenter.traces.post_contact_trace``: a message on the case naming the chat's
    transcript event, and a content-free notification after commit). Only the agent who
    handled the chat, still owner of the case, may do it, once. One transaction.
    """
    summary = check_summary(summary)
    with transaction.atomic():
        conversation = lock_agent_conversation(conversation_id, agent)
        if conversation.summary_sent_at is not None:
            raise ValidationError(
                _("La synthèse de cette conversation a déjà été envoyée."), code="already_sent"
            )
        if conversation.is_open:
            end_conversation(conversation.pk, reason=Conversation.EndReason.AGENT, actor=agent)
        case = Case.objects.get(pk=conversation.case_id)
        transcript = (
            Event.objects.filter(
                case_id=case.pk,
                type=Event.Type.CHAT,
                payload__phase="transcript",
                payload__conversation=conversation.pk,
            )
            .order_by("-id")
            .first()
        )
        post_contact_trace(case, agent, summary, Channel.CHAT, contact=transcript)
        Conversation.objects.filter(pk=conversation.pk).update(summary_sent_at=timezone.now())
        conversation.refresh_from_db()
    return conversation


def leave(conversation_id: int, citizen: User) -> bool:
    """The citizen leaves their chat. Idempotent."""
    if not Conversation.objects.filter(pk=conversation_id, citizen_id=citizen.pk).exists():
        raise ValidationError(_("Conversation introuvable."), code="not_found")
    return end_conversation(conversation_id, reason=Conversation.EndReason.CITIZEN, actor=citizen)


# --- inactivity --------------------------------------------------------------------------------


@in_site_language
def check_inactivity(conversation_id: int, now: datetime | None = None) -> str | None:
    """Warn an inactive citizen after 5 minutes, end the chat after 10. Idempotent.

    Returns "warned", "ended" or None. The warning is claimed with a conditional update on
    ``inactivity_warned_at`` so that two sweeps never warn twice.
    """
    now = now or timezone.now()
    warn_before = now - timedelta(seconds=inactivity_warn_seconds())
    end_before = now - timedelta(seconds=inactivity_end_seconds())
    conversation = Conversation.objects.filter(
        pk=conversation_id, status=Conversation.Status.ACTIVE, idle_since__isnull=False
    ).first()
    if conversation is None:
        return None
    idle_since = conversation.idle_since
    assert idle_since is not None  # selected on idle_since__isnull=False
    if idle_since <= end_before:
        ended = end_conversation(conversation.pk, reason=Conversation.EndReason.INACTIVITY)
        return "ended" if ended else None
    if idle_since <= warn_before and conversation.inactivity_warned_at is None:
        with transaction.atomic():
            claimed = Conversation.objects.filter(
                pk=conversation.pk,
                status=Conversation.Status.ACTIVE,
                idle_since=conversation.idle_since,
                inactivity_warned_at__isnull=True,
            ).update(inactivity_warned_at=now)
            if claimed != 1:
                return None  # the citizen answered, or another sweep got there first
            Conversation.objects.select_for_update().filter(pk=conversation.pk).first()
            left = inactivity_end_seconds() - inactivity_warn_seconds()
            post_system_message(
                conversation,
                Notice.WARNING,
                _(
                    "Êtes-vous toujours là ? Sans réponse de votre part, la conversation se "
                    "terminera dans %(minutes)s minutes."
                )
                % {"minutes": max(1, left // 60)},
            )
        return "warned"
    return None


def inactivity_due(conversation_id: int, now: datetime | None = None) -> datetime | None:
    """Run the inactivity check, then return when the next one falls due (None: no clock)."""
    now = now or timezone.now()
    check_inactivity(conversation_id, now=now)
    row = (
        Conversation.objects.filter(
            pk=conversation_id, status=Conversation.Status.ACTIVE, idle_since__isnull=False
        )
        .values("idle_since", "inactivity_warned_at")
        .first()
    )
    if row is None:
        return None
    limit = inactivity_end_seconds() if row["inactivity_warned_at"] else inactivity_warn_seconds()
    idle_since: datetime | None = row["idle_since"]
    assert idle_since is not None  # selected on idle_since__isnull=False
    return idle_since + timedelta(seconds=limit)


def inactive_conversation_ids(now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    warn_before = now - timedelta(seconds=inactivity_warn_seconds())
    return list(
        Conversation.objects.filter(
            status=Conversation.Status.ACTIVE, idle_since__lte=warn_before
        ).values_list("pk", flat=True)
    )
