"""Co-browsing websockets (thin: parse, check, call services, relay).

- ``CitizenConsumer`` (``/ws/cobrowse/citizen/``): open on every page of the personal space.
  Presence (so that an agent can invite), invitations and consent, then — only once the citizen
  has accepted — the page's rrweb frames, masked again here, relayed to the agent.
- ``AgentConsumer`` (``/ws/cobrowse/agent/<session>/``): the agent's viewer. Receives the frames;
  may send ``pointer``, ``highlight`` and ``end`` and nothing else (close 4403).

Close codes are in ``protocol.py`` and docs/cobrowse.md; the rate limit (frames over it are
dropped, a flood closes 4429), the cap on sockets (4408) and the session tie (4401 once the
session ended) are ``contactcenter.sockets``'s (docs/realtime.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import cast

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from contactcenter.models import User
from contactcenter.sockets import SocketGuard

from . import conf, services
from .models import CobrowseSession
from .protocol import (
    CLOSE_CONSENT_REQUIRED,
    CLOSE_ENDED,
    CLOSE_FORBIDDEN,
    CLOSE_MALFORMED,
    CLOSE_NOT_FOUND,
    CLOSE_REPLACED,
    CLOSE_UNAUTHENTICATED,
    ChunkAssembler,
    PageScrubber,
    ProtocolError,
    clean_agent_message,
    clean_page_path,
    dumps,
    loads,
    parse_frame,
    parse_session_id,
)

logger = logging.getLogger(__name__)

# rrweb sources that mean a person did something (activity), as opposed to page timers.
HUMAN_SOURCES = frozenset({1, 2, 3, 4, 5, 6, 12, 14})


def shows_activity(events: list[dict]) -> bool:
    for event in events:
        if event.get("type") == 2:
            return True
        if event.get("type") == 3 and event["data"].get("source") in HUMAN_SOURCES:
            return True
    return False


class BaseCobrowseConsumer(SocketGuard, AsyncWebsocketConsumer):
    role = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user: User | None = None
        self.closed = False
        self.cleaned_up = False
        self.session_id: uuid.UUID | None = None
        self.watchdog: asyncio.Task | None = None
        self.last_touch = 0.0
        self.joined: set[str] = set()

    async def __call__(self, scope, receive, send):
        try:
            return await super().__call__(scope, receive, send)
        finally:
            # Also when the consumer dies of an exception (e.g. the channel layer's connection
            # failed), where disconnect() is never called: no orphan watchdog, and the session
            # learns that this side is gone.
            self.stop_watchdog()
            if not self.cleaned_up:
                try:
                    # The socket died without a close frame: 1006, "abnormal closure".
                    await self.disconnect(1006)
                except Exception:
                    logger.exception("cobrowse: cleanup of a failed %s socket", self.role)

    @property
    def member(self) -> User:
        """The signed-in user: connect() closes the socket of anyone else before start()."""
        assert self.user is not None
        return self.user

    async def connect(self):
        self.user = cast(User | None, self.scope.get("user"))
        await self.accept()
        if self.user is None or not self.member.is_authenticated:
            await self.close_with(CLOSE_UNAUTHENTICATED)
            return
        await self.start()

    async def start(self):
        raise NotImplementedError

    # --- helpers ---------------------------------------------------------------------------
    async def send_json(self, data: dict) -> None:
        if not self.closed:
            await self.send(text_data=dumps(data))

    async def close_socket(self, code: int, reason: str) -> None:
        self.socket_closing = True
        logger.info("cobrowse: %s socket closed (%s): %s", self.role, code, reason)
        await self.close_with(code)

    async def close_with(self, code: int) -> None:
        if self.closed:
            return
        self.closed = True
        await self.leave_all()
        await self.close(code=code)

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined.add(group)

    async def leave(self, group: str) -> None:
        if group in self.joined:
            self.joined.discard(group)
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:  # the layer is down: the membership expires by itself
                logger.exception("cobrowse: could not leave %s", group)

    async def leave_all(self) -> None:
        for group in list(self.joined):
            await self.leave(group)
        self.stop_watchdog()

    def start_watchdog(self) -> None:
        self.stop_watchdog()
        self.watchdog = asyncio.create_task(self._watch(self.session_id))

    def stop_watchdog(self) -> None:
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None

    async def _watch(self, session_id) -> None:
        """End the session when the other side is gone too long or nobody did anything."""
        while True:
            await asyncio.sleep(conf.get("WATCHDOG_SECONDS"))
            try:
                live = await database_sync_to_async(services.check_session)(session_id)
            except Exception:  # keep watching: the sweeper task is the fallback
                logger.exception("cobrowse: watchdog check failed for %s", session_id)
                continue
            if not live:
                return

    async def maybe_touch(self) -> None:
        now = time.monotonic()
        if now - self.last_touch >= conf.get("ACTIVITY_WRITE_SECONDS"):
            self.last_touch = now
            if self.session_id is not None:  # touching no session wrote nothing
                await database_sync_to_async(services.touch)(self.session_id)

    async def receive(self, text_data=None, bytes_data=None):
        if self.closed:
            return
        try:
            data = parse_frame(text_data, bytes_data)
            await self.handle(data)
        except ProtocolError as error:
            logger.info("cobrowse: %s socket closed (%s): %s", self.role, error.code, error)
            await self.close_with(error.code)

    async def handle(self, data: dict) -> None:
        raise NotImplementedError


class CitizenConsumer(BaseCobrowseConsumer):
    role = "citizen"
    socket_kind = "cobrowse_citizen"

    async def start(self):
        if not self.member.is_citizen:
            await self.close_with(CLOSE_FORBIDDEN)
            return
        self.assembler = ChunkAssembler()
        self.scrubber = PageScrubber()
        self.user_group = services.citizen_group(self.member.pk)
        await self.join(self.user_group)
        await services.amark_online(self.member.pk)
        offer = await database_sync_to_async(services.pending_offer)(self.member.pk)
        if offer is not None:
            await self.cobrowse_offer(services.offer_message(offer))

    async def disconnect(self, code):
        self.cleaned_up = True
        session_id = self.session_id
        await self.leave_all()
        if session_id is not None:
            self.session_id = None
            await database_sync_to_async(services.citizen_left)(session_id, self.channel_name)
        user = getattr(self, "user", None)
        if user is not None and user.is_authenticated and user.is_citizen:
            await services.amark_offline(user.pk)
            await self.channel_layer.group_send(
                services.citizen_group(user.pk), {"type": "cobrowse.presence_refresh"}
            )

    async def bind(self, session: CobrowseSession) -> None:
        self.session_id = session.pk
        self.assembler.reset()
        self.scrubber = PageScrubber()
        self.last_touch = time.monotonic()
        await self.join(services.session_group(session.pk, "citizen"))
        self.start_watchdog()
        await self.send_json(
            {
                "type": "started",
                "session": str(session.pk),
                "agent": session.agent_first_name,
                "service": session.agent_service.name if session.agent_service else "",
                "agent_present": bool(session.agent_channel),
            }
        )

    async def unbind(self) -> None:
        if self.session_id is not None:
            await self.leave(services.session_group(self.session_id, "citizen"))
        self.session_id = None
        self.stop_watchdog()
        self.assembler.reset()

    def require_session(self) -> uuid.UUID:
        if self.session_id is None:
            raise ProtocolError(CLOSE_CONSENT_REQUIRED, "no accepted session on this page")
        return self.session_id

    async def handle(self, data: dict) -> None:
        kind = data["type"]
        if kind == "ping":
            await services.amark_online(self.member.pk)
        elif kind == "rrweb":
            self.require_session()
            await self.relay(self.scrubber.scrub(data.get("events")))
        elif kind == "chunk":
            self.require_session()
            text = self.assembler.add(data)
            if text is not None:
                inner = parse_frame_unbounded(text)
                if inner.get("type") != "rrweb":
                    raise ProtocolError(CLOSE_MALFORMED, "a chunked message must be rrweb")
                await self.relay(self.scrubber.scrub(inner.get("events")))
        elif kind == "page":
            session_id = self.require_session()
            path = clean_page_path(data.get("path"))
            await database_sync_to_async(services.record_page)(session_id, self.channel_name, path)
        elif kind == "resume":
            await self.resume(parse_session_id(data.get("session")))
        elif kind == "accept":
            await self.accept_offer(parse_session_id(data.get("session")))
        elif kind == "decline":
            session_id = parse_session_id(data.get("session"))
            await database_sync_to_async(services.decline)(session_id, self.member)
        elif kind == "end":
            session_id = self.session_id or parse_session_id(data.get("session"))
            await self.unbind()
            await database_sync_to_async(services.end_session)(
                session_id, CobrowseSession.EndReason.CITIZEN, by=self.user
            )
        else:
            raise ProtocolError(CLOSE_MALFORMED, f"unknown message type {kind!r}")

    async def resume(self, session_id) -> None:
        if self.session_id == session_id:
            return
        try:
            session = await database_sync_to_async(services.resume)(
                session_id, self.member, self.channel_name
            )
        except services.SessionUnavailable as gone:
            await self.send_json(
                {"type": "ended", "session": str(session_id), "reason": gone.reason}
            )
            return
        await self.bind(session)

    async def accept_offer(self, session_id) -> None:
        if self.session_id is not None:
            raise ProtocolError(CLOSE_MALFORMED, "this page already shares a session")
        try:
            session = await database_sync_to_async(services.accept)(
                session_id, self.member, self.channel_name
            )
        except services.SessionUnavailable:
            await self.send_json(
                {"type": "offer_closed", "session": str(session_id), "reason": "gone"}
            )
            return
        await self.bind(session)

    async def relay(self, events: list[dict]) -> None:
        if not events:
            return
        try:
            text = dumps({"type": "rrweb", "events": events})
        except (ValueError, RecursionError):
            raise ProtocolError(CLOSE_MALFORMED, "events cannot be encoded")
        session_id = self.require_session()  # the callers required it already
        await self.channel_layer.group_send(
            services.session_group(session_id, "agent"),
            {"type": "cobrowse.frame", "text": text},
        )
        if shows_activity(events):
            await self.maybe_touch()

    # --- channel-layer events ------------------------------------------------------------------
    async def cobrowse_offer(self, event):
        if self.session_id is None:
            await self.send_json({**event, "type": "offer"})

    async def cobrowse_offer_closed(self, event):
        await self.send_json({**event, "type": "offer_closed"})

    async def cobrowse_pointer(self, event):
        if self.session_id is not None:
            await self.send_json(event["message"])

    cobrowse_highlight = cobrowse_pointer

    async def cobrowse_snapshot(self, event):
        if self.session_id is not None:
            await self.send_json({"type": "snapshot"})

    async def cobrowse_peer(self, event):
        if self.session_id is not None:
            await self.send_json(
                {"type": "peer", "role": event["role"], "present": event["present"]}
            )

    async def cobrowse_ended(self, event):
        if self.session_id is not None and str(self.session_id) == event["session"]:
            await self.unbind()
            await self.send_json({**event, "type": "ended"})

    async def cobrowse_replaced(self, event):
        if self.session_id is not None and str(self.session_id) == event["session"]:
            await self.leave(services.session_group(self.session_id, "citizen"))
            self.session_id = None
            self.stop_watchdog()
            await self.send_json({"type": "replaced", "session": event["session"]})

    async def cobrowse_presence_refresh(self, event):
        if not self.closed:
            await services.amark_online(self.member.pk)

    async def cobrowse_accepted(self, event):
        """Only for agents; a citizen page ignores it."""


def parse_frame_unbounded(text: str) -> dict:
    """Decode a reassembled chunked message (its size was bounded by the assembler)."""
    data = loads(text)
    if not isinstance(data, dict):
        raise ProtocolError(CLOSE_MALFORMED, "expected an object")
    return data


class AgentConsumer(BaseCobrowseConsumer):
    role = "agent"
    socket_kind = "cobrowse_agent"

    async def start(self):
        if not self.member.is_staff_member:
            await self.close_with(CLOSE_FORBIDDEN)
            return
        self.active = False
        session_id = self.scope["url_route"]["kwargs"]["session_id"]
        group = services.session_group(session_id, "agent")
        # Join before registering so that an "accepted" sent in between is not missed.
        await self.join(group)
        try:
            session = await database_sync_to_async(services.agent_connected)(
                session_id, self.member, self.channel_name
            )
        except services.SessionUnavailable as gone:
            if gone.reason == "unknown":
                await self.close_with(CLOSE_NOT_FOUND)
            else:
                await self.send_json(
                    {"type": "ended", "session": str(session_id), "reason": gone.reason}
                )
                await self.close_with(CLOSE_ENDED)
            return
        self.session_id = session.pk
        self.start_watchdog()
        if session.status == CobrowseSession.Status.ACTIVE:
            self.active = True
            await self.send_json({"type": "active", "session": str(session.pk)})
            # A console that (re)connects mid-session needs the whole page again.
            await self.channel_layer.group_send(
                services.session_group(session.pk, "citizen"), {"type": "cobrowse.snapshot"}
            )
        else:
            await self.send_json(
                {"type": "waiting", "session": str(session.pk), "status": session.status}
            )

    async def disconnect(self, code):
        self.cleaned_up = True
        session_id = self.session_id
        await self.leave_all()
        if session_id is not None:
            self.session_id = None
            await database_sync_to_async(services.agent_left)(session_id, self.channel_name)

    async def handle(self, data: dict) -> None:
        message = clean_agent_message(data)  # any other type: ProtocolError(CLOSE_FORBIDDEN)
        if message["type"] == "end":
            session_id = self.session_id
            if session_id is not None:
                await database_sync_to_async(services.end_session)(
                    session_id, CobrowseSession.EndReason.AGENT, by=self.user
                )
            return
        if not self.active or self.session_id is None:
            return  # nothing to point at before consent (floods: SocketGuard drops them)
        await self.channel_layer.group_send(
            services.session_group(self.session_id, "citizen"),
            {"type": f"cobrowse.{message['type']}", "message": message},
        )
        await self.maybe_touch()

    # --- channel-layer events ------------------------------------------------------------------
    async def cobrowse_frame(self, event):
        if not self.closed:
            await self.send(text_data=event["text"])

    async def cobrowse_accepted(self, event):
        self.active = True
        await self.send_json({"type": "accepted", "session": event["session"]})

    async def cobrowse_peer(self, event):
        await self.send_json({"type": "peer", "role": event["role"], "present": event["present"]})

    async def cobrowse_ended(self, event):
        self.session_id = None
        await self.send_json({**event, "type": "ended"})
        await self.close_with(CLOSE_ENDED)

    async def cobrowse_replaced(self, event):
        self.session_id = None
        await self.send_json({"type": "replaced", "session": event["session"]})
        await self.close_with(CLOSE_REPLACED)
