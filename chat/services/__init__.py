"""Live chat business logic: start a chat, store messages, follow routing, end and summarise.

Every function validates first, then writes in one transaction. Nothing is announced before it
is stored: broadcasts to the conversation's channel-layer group are queued with
``transaction.on_commit`` (``publish``), or — on the websocket hot path — sent by the consumer
once ``post_message`` has returned, i.e. after its transaction committed.

Sequence numbers: ``post_message`` increments ``Conversation.last_seq`` with a conditional
``UPDATE`` that also checks that the sender may still write (the citizen of an open chat, the
agent of an active one). On PostgreSQL the row stays locked until commit, so concurrent senders
of one conversation serialise, numbers have no gap or repeat, and the ``client_id`` check that
follows cannot race (the unique constraint is the last line of defence).
"""

from __future__ import annotations

import functools
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from contactcenter.cases import REASON_MAX_CHARS, transfer_case
from contactcenter.exceptions import NotFound
from contactcenter.models import Case, Channel, Event, Topic, User
from contactcenter.permissions import can_see_case, record_access
from contactcenter.services import (
    add_event,
    change_status,
    check_message_body,
    mark_first_response,
    open_case,
    post_staff_message,
    validate_body,
)

from .models import ChatAttachment, ChatMessage, Conversation, group_name

if TYPE_CHECKING:
    from django.core.files.storage import Storage
    from django.core.files.uploadedfile import UploadedFile

    from contactcenter.attachments import CheckedFile
    from contactcenter.models import Service

logger = logging.getLogger("guichet.chat")

MAX_CHARS = 4000
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
HISTORY_CHUNK = 200


def inactivity_warn_seconds() -> int:
    return getattr(settings, "GUICHET_CHAT_INACTIVITY_WARN_SECONDS", 5 * 60)


def inactivity_end_seconds() -> int:
    return getattr(settings, "GUICHET_CHAT_INACTIVITY_END_SECONDS", 10 * 60)


class Notice:
    """Codes of system messages (the UI styles them; tests look for them)."""

    JOINED = "joined"
    REQUEUED = "requeued"
    TRANSFERRED = "transferred"
    WARNING = "inactivity_warning"
    LEFT = "left"
    ENDED = "ended"
    TIMEOUT = "timeout"


class ChatUnavailable(ValidationError):
    """No agent can take the topic right now (the page then offers a message or a callback)."""


class DuplicateMessage(Exception):
    """The client id was already stored: carries the stored message."""

    def __init__(self, message: ChatMessage):
        super().__init__(message.client_id)
        self.message = message


# --- checks ------------------------------------------------------------------------------------


def check_body(body: str | None, *, allow_empty: bool = False) -> str:
    """1 to 4,000 characters once trimmed; NUL characters (refused by PostgreSQL) removed."""
    if not isinstance(body, str):
        raise ValidationError(_("Le message doit être du texte."), code="invalid")
    body = body.replace("\x00", "")
    if allow_empty and not body.strip():
        return ""
    return validate_body(body, max_chars=MAX_CHARS)


def check_client_id(value: str | None) -> str:
    if not isinstance(value, str) or not CLIENT_ID_RE.match(value):
        raise ValidationError(
            _("Identifiant de message invalide (8 à 64 caractères alphanumériques)."),
            code="invalid_client_id",
        )
    return value


def new_client_id() -> str:
    return uuid.uuid4().hex


def open_conversation_of(citizen: User) -> Conversation | None:
    return (
        Conversation.objects.filter(citizen=citizen, status__in=Conversation.OPEN_STATUSES)
        .select_related("case")
        .first()
    )


# --- access ------------------------------------------------------------------------------------


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
    if audit and role != "citizen":
        record_access(
            user,
            "view_case",
            case=case,
            reason="Tchat" if role == "agent" else "Observation d'un tchat",
            detail={"conversation": conversation.pk, "role": role},
        )
    return Access(role=role, conversation_id=conversation.pk, case_id=case.pk, user_id=user.pk)


def may_still_write(access: Access) -> bool:
    """Re-check an agent's right (routing may have taken the chat back since they joined)."""
    if access.role == "citizen":
        return True
    if access.role != "agent":
        return False
    return Conversation.objects.filter(
        pk=access.conversation_id, agent_id=access.user_id, case__assigned_to_id=access.user_id
    ).exists()


# --- serialisation -----------------------------------------------------------------------------


def author_name(message: ChatMessage, sender: User | None) -> str:
    if message.kind == ChatMessage.Kind.AGENT and sender is not None:
        return sender.first_name or _("Agent")
    if message.kind == ChatMessage.Kind.CITIZEN and sender is not None:
        return sender.get_full_name() or sender.email
    if message.kind == ChatMessage.Kind.CONTEXT:
        return _("Assistant virtuel")
    return ""


def attachment_url(conversation_id: int, attachment: ChatAttachment) -> str:
    return reverse("chat:attachment", args=[conversation_id, attachment.public_id])


def message_payload(
    message: ChatMessage,
    *,
    sender: User | None = None,
    attachments: list[ChatAttachment] | None = None,
    notice: str = "",
) -> dict[str, Any]:
    """What every socket of the conversation receives for one message (plain data, no HTML)."""
    if sender is None and message.sender_id:
        sender = message.sender
    if attachments is None:
        attachments = list(message.attachments.all()) if message.pk else []
    return {
        "seq": message.seq,
        "client_id": message.client_id,
        "kind": message.kind,
        "author": author_name(message, sender),
        "body": message.body,
        "created_at": message.created_at.isoformat(),
        "notice": notice or message_notice(message),
        "attachments": [
            {
                "name": a.original_name,
                "size": a.size,
                "content_type": a.content_type,
                "url": attachment_url(message.conversation_id, a),
            }
            for a in attachments
        ],
    }


def message_notice(message: ChatMessage) -> str:
    if message.kind == ChatMessage.Kind.SYSTEM and message.client_id.startswith("sys-"):
        return message.client_id.split("-", 2)[1]
    return ""


def messages_after(
    conversation_id: int, last_seq: int, limit: int | None = None
) -> list[dict[str, Any]]:
    """Messages with ``seq > last_seq``, in order, ready to send (a reconnecting client)."""
    queryset = (
        ChatMessage.objects.filter(conversation_id=conversation_id, seq__gt=last_seq)
        .select_related("sender")
        .prefetch_related("attachments")
        .order_by("seq")
    )
    if limit:
        queryset = queryset[:limit]
    return [message_payload(m) for m in queryset]


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


# --- broadcasting ------------------------------------------------------------------------------


def publish_now(conversation_id: int, event: dict[str, Any]) -> None:
    """Send one event to a conversation's group (sync code; outside any transaction)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(conversation_id), event)
    except Exception:  # noqa: BLE001 - stored already; clients catch up when they resync
        logger.exception("chat: broadcast to conversation %s failed", conversation_id)


def publish(conversation_id: int, event: dict[str, Any]) -> None:
    """Broadcast once the current transaction commits (immediately when there is none)."""
    transaction.on_commit(lambda: publish_now(conversation_id, event))


def publish_message(message: ChatMessage, **kwargs: Any) -> None:
    publish(
        message.conversation_id,
        {"type": "chat.message", "message": message_payload(message, **kwargs)},
    )


def publish_status(conversation: Conversation, **extra: Any) -> None:
    event = {
        "type": "chat.status",
        "status": conversation.status,
        "end_reason": conversation.end_reason,
        "agent": conversation.agent.first_name if conversation.agent is not None else "",
        **extra,
    }
    publish(conversation.pk, event)


# --- starting a chat ---------------------------------------------------------------------------


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


# --- messages ----------------------------------------------------------------------------------


@dataclass
class Posted:
    message: ChatMessage
    created: bool
    payload: dict[str, Any]


def _refusal(conversation_id: int, user: User, kind: str) -> ValidationError:
    """Why a conditional counter update matched nothing: a precise, non-revealing error."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        return ValidationError(_("Conversation introuvable."), code="not_found")
    if conversation.is_ended:
        return ValidationError(_("Cette conversation est terminée."), code="ended")
    if kind == ChatMessage.Kind.AGENT and conversation.status == Conversation.Status.WAITING:
        return ValidationError(
            _("Cette conversation a été remise en file d'attente."), code="not_assigned"
        )
    return ValidationError(_("Vous ne participez plus à cette conversation."), code="forbidden")


def post_message(
    conversation_id: int,
    sender: User,
    body: str,
    client_id: str,
    *,
    files: Sequence[UploadedFile] = (),
    checked: Sequence[CheckedFile] = (),
) -> Posted:
    """Store one citizen or agent message with the next sequence number; return it.

    A ``client_id`` already stored in the conversation raises ``DuplicateMessage`` carrying
    the stored message (a resend counts once). ``files`` must have been checked by the caller
    (``checked`` are their ``contactcenter.attachments.CheckedFile`` results, whose bytes
    are the ones stored).
    One transaction; the conversation row is locked by the counter update until commit.
    The caller broadcasts the returned payload after this function returns (it has committed).
    """
    kind = ChatMessage.Kind.CITIZEN if sender.is_citizen else ChatMessage.Kind.AGENT
    body = check_body(body, allow_empty=bool(files))
    client_id = check_client_id(client_id)
    now = timezone.now()
    stored_paths: list[tuple[Storage, str]] = []
    try:
        with transaction.atomic():
            if kind == ChatMessage.Kind.CITIZEN:
                scope = Q(citizen_id=sender.pk, status__in=Conversation.OPEN_STATUSES)
                clock: dict[str, Any] = {"idle_since": None, "inactivity_warned_at": None}
            else:
                scope = Q(
                    agent_id=sender.pk,
                    status=Conversation.Status.ACTIVE,
                    case__assigned_to_id=sender.pk,
                )
                clock = {
                    "idle_since": now,
                    "inactivity_warned_at": None,
                    "answered_at": Coalesce(F("answered_at"), Value(now)),
                }
            # The counter update checks the sender's right to write and locks the row until
            # commit: numbers stay gapless. A resend of a stored client id fails the insert on
            # the unique (conversation, client_id) constraint, which undoes the whole block.
            updated = Conversation.objects.filter(Q(pk=conversation_id) & scope).update(
                last_seq=F("last_seq") + 1, **clock
            )
            if updated != 1:
                raise _refusal(conversation_id, sender, kind)
            seq, answered_at, case_id = Conversation.objects.filter(pk=conversation_id).values_list(
                "last_seq", "answered_at", "case_id"
            )[0]
            message = ChatMessage.objects.create(
                conversation_id=conversation_id,
                seq=seq,
                client_id=client_id,
                kind=kind,
                sender=sender,
                body=body,
                created_at=now,
            )
            attachments = []
            for _upload, info in zip(files, checked, strict=True):
                attachment = ChatAttachment(
                    message=message,
                    original_name=info.name,
                    content_type=info.content_type,
                    size=info.size,
                    sha256=info.sha256,
                )
                # The checked bytes (re-encoded image, validated PDF), never the raw upload.
                attachment.file.save(attachment.extension, info.as_file(), save=False)
                stored_paths.append((attachment.file.storage, attachment.file.name))
                attachment.save()
                attachments.append(attachment)
            if kind == ChatMessage.Kind.AGENT and answered_at == now and case_id is not None:
                mark_first_response(Case(pk=case_id), at=now)
    except IntegrityError:
        # A concurrent resend won the unique (conversation, client_id) race.
        for storage, path in stored_paths:
            storage.delete(path)
        existing = (
            ChatMessage.objects.filter(conversation_id=conversation_id, client_id=client_id)
            .select_related("sender")
            .first()
        )
        if existing is None:
            raise
        raise DuplicateMessage(existing)
    except BaseException:
        for storage, path in stored_paths:
            storage.delete(path)
        raise
    return Posted(
        message=message,
        created=True,
        payload=message_payload(message, sender=sender, attachments=attachments),
    )


def post_system_message(conversation: Conversation, notice: str, body: str) -> ChatMessage:
    """Store an information line (agent joined, warning, end...) and broadcast it after commit.

    Call inside the caller's transaction, with the conversation row locked by the caller.
    """
    Conversation.objects.filter(pk=conversation.pk).update(last_seq=F("last_seq") + 1)
    seq = Conversation.objects.filter(pk=conversation.pk).values_list("last_seq", flat=True)[0]
    conversation.last_seq = seq
    message = ChatMessage.objects.create(
        conversation=conversation,
        seq=seq,
        client_id=f"sys-{notice}-{new_client_id()}",
        kind=ChatMessage.Kind.SYSTEM,
        body=body,
    )
    publish_message(message, attachments=[])
    return message


def mark_read(conversation_id: int, role: str, seq: int | str) -> int | None:
    """Move the reader's read mark forward (never back, never past the last message).

    Returns the new mark, or None when nothing changed. One conditional update.
    """
    if role not in ("citizen", "agent"):
        return None
    try:
        seq = int(seq)
    except (TypeError, ValueError):
        raise ValidationError(_("Numéro de message invalide."), code="invalid_seq")
    field = f"{role}_read_seq"
    updated = Conversation.objects.filter(
        **{"pk": conversation_id, f"{field}__lt": seq, "last_seq__gte": seq}
    ).update(**{field: seq})
    return seq if updated else None


def citizen_is_active(conversation_id: int) -> None:
    """The citizen is typing: push the inactivity clock forward (no-op when it is not running)."""
    Conversation.objects.filter(
        pk=conversation_id, status=Conversation.Status.ACTIVE, idle_since__isnull=False
    ).update(idle_since=timezone.now(), inactivity_warned_at=None)


# --- routing events ----------------------------------------------------------------------------


def queue_status(case: Case) -> dict[str, Any]:
    """Position in the queue and estimated wait, from routing."""
    from routing import queue_position

    try:
        position, wait = queue_position(case)
    except Exception:  # noqa: BLE001 - a display hint must never break the chat
        logger.exception("chat: queue position of case %s failed", case.pk)
        return {"position": None, "wait_seconds": None}
    return {"position": position, "wait_seconds": wait}


REQUEUE_TEXTS = {
    Notice.REQUEUED: gettext_noop("Un autre agent va vous répondre. Merci de patienter."),
    Notice.TRANSFERRED: gettext_noop(
        "Votre conversation est confiée à un autre agent, qui verra vos échanges. "
        "Merci de patienter."
    ),
}


_P = ParamSpec("_P")
_R = TypeVar("_R")


def in_site_language(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Stored information lines are shared by both sides: write them in the site's language,
    whatever the language of the request that triggered them."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with translation.override(settings.LANGUAGE_CODE):
            return func(*args, **kwargs)

    return wrapper


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


# --- ending ------------------------------------------------------------------------------------


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

    The summary goes to the citizen's secure messaging
    (``contactcenter.services.post_staff_message``: a message on the case and a content-free
    notification after commit). Only the agent who
    handled the chat, still owner of the case, may do it, once. One transaction.
    """
    summary = check_summary(summary)
    with transaction.atomic():
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
            raise ValidationError(
                _("Cette conversation ne vous est pas attribuée."), code="forbidden"
            )
        if conversation.summary_sent_at is not None:
            raise ValidationError(
                _("La synthèse de cette conversation a déjà été envoyée."), code="already_sent"
            )
        if conversation.is_open:
            end_conversation(conversation.pk, reason=Conversation.EndReason.AGENT, actor=agent)
        case = Case.objects.get(pk=conversation.case_id)
        post_staff_message(case, agent, summary)
        Conversation.objects.filter(pk=conversation.pk).update(summary_sent_at=timezone.now())
        conversation.refresh_from_db()
    return conversation


def leave(conversation_id: int, citizen: User) -> bool:
    """The citizen leaves their chat. Idempotent."""
    if not Conversation.objects.filter(pk=conversation_id, citizen_id=citizen.pk).exists():
        raise ValidationError(_("Conversation introuvable."), code="not_found")
    return end_conversation(conversation_id, reason=Conversation.EndReason.CITIZEN, actor=citizen)


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
            raise ValidationError(
                _("Cette conversation ne vous est pas attribuée."), code="forbidden"
            )
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
