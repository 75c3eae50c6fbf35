"""A chat's way to an agent: starting it, following routing (``sync_with_case``), transfers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from contactcenter.cases import REASON_MAX_CHARS, transfer_case
from contactcenter.exceptions import NotFound
from contactcenter.models import Case, Channel, Event, Topic, User
from contactcenter.services import add_event, change_status, open_case, validate_body

from ..models import ChatMessage, Conversation
from .access import lock_agent_conversation, open_conversation_of, queue_status
from .messages import (
    CLIENT_ID_RE,
    Notice,
    check_body,
    in_site_language,
    new_client_id,
    post_system_message,
    publish_status,
)

if TYPE_CHECKING:
    from contactcenter.models import Service

logger = logging.getLogger("guichet.chat")


class ChatUnavailable(ValidationError):
    """No agent can take the topic right now (the page then offers a message or a callback)."""


def chat_available(topic: Topic) -> bool:
    from routing import chat_available as routing_chat_available

    return bool(routing_chat_available(topic))


def handoff_context(chatbot_conversation: int | str | None, citizen: User) -> str:
    """The assistant conversation a citizen was handed off from, as text ("" if not theirs)."""
    if not chatbot_conversation:
        return ""
    try:
        from knowledge.services import handoff_transcript
    except ImportError:
        return ""
    try:
        transcript = handoff_transcript(chatbot_conversation, citizen)
    except (LookupError, ValidationError, ValueError, TypeError):
        return ""
    if not transcript:
        return ""
    if isinstance(transcript, list | tuple):
        transcript = "\n".join(str(line) for line in transcript)
    return str(transcript)[: settings.GUICHET_MESSAGE_MAX_CHARS]


def _attach_handoff(chatbot_conversation: int | str, citizen: User, case: Case) -> None:
    """Let the knowledge app put the assistant conversation on the timeline, mark it handed
    off and carry its fragility detection over to the case (inside our transaction)."""
    try:
        from knowledge.services import attach_conversation_to_case
    except ImportError:
        return
    try:
        attach_conversation_to_case(chatbot_conversation, citizen, case)
    except (NotFound, LookupError, ValidationError, ValueError, TypeError):
        logger.info("chat: hand-off %s not attached to case %s", chatbot_conversation, case.pk)


def start_chat(
    citizen: User,
    topic: Topic | None,
    body: str,
    *,
    client_id: str = "",
    chatbot_conversation: str = "",
    fragile: bool = False,
) -> Conversation:
    """Open a chat case for a citizen with their first message; routing assigns it after commit.

    Refused when the citizen already has an open chat (``code="already_open"``, the error's
    ``params`` carry it) or when no agent can take the topic right now (``ChatUnavailable``).
    With a chatbot hand-off the assistant transcript becomes the first (context) message (the
    knowledge app also records it on the timeline), and ``fragile`` marks the case (the
    assistant detected a fragile situation; honoured only with a real hand-off).
    One transaction; the citizen's row is locked so that two submissions cannot open two chats.
    """
    if not citizen.is_authenticated or not citizen.is_citizen:
        raise ValidationError(_("Seul un usager peut ouvrir un tchat."), code="forbidden")
    errors: dict[str, list[str]] = {}
    if topic is None or not topic.is_active:
        errors["topic"] = [_("Choisissez un des thèmes proposés.")]
    try:
        body = check_body(body)
    except ValidationError as exc:
        errors["body"] = exc.messages
    if errors:
        raise ValidationError(errors)
    assert topic is not None  # refused above
    client_id = client_id if client_id and CLIENT_ID_RE.match(client_id) else new_client_id()
    context = handoff_context(chatbot_conversation, citizen)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=citizen.pk).first()
        existing = open_conversation_of(citizen)
        if existing is not None:
            raise ValidationError(
                _("Vous avez déjà un tchat en cours."),
                code="already_open",
                params={"conversation": existing.pk},
            )
        if not chat_available(topic):
            raise ChatUnavailable(
                {
                    "topic": [
                        _(
                            "Aucun agent n'est disponible pour ce thème en ce moment. Vous "
                            "pouvez envoyer un message sécurisé ou demander à être rappelé."
                        )
                    ]
                }
            )
        case, first_event = open_case(
            citizen=citizen,
            topic=topic,
            kind=Case.Kind.QUESTION,
            channel=Channel.CHAT,
            subject=_("Tchat : %(topic)s") % {"topic": topic.title},
            first_event_type=Event.Type.CHAT,
            body=body,
            actor=citizen,
            payload={"phase": "started"},
            fragile=bool(fragile and context),
        )
        conversation = Conversation.objects.create(
            case=case,
            citizen=citizen,
            chatbot_conversation=str(chatbot_conversation or "")[:64] if context else "",
            created_at=case.created_at,
        )
        Event.objects.filter(pk=first_event.pk).update(
            payload={"phase": "started", "conversation": conversation.pk}
        )
        seq = 0
        if context:
            _attach_handoff(chatbot_conversation, citizen, case)
            seq += 1
            ChatMessage.objects.create(
                conversation=conversation,
                seq=seq,
                client_id=f"ctx-{new_client_id()}",
                kind=ChatMessage.Kind.CONTEXT,
                body=context,
                created_at=first_event.created_at,
            )
        seq += 1
        ChatMessage.objects.create(
            conversation=conversation,
            seq=seq,
            client_id=client_id,
            kind=ChatMessage.Kind.CITIZEN,
            sender=citizen,
            body=body,
            created_at=first_event.created_at,
        )
        Conversation.objects.filter(pk=conversation.pk).update(last_seq=seq)
        conversation.last_seq = seq
    return conversation


# --- routing events ----------------------------------------------------------------------------


REQUEUE_TEXTS = {
    Notice.REQUEUED: gettext_noop("Un autre agent va vous répondre. Merci de patienter."),
    Notice.TRANSFERRED: gettext_noop(
        "Votre conversation est confiée à un autre agent, qui verra vos échanges. "
        "Merci de patienter."
    ),
}


@in_site_language
def sync_with_case(case_id: int, hint: str = Notice.REQUEUED) -> Conversation | None:
    """Align a conversation with its case after routing acted (assigned, requeued, transferred).

    - case back in the queue (no owner) while the chat was active: the chat waits again and the
      citizen is told "un autre agent va vous répondre" (``hint``: requeued or transferred);
    - case assigned to a new agent: the chat becomes active with them ("Alice a rejoint..."),
      after the "another agent" line if the previous agent's departure was not announced yet.
    Idempotent (safe to call for every routing signal). One transaction, conversation locked.
    """
    hint = hint if hint in REQUEUE_TEXTS else Notice.REQUEUED
    with transaction.atomic():
        try:
            conversation = Conversation.objects.select_for_update().get(case_id=case_id)
        except Conversation.DoesNotExist:
            return None
        if conversation.is_ended:
            return conversation
        case = Case.objects.select_related("assigned_to").get(pk=case_id)
        owner = case.assigned_to
        if owner is None or not case.is_open:
            if conversation.status == Conversation.Status.ACTIVE:
                conversation.status = Conversation.Status.WAITING
                conversation.idle_since = None
                conversation.inactivity_warned_at = None
                conversation.save(update_fields=["status", "idle_since", "inactivity_warned_at"])
                post_system_message(conversation, hint, _(REQUEUE_TEXTS[hint]))
                publish_status(conversation, **queue_status(case))
            return conversation
        if owner.pk == conversation.agent_id and conversation.status == Conversation.Status.ACTIVE:
            return conversation
        if not owner.is_agent:
            return conversation
        previous = conversation.agent_id
        conversation.agent = owner
        conversation.status = Conversation.Status.ACTIVE
        conversation.idle_since = None
        conversation.inactivity_warned_at = None
        conversation.save(update_fields=["agent", "status", "idle_since", "inactivity_warned_at"])
        if (
            previous
            and previous != owner.pk
            and not _last_notice_is(conversation, (Notice.REQUEUED, Notice.TRANSFERRED))
        ):
            post_system_message(conversation, Notice.REQUEUED, _(REQUEUE_TEXTS[Notice.REQUEUED]))
        post_system_message(
            conversation,
            Notice.JOINED,
            _("%(name)s a rejoint la conversation.") % {"name": owner.first_name or _("Un agent")},
        )
        if case.status in (Case.Status.NEW, Case.Status.ASSIGNED):
            change_status(case, Case.Status.IN_PROGRESS, actor=owner, internal=True)
        publish_status(conversation)
    return conversation


def _last_notice_is(conversation: Conversation, notices: tuple[str, ...]) -> bool:
    last = (
        ChatMessage.objects.filter(conversation=conversation, kind=ChatMessage.Kind.SYSTEM)
        .order_by("-seq")
        .values_list("client_id", flat=True)
        .first()
    )
    if not last:
        return False
    return any(last.startswith(f"sys-{notice}-") for notice in notices)


# --- transfers ---------------------------------------------------------------------------------


TRANSFER_REASON_MAX_CHARS = REASON_MAX_CHARS


def transfer(
    conversation_id: int,
    agent: User,
    *,
    reason: str,
    to_service: Service | None = None,
    to_agent: User | None = None,
    to_topic: Topic | None = None,
) -> Conversation:
    """Hand a live chat over: to another agent of the same service (the chat goes back to the
    queue, routing picks someone else first) or to another service
    (``contactcenter.cases.transfer_case``, optionally to a named agent of that service, with
    ``to_topic`` of that service). The conversation keeps its whole history; the citizen is told
    that another agent will answer (see ``sync_with_case``, triggered by the timeline event
    after commit). One transaction.
    """
    from routing import release_case

    try:
        reason = validate_body(reason, max_chars=TRANSFER_REASON_MAX_CHARS)
    except ValidationError:
        raise ValidationError(
            {
                "reason": [
                    _("Indiquez le motif du transfert (%(max)s caractères au maximum).")
                    % {"max": TRANSFER_REASON_MAX_CHARS}
                ]
            }
        )
    with transaction.atomic():
        conversation = lock_agent_conversation(conversation_id, agent)
        if conversation.status != Conversation.Status.ACTIVE:
            raise ValidationError(
                _("Seule une conversation en cours peut être transférée."), code="not_active"
            )
        case = conversation.case
        if to_service is None or to_service.pk == case.service_id:
            if to_agent is not None:
                raise ValidationError(
                    {
                        "to_agent": [
                            _(
                                "Pour confier le tchat à un agent nommé, choisissez son "
                                "service ; dans votre service, le tchat revient à la file."
                            )
                        ]
                    }
                )
            add_event(
                case,
                Event.Type.NOTE,
                actor=agent,
                internal=True,
                body=_("Tchat remis à la file : %(reason)s") % {"reason": reason},
                touch=False,
            )
            release_case(agent, case)
        else:
            transfer_case(
                case,
                to_service=to_service,
                reason=reason,
                by=agent,
                to_agent=to_agent,
                to_topic=to_topic,
            )
    conversation.refresh_from_db()
    return conversation
