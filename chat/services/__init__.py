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

Modules: ``messages`` (checks, payloads, broadcasting, ``post_message``, system lines),
``access`` (roles in a conversation, first frame, queue position, the agent's chats),
``lifecycle`` (``start_chat``, ``sync_with_case`` after routing, ``transfer``) and ``ending``
(``end_conversation``, summary, inactivity). This package exports their public API.
"""

from __future__ import annotations

from .access import (
    Access,
    access_for,
    access_to,
    agent_conversations,
    audit_access,
    conversation_state,
    may_still_write,
    open_conversation_of,
    queue_status,
)
from .batch import Draft, post_messages
from .ending import (
    check_inactivity,
    check_summary,
    end_conversation,
    finish_with_summary,
    inactive_conversation_ids,
    inactivity_due,
    inactivity_end_seconds,
    inactivity_warn_seconds,
    leave,
    transcript_text,
)
from .lifecycle import (
    TRANSFER_REASON_MAX_CHARS,
    ChatUnavailable,
    chat_available,
    handoff_context,
    start_chat,
    sync_with_case,
    transfer,
)
from .messages import (
    HISTORY_CHUNK,
    MAX_CHARS,
    DuplicateMessage,
    Notice,
    Posted,
    check_body,
    check_client_id,
    citizen_is_active,
    mark_read,
    message_event,
    message_frame,
    message_payload,
    messages_after,
    new_client_id,
    post_message,
    post_system_message,
    publish,
    publish_now,
)

__all__ = [
    "HISTORY_CHUNK",
    "MAX_CHARS",
    "TRANSFER_REASON_MAX_CHARS",
    "Access",
    "ChatUnavailable",
    "Draft",
    "DuplicateMessage",
    "Notice",
    "Posted",
    "access_for",
    "access_to",
    "audit_access",
    "agent_conversations",
    "chat_available",
    "check_body",
    "check_client_id",
    "check_inactivity",
    "check_summary",
    "citizen_is_active",
    "conversation_state",
    "end_conversation",
    "finish_with_summary",
    "handoff_context",
    "inactive_conversation_ids",
    "inactivity_due",
    "inactivity_end_seconds",
    "inactivity_warn_seconds",
    "leave",
    "mark_read",
    "may_still_write",
    "message_event",
    "message_frame",
    "message_payload",
    "messages_after",
    "new_client_id",
    "open_conversation_of",
    "post_message",
    "post_messages",
    "post_system_message",
    "publish",
    "publish_now",
    "queue_status",
    "start_chat",
    "sync_with_case",
    "transcript_text",
    "transfer",
]
