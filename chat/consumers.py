"""Websocket consumers of the live chat (thin: parse, check, call services, send).

``ChatConsumer`` (``ws/tchat/<conversation id>/``): one socket per conversation and per browser
tab, for the citizen, the assigned agent and observing supervisors. ``AgentDeskConsumer``
(``ws/tchat/agent/``): the agent's workspace hears about newly assigned chats.

The protocol (JSON text frames) and the close codes are documented in ``docs/chat.md``. Every
ORM call goes through ``database_sync_to_async``; a bad frame closes the socket with a
documented code and is logged, an unexpected error is logged and answered with an error frame:
the consumer never crashes.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any, cast

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import close_old_connections
from django.utils import timezone

from contactcenter.exceptions import InvalidState, NotAllowed, NotFound
from contactcenter.models import Channel, User
from contactcenter.sockets import (  # noqa: F401  (CLOSE_FLOOD...: public names of this module)
    CLOSE_FLOOD,
    FLOOD_REFUSALS,
    RateLimiter,
    SocketGuard,
    SocketTimer,
)

from . import services, writer
from .models import Conversation, group_name

logger = logging.getLogger("guichet.chat")

# Close codes (docs/chat.md). 4xxx codes are application codes: the browser does not retry them.
CLOSE_BAD_FRAME = 4400  # not JSON, not an object, unknown or missing "type", binary frame
CLOSE_UNAUTHENTICATED = 4401  # no session, or the session ended (contactcenter.sockets)
CLOSE_FORBIDDEN = 4403  # the desk socket is for agents only
CLOSE_NOT_FOUND = 4404  # no such conversation, or not yours (existence is not disclosed)
CLOSE_REVOKED = 4410  # the agent no longer holds the chat (requeued or transferred)
CLOSE_TOO_LARGE = 4413  # frame larger than MAX_FRAME_CHARS
# 4408 (too many sockets) and 4429 (CLOSE_FLOOD: kept sending after being told to slow down):
# contactcenter.sockets, which also holds the rate limit (WEBSOCKET_LIMITS "chat": 5 frames/s).

MAX_FRAME_CHARS = 32 * 1024
POSITION_INTERVAL = 5.0
TYPING_ACTIVITY_INTERVAL = 30.0


WEBSOCKET_EVENTS = frozenset({"websocket_connect", "websocket_receive", "websocket_disconnect"})


@functools.cache
def db(func):
    """``database_sync_to_async`` for the chat services (one wrapper per function, cached).

    On PostgreSQL the calls run in a small pool of threads, each with its own connection, so
    that one slow query does not hold every socket of the process (with the default single
    "thread-sensitive" thread, a worker's database throughput is one query at a time). This is
    safe here: each service call runs its own transaction and shares no state with the others.
    SQLite (embedded default, tests) keeps the single thread: it has one writer anyway.
    """

    @functools.wraps(func)
    def call(*args, **kwargs):
        # Also inside the call's own context: with recent asgiref versions the wrapper's
        # clean-up (outside it) may not see the connection the call opened.
        close_old_connections()
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return database_sync_to_async(call, thread_sensitive=not settings.USING_POSTGRES)


def _dumps(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class DeliveryLog:
    """Sequence numbers already sent on this socket, so that no message is sent twice.

    Everything up to ``base`` was sent; ``above`` holds sent numbers past a gap (a live
    message can overtake another one that is still on its way).
    """

    def __init__(self):
        self.base = 0
        self.above: set[int] = set()

    def seen(self, seq: int) -> bool:
        return seq <= self.base or seq in self.above

    def add(self, seq: int) -> None:
        if seq <= self.base:
            return
        self.above.add(seq)
        while self.base + 1 in self.above:
            self.base += 1
            self.above.discard(self.base)

    def add_through(self, seq: int) -> None:
        """Everything up to ``seq`` is now sent (after a history replay)."""
        if seq > self.base:
            self.base = seq
            self.above = {s for s in self.above if s > seq}
            while self.base + 1 in self.above:
                self.base += 1
                self.above.discard(self.base)


class GuardedConsumer(SocketGuard, AsyncWebsocketConsumer):
    """Shared frame handling: size, JSON, type (the rate limit, the cap on sockets and the
    session tie are ``SocketGuard``'s); unknown layer events are ignored."""

    handlers: dict[str, str] = {}
    layer_handlers: frozenset[str] = frozenset()
    closing = False

    async def dispatch(self, message):
        # Only the ASGI websocket events and our own layer events reach a method; other apps
        # may publish to groups we share (agent-<id>): what we do not handle is ignored.
        # (Channels' default also closes old DB connections on every frame: our ORM calls go
        # through database_sync_to_async, which already does it.)
        try:
            name = get_handler_name(message)
        except ValueError:
            logger.warning("chat: malformed layer event ignored")
            return
        if (
            name not in self.layer_handlers
            and name not in WEBSOCKET_EVENTS
            and name not in self.guard_handlers
        ):
            logger.debug("chat: ignored layer event %s", name)
            return
        await getattr(self, name)(message)

    async def close_with(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        user = self.scope.get("user")
        logger.warning(
            "chat socket closed: code=%s reason=%s user=%s path=%s",
            code,
            reason,
            getattr(user, "pk", None),
            self.scope.get("path"),
        )
        await self.close(code=code)

    async def close_socket(self, code: int, reason: str) -> None:
        self.socket_closing = True
        await self.close_with(code, reason)

    async def frame_refused(self, message) -> None:
        client_id = None
        text = message.get("text")
        if isinstance(text, str) and len(text) <= MAX_FRAME_CHARS:
            try:
                data = json.loads(text)
            except ValueError:
                data = None
            if isinstance(data, dict) and isinstance(data.get("client_id"), str):
                client_id = data["client_id"]
        await self.send_error(
            "rate_limited",
            "Vous envoyez trop de messages : 5 par seconde au maximum.",
            client_id=client_id,
        )

    async def send_json(self, data: dict) -> None:
        await self.send_text(_dumps(data))

    async def send_text(self, text: str) -> None:
        if not self.closing:
            await self.send(text_data=text)

    async def send_error(self, code: str, message: str, **extra) -> None:
        await self.send_json({"type": "error", "code": code, "message": message, **extra})

    async def receive(self, text_data=None, bytes_data=None):
        if self.closing:
            return
        if text_data is None:
            return await self.close_with(CLOSE_BAD_FRAME, "binary frame")
        if len(text_data) > MAX_FRAME_CHARS:
            return await self.close_with(CLOSE_TOO_LARGE, f"frame of {len(text_data)} chars")
        try:
            data = json.loads(text_data)
        except ValueError:
            return await self.close_with(CLOSE_BAD_FRAME, "malformed JSON")
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            return await self.close_with(CLOSE_BAD_FRAME, "frame without a type")
        kind = data["type"]
        handler_name = self.handlers.get(kind)
        if handler_name is None:
            return await self.close_with(CLOSE_BAD_FRAME, f"unknown type {kind[:40]!r}")
        try:
            await getattr(self, handler_name)(data)
        except NotFound as exc:  # a service's domain errors close with the documented codes
            await self.close_with(CLOSE_NOT_FOUND, str(exc))
        except NotAllowed as exc:
            await self.close_with(CLOSE_FORBIDDEN, str(exc))
        except InvalidState as exc:
            await self.send_error("invalid_state", str(exc))
        except Exception:
            logger.exception("chat: %s frame failed on %s", kind, self.scope.get("path"))
            await self.send_error("server_error", "Une erreur est survenue ; réessayez.")


class ChatConsumer(GuardedConsumer):
    socket_kind = "chat"
    handlers = {
        "sync": "on_sync",
        "message": "on_message",
        "typing": "on_typing",
        "read": "on_read",
        "leave": "on_leave",
        "ping": "on_ping",
    }
    layer_handlers = frozenset({"chat_message", "chat_typing", "chat_read", "chat_status"})
    access: services.Access | None = None
    group: str | None = None
    queue_timer: SocketTimer | None = None
    idle_timer: SocketTimer | None = None

    @property
    def granted(self) -> services.Access:
        """The socket's access: set by connect() before any frame or event is handled."""
        assert self.access is not None
        return self.access

    @property
    def room(self) -> str:
        """The conversation's group: set by connect() before any frame or event is handled."""
        assert self.group is not None
        return self.group

    @property
    def user(self) -> User:
        """The signed-in user (connect() refuses anyone else)."""
        return cast(User, self.scope["user"])

    async def connect(self):
        self.access = None
        self.group = None
        self.delivered = DeliveryLog()
        self.status = None
        self.last_activity_push = 0.0
        self.last_position = None
        # Accept first: a close code sent before the handshake would reach the browser as a
        # bare HTTP 403, and the page could not tell why.
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return await self.close_with(CLOSE_UNAUTHENTICATED, "not authenticated")
        conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])
        self.access = await db(services.access_for)(user, conversation_id)
        if self.access is None:
            return await self.close_with(CLOSE_NOT_FOUND, f"no access to {conversation_id}")
        self.group = group_name(conversation_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        state = await db(services.conversation_state)(conversation_id, self.access.role)
        self.status = state["status"]
        if state.get("position") is not None:
            self.last_position = (state.get("position"), state.get("wait_seconds"))
        await self.send_json(state)
        if self.access.role == "citizen" and self.status == Conversation.Status.WAITING:
            self._follow_queue()
        if self.access.role == "agent":
            # Check at once (a reconnecting agent catches up), then when something falls due.
            self._restart_idle_timer(timezone.now())

    async def disconnect(self, code):
        # (The socket's timers stop with it: SocketGuard.release_guard.)
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None

    @property
    def conversation_id(self) -> int:
        return self.granted.conversation_id

    # --- background ----------------------------------------------------------------------

    def _follow_queue(self) -> None:
        """While the chat waits for an agent, push the position and estimated wait on change,
        every ``POSITION_INTERVAL`` seconds (``queue_timer``: nothing runs once an agent took
        the chat; a requeued chat starts it again, ``chat_status``)."""
        if self.queue_timer is None:
            self.queue_timer = self.new_timer(self._queue_round)
        if not self.queue_timer.active:
            self.queue_timer.start(POSITION_INTERVAL)

    async def _queue_round(self) -> float | None:
        if self.status != Conversation.Status.WAITING:
            return None
        try:
            await self._push_position()
        except Exception:  # keep following: the next round asks again
            logger.exception("chat: queue position of %s failed", self.conversation_id)
        return POSITION_INTERVAL

    async def _push_position(self):
        status = await db(_queue_status_of)(self.conversation_id)
        position = (status.get("position"), status.get("wait_seconds"))
        if position != self.last_position:
            self.last_position = position
            await self.send_json({"type": "queue", **status})

    def _restart_idle_timer(self, due) -> None:
        """The assigned agent's socket drives the inactivity rule without polling: a timer
        (``idle_timer``) wakes up when the warning (5 min after the agent's last message) or
        the end (10 min) falls due, runs the idempotent check and sleeps until the next due
        time, if any. An agent message restarts it; Celery beat (``chat.tasks.sweep_inactivity``)
        covers chats no agent socket watches.
        """
        if self.idle_timer is None:
            self.idle_timer = self.new_timer(self._idle_round)
        self.idle_timer.start(_seconds_until(due))

    async def _idle_round(self) -> float | None:
        due = await db(services.inactivity_due)(self.conversation_id)
        return None if due is None else _seconds_until(due)

    # --- frames from the browser ---------------------------------------------------------

    async def on_ping(self, data):
        await self.send_json({"type": "pong"})

    async def on_sync(self, data):
        last_seq = data.get("last_seq", 0)
        if isinstance(last_seq, bool) or not isinstance(last_seq, int) or last_seq < 0:
            return await self.send_error("invalid_seq", "Numéro de message invalide.")
        while True:
            batch = await db(services.messages_after)(
                self.conversation_id, last_seq, services.HISTORY_CHUNK
            )
            fresh = [m for m in batch if not self.delivered.seen(m["seq"])]
            done = len(batch) < services.HISTORY_CHUNK
            await self.send_json({"type": "history", "messages": fresh, "complete": done})
            if batch:
                last_seq = batch[-1]["seq"]
            self.delivered.add_through(last_seq)
            if done:
                break

    async def on_message(self, data):
        client_id = data.get("client_id")
        if not self.granted.can_write:
            return await self.send_error(
                "read_only",
                "Vous observez cette conversation sans pouvoir écrire.",
                client_id=client_id if isinstance(client_id, str) else None,
            )
        try:
            posted = await self._store(data.get("body"), client_id)
        except services.DuplicateMessage as duplicate:
            payload = await db(services.message_payload)(duplicate.message)
            # Sent again, even if this socket sent it already (the browser waits for it).
            self.delivered.add(payload["seq"])
            await self.send_text(services.message_frame(payload, duplicate=True))
            # The first attempt may have died between its commit and its broadcast.
            await self.channel_layer.group_send(self.room, services.message_event(payload))
            return
        except ValidationError as exc:
            return await self.send_error(
                getattr(exc, "code", None) or "invalid",
                " ".join(exc.messages),
                client_id=client_id if isinstance(client_id, str) else None,
            )
        # Stored and committed: now deliver, first to the sender (its acknowledgement), then
        # the same frame's text to the group.
        event = services.message_event(posted.payload)
        await self._deliver(event)
        await self.channel_layer.group_send(self.room, event)

    async def _store(self, body, client_id) -> services.Posted:
        """Store one message (in the process's next batch, ``chat.writer``); after commit."""
        if writer.batch_max() == 1:
            return await db(services.post_message)(self.conversation_id, self.user, body, client_id)
        draft = services.Draft(self.conversation_id, self.user, body, client_id)
        outcome = await writer.writer().post(draft)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def on_typing(self, data):
        if not self.granted.can_write:
            return
        active = bool(data.get("active", True))
        await self.channel_layer.group_send(
            self.room,
            {
                "type": "chat.typing",
                "role": self.granted.role,
                "author": self.user.first_name,
                "active": active,
                "origin": self.channel_name,
            },
        )
        now = time.monotonic()
        if (
            self.granted.role == "citizen"
            and active
            and now - self.last_activity_push >= TYPING_ACTIVITY_INTERVAL
        ):
            self.last_activity_push = now
            await db(services.citizen_is_active)(self.conversation_id)

    async def on_read(self, data):
        if not self.granted.can_write:
            return
        seq = data.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            return await self.send_error("invalid_seq", "Numéro de message invalide.")
        marked = await db(services.mark_read)(self.conversation_id, self.granted.role, seq)
        if marked:
            await self.channel_layer.group_send(
                self.room, {"type": "chat.read", "role": self.granted.role, "seq": marked}
            )

    async def on_leave(self, data):
        if self.granted.role != "citizen":
            return await self.send_error(
                "forbidden", "Seul l'usager peut quitter la conversation ainsi."
            )
        await db(services.leave)(self.conversation_id, self.user)

    # --- events from the channel layer ---------------------------------------------------

    async def _deliver(self, event: dict[str, Any]) -> None:
        """Send one message's frame (``services.message_event``) unless already sent."""
        seq = event["seq"]
        if self.delivered.seen(seq):
            return  # the sender's own message coming back through the group: handled already
        if self.granted.role == "agent" and event["kind"] == "agent":
            # The citizen is now expected to answer: the inactivity clock (re)starts.
            started = datetime.fromisoformat(event["created_at"])
            self._restart_idle_timer(
                started + timedelta(seconds=services.inactivity_warn_seconds())
            )
        self.delivered.add(seq)
        await self.send_text(event["frame"])

    async def chat_message(self, event):
        if self.access is None:
            return
        if "frame" not in event:  # sent by a process of the previous version (rolling deploy)
            event = services.message_event(event["message"])
        await self._deliver(event)

    async def chat_typing(self, event):
        if event.get("origin") == self.channel_name or event.get("role") == self.granted.role:
            return
        await self.send_json(
            {
                "type": "typing",
                "role": event.get("role"),
                "author": event.get("author") if event.get("role") == "agent" else "",
                "active": bool(event.get("active")),
            }
        )

    async def chat_read(self, event):
        await self.send_json({"type": "read", "role": event["role"], "seq": event["seq"]})

    async def chat_status(self, event):
        self.status = event.get("status")
        frame = {key: value for key, value in event.items() if key != "type"}
        await self.send_json({"type": "status", **frame})
        if self.granted.role == "agent":
            still = await db(services.may_still_write)(self.access)
            if not still:
                await self.send_json({"type": "revoked"})
                return await self.close_with(CLOSE_REVOKED, "chat taken back by routing")
        if self.status == Conversation.Status.WAITING and self.granted.role == "citizen":
            await self._push_position()
            self._follow_queue()


def _seconds_until(due: datetime) -> float:
    """Half a second past ``due``: the check then finds it due."""
    return max(0.0, (due - timezone.now()).total_seconds()) + 0.5


def _queue_status_of(conversation_id: int) -> dict:
    conversation = Conversation.objects.select_related("case").get(pk=conversation_id)
    if conversation.status != Conversation.Status.WAITING:
        return {"position": None, "wait_seconds": None}
    return services.queue_status(conversation.case)


class AgentDeskConsumer(GuardedConsumer):
    """The agent's chat workspace: told when routing assigns a chat (group ``agent-<id>``)."""

    socket_kind = "chat_desk"
    handlers = {"ping": "on_ping"}
    layer_handlers = frozenset({"case_assigned", "cases_assigned"})
    group: str | None = None

    async def connect(self):
        self.group = None
        await self.accept()
        user = cast(User | None, self.scope.get("user"))
        if user is None or not user.is_authenticated:
            return await self.close_with(CLOSE_UNAUTHENTICATED, "not authenticated")
        if not user.is_agent:
            return await self.close_with(CLOSE_FORBIDDEN, "desk socket is for agents")
        self.group = f"agent-{user.pk}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        ids = await db(_desk_ids)(user)
        await self.send_json({"type": "desk", "conversations": ids})

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None

    async def on_ping(self, data):
        await self.send_json({"type": "pong"})

    async def case_assigned(self, event):
        if event.get("channel") not in (Channel.CHAT, None):
            return
        conversation_id = await db(_assigned_conversation)(self.scope["user"], event.get("case_id"))
        if conversation_id:
            await self.send_json({"type": "assigned", "conversation": conversation_id})

    async def cases_assigned(self, event):
        # Routing's batch message (several cases given at once): each case as above.
        for notice in event.get("cases") or []:
            await self.case_assigned(notice)


def _desk_ids(user) -> list[int]:
    return list(services.agent_conversations(user).values_list("pk", flat=True))


def _assigned_conversation(user, case_id) -> int | None:
    try:
        case_id = int(case_id)
    except (TypeError, ValueError):
        return None
    # The routing event is sent after commit, but the chat learns about the assignment through
    # the same signal: align first so that the agent can join at once.
    services.sync_with_case(case_id)
    return (
        Conversation.objects.filter(case_id=case_id, agent_id=user.pk, case__assigned_to_id=user.pk)
        .values_list("pk", flat=True)
        .first()
    )
