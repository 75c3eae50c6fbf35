"""Websockets of routing.

- ``ws/availability/`` (any logged-in user): joins the ``availability`` group, gets the snapshot
  on connect (``{"type": "availability.snapshot", "topics": {...}}``) then every change
  (``{"type": "availability.update", "topics": {slug: bool}}``).
- ``ws/presence/`` (agents): heartbeats (``{"type": "heartbeat"}`` every 20 s) keep the agent
  present; the socket also relays the agent's group ``agent-<id>`` (``case.assigned``,
  ``case.unassigned``, ``presence.status``) to the console.

Close codes: 4401 not logged in (or the session ended), 4403 not an agent (presence), 4400 bad
message; 4408 too many sockets and 4429 flooding (``contactcenter.sockets``, docs/realtime.md).
Frames over the rate limit are dropped.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, cast

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

import routing
from contactcenter.sockets import SocketGuard

if TYPE_CHECKING:
    from contactcenter.models import User

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_BAD_MESSAGE = 4400


class AvailabilityConsumer(SocketGuard, AsyncWebsocketConsumer):
    socket_kind = "availability"
    group = routing.AVAILABILITY_GROUP

    async def connect(self):
        # Accept first, then close: a close during the handshake reaches the browser as a bare
        # 403 (code 1006), and the page could not tell an ended session from a network error.
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close_socket(CLOSE_UNAUTHENTICATED, "not authenticated")
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.joined = True
        snapshot = await database_sync_to_async(routing.availability_snapshot)()
        await self.send(json.dumps({"type": "availability.snapshot", "topics": snapshot}))

    async def disconnect(self, code):
        if getattr(self, "joined", False):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        # Read-only socket; a "snapshot" request resends the whole state.
        try:
            message = json.loads(text_data or "")
        except ValueError:
            await self.close(code=CLOSE_BAD_MESSAGE)
            return
        if isinstance(message, dict) and message.get("type") == "snapshot":
            snapshot = await database_sync_to_async(routing.availability_snapshot)()
            await self.send(json.dumps({"type": "availability.snapshot", "topics": snapshot}))

    async def availability_update(self, event):
        await self.send(json.dumps({"type": "availability.update", "topics": event["topics"]}))


class PresenceConsumer(SocketGuard, AsyncWebsocketConsumer):
    socket_kind = "presence"

    async def connect(self):
        await self.accept()  # then close: the page learns the code (see AvailabilityConsumer)
        user = cast("User | None", self.scope.get("user"))
        if user is None or not user.is_authenticated:
            await self.close_socket(CLOSE_UNAUTHENTICATED, "not authenticated")
            return
        if not user.is_agent:
            await self.close_socket(CLOSE_FORBIDDEN, "presence socket is for agents")
            return
        self.agent_id = user.pk
        self.group = routing.agent_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        presence = await database_sync_to_async(self._beat)()
        await self.send(json.dumps({"type": "presence.status", "status": presence.status}))

    def _beat(self):
        routing.heartbeat(self.agent_id)
        return routing.get_presence(self.agent_id)

    async def disconnect(self, code):
        # Not offline on disconnect: a page change reconnects at once. The heartbeat timeout
        # (60 s, beat) decides.
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = json.loads(text_data or "")
        except ValueError:
            await self.close(code=CLOSE_BAD_MESSAGE)
            return
        if not isinstance(message, dict) or message.get("type") != "heartbeat":
            await self.close(code=CLOSE_BAD_MESSAGE)
            return
        await database_sync_to_async(routing.heartbeat)(self.agent_id)
        await self.send(json.dumps({"type": "heartbeat.ack"}))
        # Without Celery beat (embedded mode) the heartbeats drive the periodic work.
        await database_sync_to_async(routing.run_sweeps_if_due)()

    async def case_assigned(self, event):
        await self._assigned(event)

    async def cases_assigned(self, event):
        # Several cases given at once (one message on the group): one frame per case, as
        # the console expects.
        for notice in event.get("cases") or []:
            await self._assigned(notice)

    async def _assigned(self, notice):
        # A notice may carry the console's screen-pop item (``pop``, see
        # routing.engine.announce_assignments): sent as its own ``workstation.open`` frame.
        pop = notice.get("pop")
        frame = {key: value for key, value in notice.items() if key != "pop"}
        await self.send(json.dumps({**frame, "type": "case.assigned"}))
        if pop:
            await self.send(json.dumps({"type": "workstation.open", "item": pop}))

    async def case_unassigned(self, event):
        await self.send(json.dumps(event))

    async def workstation_open(self, event):
        # Screen-pop (console.screenpop): forwarded as is; the workstation opens the item.
        await self.send(json.dumps({"type": "workstation.open", "item": event["item"]}))

    async def presence_status(self, event):
        await self.send(json.dumps({"type": "presence.status", "status": event["status"]}))
