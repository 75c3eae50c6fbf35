"""Visio signalling websocket (``/ws/visio/<token>/``; thin: parse, check, call services, relay).

The token in the path is one participant's: the socket is refused (4404) unless the signed-in
user is that participant. Offers, answers, ICE candidates and media states are relayed only
between the room's two media participants (citizen and agent), and only once the agent has
admitted the citizen from the waiting room; an interpreter receives captions, chat and presence.
Binary frames are the microphone's audio for the automatic captions (``autocaptions``).
The rate limit (frames over it dropped, a flood closes 4429), the cap on sockets (4408) and the
login session tie (4401, e.g. at logout) are ``contactcenter.sockets``'s; chat messages have
their own, lower rate (``VISIO_CHAT_RATE``).
"""

from __future__ import annotations

import logging
from typing import cast

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.exceptions import ValidationError

from contactcenter import speech
from contactcenter.exceptions import DomainError, InvalidState, NotAllowed
from contactcenter.models import User
from contactcenter.sockets import CLOSE_FLOOD, RateLimiter, SocketGuard

from . import conf, services
from .autocaptions import AutoCaptions
from .models import Caption, Participant, Room
from .protocol import (
    CLOSE_ENDED,
    CLOSE_FORBIDDEN,
    CLOSE_MALFORMED,
    CLOSE_NOT_FOUND,
    CLOSE_REPLACED,
    CLOSE_UNAUTHENTICATED,
    ProtocolError,
    clean_flag,
    clean_media,
    clean_signal,
    dumps,
    parse_frame,
)

logger = logging.getLogger(__name__)
Role = Participant.Role


class RoomConsumer(AutoCaptions, SocketGuard, AsyncWebsocketConsumer):
    socket_kind = "visio"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.participant: Participant | None = None
        self.group = ""
        self.closed = False
        # The other side's socket already announced (in "welcome" or a "peer" message): its
        # own "present" broadcast, when it comes after, must not start a second negotiation.
        self.peer_channel = ""
        # The room's state as this socket knows it (from connect, then the room's events).
        self.admitted = False
        self.screen_allowed = False
        self.auto_captions = False
        self.setup_auto_captions()
        self.chat_limiter = RateLimiter(conf.get("CHAT_RATE"), conf.get("CHAT_RATE_SECONDS"))

    async def connect(self):
        await self.accept()
        user = cast(User | None, self.scope.get("user"))
        if user is None or not user.is_authenticated:
            await self.close_socket(CLOSE_UNAUTHENTICATED, "authentication required")
            return
        token = self.scope["url_route"]["kwargs"]["token"]
        try:
            participant = await database_sync_to_async(services.get_participant)(token, user)
        except services.TooEarly as early:
            await self.send_json({"type": "ended", "reason": "early", "label": early.message})
            await self.close_socket(CLOSE_ENDED, "too early")
            return
        except InvalidState:
            await self.send_json({"type": "ended", "reason": "", "label": ""})
            await self.close_socket(CLOSE_ENDED, "room ended")
            return
        except DomainError:
            await self.close_socket(CLOSE_NOT_FOUND, "unknown room")
            return
        self.participant = participant
        self.group = services.room_group(participant.room_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        presence = await database_sync_to_async(services.connected)(
            participant.pk, self.channel_name
        )
        self.peer_channel = presence.peer
        self.admitted = presence.admitted
        self.screen_allowed = presence.screen_allowed
        self.auto_captions = presence.auto_captions
        if presence.replaced:
            await self.channel_layer.send(presence.replaced, {"type": "visio.replaced"})
        room: Room = participant.room
        await self.send_json(
            {
                "type": "welcome",
                "role": participant.role,
                "peer": bool(presence.peer),
                "peer_name": presence.peer_name,
                "admitted": presence.admitted,
                "screen_allowed": presence.screen_allowed,
                "ice_servers": services.ice_servers(),
                "keep_captions": room.keep_captions,
                "keep_chat": room.keep_chat,
                "auto_captions": presence.auto_captions,
                "auto_captions_available": self.can_hear,
            }
        )
        await self.channel_layer.group_send(
            self.group, self.event("visio.peer", present=True, name=participant.user.display_name)
        )

    def event(self, event_type: str, **fields) -> dict:
        assert self.participant is not None
        return {
            "type": event_type,
            "sender": self.channel_name,
            "role": self.participant.role,
            **fields,
        }

    async def disconnect(self, code):
        participant, self.participant = self.participant, None
        self.stop_hearing()
        try:
            if self.group:
                await self.channel_layer.group_discard(self.group, self.channel_name)
            if participant is None:
                return
            if await database_sync_to_async(services.disconnected)(
                participant.pk, self.channel_name
            ):
                await self.channel_layer.group_send(
                    self.group,
                    {
                        "type": "visio.peer",
                        "sender": self.channel_name,
                        "role": participant.role,
                        "present": False,
                        "name": "",
                    },
                )
        except Exception:  # the layer or the database is down: the room expires by itself
            logger.exception("visio: cleanup of a socket of room %s failed", self.group)

    async def send_json(self, data: dict) -> None:
        if not self.closed:
            await self.send(text_data=dumps(data))

    async def close_socket(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        logger.info("visio: socket closed (%s): %s", code, reason)
        if self.group and self.participant is None:  # no place to free: leave the room now
            group, self.group = self.group, ""
            await self.channel_layer.group_discard(group, self.channel_name)
        await super().close_socket(code, reason)

    # --- client frames -------------------------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None):
        if self.closed or self.participant is None:
            return
        try:
            if bytes_data is not None:
                await self.handle_audio(bytes_data, self.participant)
            else:
                await self.handle(parse_frame(text_data), self.participant)
        except ProtocolError as error:
            await self.close_socket(error.code, str(error))
        except NotAllowed as error:
            await self.close_socket(CLOSE_FORBIDDEN, str(error))
        except ValidationError as error:
            await self.close_socket(CLOSE_MALFORMED, "; ".join(error.messages))
        except InvalidState as error:
            await self.send_json({"type": "error", "code": "invalid_state", "detail": str(error)})

    async def handle(self, data: dict, participant: Participant) -> None:
        kind = data["type"]
        if kind == "ping":
            return
        if kind in ("signal", "media"):
            await self.handle_media(kind, data, participant)
        elif kind in ("caption", "chat"):
            await self.handle_text(kind, data, participant)
        elif kind in ("keep_captions", "keep_chat"):
            keep = clean_flag(data)
            line = Caption.Kind.CHAT if kind == "keep_chat" else Caption.Kind.CAPTION
            await database_sync_to_async(services.set_keep_captions)(participant.pk, keep, line)
            await self.channel_layer.group_send(
                self.group, self.event("visio.keep", kind=kind, value=keep)
            )
        elif kind == "auto_captions":
            on = clean_flag(data)
            if not self.can_hear:
                await self.send_json({"type": "error", "code": "auto_captions_unavailable"})
                return
            await database_sync_to_async(services.set_auto_captions)(participant.pk, on)
            if on:
                speech.warm_up()
            await self.channel_layer.group_send(
                self.group, self.event("visio.keep", kind=kind, value=on)
            )
        elif kind == "admit":
            if await database_sync_to_async(services.admit)(participant.pk):
                await self.channel_layer.group_send(self.group, self.event("visio.admitted"))
        elif kind == "allow_screen":
            allowed = clean_flag(data)
            await database_sync_to_async(services.set_screen_allowed)(participant.pk, allowed)
            await self.channel_layer.group_send(
                self.group, self.event("visio.screen_allowed", value=allowed)
            )
        elif kind == "hangup":
            if not participant.is_media:
                await self.close_socket(1000, "interpreter left")
                return
            agent = participant.role == Role.AGENT
            reason = Room.EndReason.AGENT if agent else Room.EndReason.CITIZEN
            await database_sync_to_async(services.end_room)(participant.room_id, reason)

    async def handle_media(self, kind: str, data: dict, participant: Participant) -> None:
        """Offers, answers, candidates and media states: between citizen and agent, once the
        citizen is admitted (a citizen signalling before is refused; states are not relayed)."""
        if not participant.is_media:
            raise ProtocolError(CLOSE_FORBIDDEN, "only the citizen and the agent send media")
        citizen = participant.role == Role.CITIZEN
        if kind == "signal":
            signal = clean_signal(data)
            if not self.admitted:
                if citizen:
                    raise ProtocolError(CLOSE_FORBIDDEN, "not admitted yet")
                return  # the agent's stale negotiation: nobody to send it to
            await self.channel_layer.group_send(
                self.group, self.event("visio.signal", signal=signal)
            )
            return
        state = clean_media(data)
        if citizen and state["screen"] and not self.screen_allowed:
            raise ProtocolError(CLOSE_FORBIDDEN, "screen share not allowed by the agent")
        await self.channel_layer.group_send(self.group, self.event("visio.media", state=state))

    async def handle_text(self, kind: str, data: dict, participant: Participant) -> None:
        """A caption (agent, interpreter) or a chat message (anyone; rate-limited per socket).
        Both are plain text: the pages show them with ``textContent``."""
        if kind == "caption":
            if participant.role == Role.CITIZEN:
                raise ProtocolError(CLOSE_FORBIDDEN, "citizens do not write captions")
            text = services.clean_caption(data.get("text"))
        else:
            text = services.clean_chat(data.get("text"))
            if not self.chat_limiter.allow():
                if self.chat_limiter.flooding():
                    await self.close_socket(CLOSE_FLOOD, "chat flood")
                else:
                    await self.send_json({"type": "error", "code": "chat_rate", "detail": ""})
                return
        line = await database_sync_to_async(services.add_caption)(participant.pk, text, kind)
        author = participant.user.first_name or participant.user.display_name
        await self.channel_layer.group_send(
            self.group,
            self.event("visio.text", kind=kind, id=line.pk, text=line.text, author=author),
        )

    # --- channel-layer events ------------------------------------------------------------------
    def is_peer_media(self, event: dict) -> bool:
        """A media participant's message for the other media participant (never to itself, never
        to an interpreter)."""
        participant = self.participant
        return (
            participant is not None
            and participant.is_media
            and event["sender"] != self.channel_name
            and event["role"] != participant.role
            and event["role"] in (Role.CITIZEN, Role.AGENT)
            and self.admitted
        )

    async def visio_signal(self, event):
        if self.is_peer_media(event):
            await self.send_json({"type": "signal", **event["signal"]})

    async def visio_media(self, event):
        participant = self.participant
        if event["sender"] == self.channel_name or participant is None:
            return
        if participant.is_media and not self.is_peer_media(event):
            return  # nothing of the other side's media before admission
        await self.send_json({"type": "media", "role": event["role"], **event["state"]})

    async def visio_peer(self, event):
        if event["sender"] == self.channel_name or self.participant is None:
            return
        media = self.participant.is_media and event["role"] in (Role.CITIZEN, Role.AGENT)
        if media and event["role"] != self.participant.role:
            if event["present"] and event["sender"] == self.peer_channel:
                return  # announced already
            self.peer_channel = event["sender"] if event["present"] else ""
        await self.send_json(
            {
                "type": "peer",
                "role": event["role"],
                "present": event["present"],
                "name": event["name"],
                "admitted": self.admitted,
            }
        )

    async def visio_admitted(self, event):
        self.admitted = True
        await self.send_json({"type": "admitted"})

    async def visio_screen_allowed(self, event):
        self.screen_allowed = event["value"]
        await self.send_json({"type": "screen_allowed", "value": event["value"]})

    async def visio_text(self, event):
        auto = event["kind"] == Caption.Kind.AUTO
        await self.send_json(
            {
                "type": "auto_caption" if auto else event["kind"],
                "id": event["id"],
                "text": event["text"],
                "author": event["author"],
                "role": event["role"],
            }
        )

    async def visio_keep(self, event):
        if event["kind"] == "auto_captions":
            self.auto_captions = event["value"]
            if not self.auto_captions:
                self.stop_hearing()
        await self.send_json({"type": event["kind"], "value": event["value"]})

    async def visio_ended(self, event):
        await self.send_json({"type": "ended", "reason": event["reason"], "label": event["label"]})
        self.participant = None  # ended: nothing to free at disconnect
        await self.close_socket(CLOSE_ENDED, "room ended")

    async def visio_replaced(self, event):
        self.participant = None  # the new socket holds the place now
        await self.send_json({"type": "replaced"})
        await self.close_socket(CLOSE_REPLACED, "joined from another tab")
