"""Chat messages: checks, the payload sockets receive, broadcasting, storing a message.

``post_message`` numbers messages with a conditional counter update (see ``chat.services``);
``post_system_message`` writes the information lines (agent joined, warning, end...) in the
site's language (``in_site_language``).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from contactcenter.models import Case, User
from contactcenter.services import mark_first_response, validate_body

from ..models import ChatAttachment, ChatMessage, Conversation, group_name

if TYPE_CHECKING:
    from django.core.files.storage import Storage
    from django.core.files.uploadedfile import UploadedFile

    from contactcenter.attachments import CheckedFile


logger = logging.getLogger("guichet.chat")

MAX_CHARS = 4000
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
HISTORY_CHUNK = 200


class Notice:
    """Codes of system messages (the UI styles them; tests look for them)."""

    JOINED = "joined"
    REQUEUED = "requeued"
    TRANSFERRED = "transferred"
    WARNING = "inactivity_warning"
    LEFT = "left"
    ENDED = "ended"
    TIMEOUT = "timeout"


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


def message_frame(payload: dict[str, Any], *, duplicate: bool = False) -> str:
    """The ``message`` frame's text (docs/chat.md) for one message's payload."""
    frame: dict[str, Any] = {"type": "message", "message": payload}
    if duplicate:
        frame["duplicate"] = True
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def message_event(payload: dict[str, Any], frame: str | None = None) -> dict[str, Any]:
    """The channel-layer event of one message: the frame's text, serialised once by its sender
    (every socket of the conversation sends it as it is), and the few fields a socket reads
    before sending it (the number, for ``DeliveryLog``; the kind and time, for the agent's
    inactivity timer)."""
    return {
        "type": "chat.message",
        "seq": payload["seq"],
        "kind": payload["kind"],
        "created_at": payload["created_at"],
        "frame": message_frame(payload) if frame is None else frame,
    }


def publish_message(message: ChatMessage, **kwargs: Any) -> None:
    publish(message.conversation_id, message_event(message_payload(message, **kwargs)))


def publish_status(conversation: Conversation, **extra: Any) -> None:
    event = {
        "type": "chat.status",
        "status": conversation.status,
        "end_reason": conversation.end_reason,
        "agent": conversation.agent.first_name if conversation.agent is not None else "",
        **extra,
    }
    publish(conversation.pk, event)


# --- messages ----------------------------------------------------------------------------------


@dataclass
class Posted:
    message: ChatMessage
    created: bool
    payload: dict[str, Any]


def _refusal(conversation_id: int, user: User, kind: str) -> ValidationError:
    """Why a conditional counter update matched nothing: a precise, non-revealing error."""
    status = Conversation.objects.filter(pk=conversation_id).values_list("status", flat=True)
    return refusal(status.first(), kind)


def refusal(status: str | None, kind: str) -> ValidationError:
    """The refusal of a message to a conversation in ``status`` (None: no such conversation)."""
    if status is None:
        return ValidationError(_("Conversation introuvable."), code="not_found")
    if status == Conversation.Status.ENDED:
        return ValidationError(_("Cette conversation est terminée."), code="ended")
    if kind == ChatMessage.Kind.AGENT and status == Conversation.Status.WAITING:
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
                scope = Q(agent_id=sender.pk, status=Conversation.Status.ACTIVE)
                clock = {"idle_since": now, "inactivity_warned_at": None}
            # The counter update checks the sender's right to write and locks the row until
            # commit: numbers stay gapless. A resend of a stored client id fails the insert on
            # the unique (conversation, client_id) constraint, which undoes the whole block.
            # Its filter stays on the conversation's own columns: one crossing to the case
            # would make Django write "id IN (SELECT ... JOIN ...)", costly to build and run.
            updated = Conversation.objects.filter(scope, pk=conversation_id).update(
                last_seq=F("last_seq") + 1, **clock
            )
            if updated != 1:
                raise _refusal(conversation_id, sender, kind)
            # The new number, and for an agent the case's assignee (the rest of the right to
            # write: a refusal raised here undoes the counter update) and the first answer.
            # order_by(): the model's default ordering has no use on a primary-key lookup.
            fields = ["last_seq"]
            if kind == ChatMessage.Kind.AGENT:
                fields += ["answered_at", "case_id", "case__assigned_to_id"]
            row = Conversation.objects.filter(pk=conversation_id).order_by().values_list(*fields)[0]
            seq = row[0]
            if kind == ChatMessage.Kind.AGENT:
                answered_at, case_id, assignee_id = row[1:]
                if assignee_id != sender.pk:
                    raise _refusal(conversation_id, sender, kind)
                if answered_at is None:  # the agent's first answer (the row is locked)
                    Conversation.objects.filter(pk=conversation_id).update(answered_at=now)
                    if case_id is not None:
                        mark_first_response(Case(pk=case_id), at=now)
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
