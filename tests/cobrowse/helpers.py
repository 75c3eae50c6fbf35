"""Co-browsing test helpers: websocket connections, rrweb frames, group inspection."""

import asyncio
import contextlib
import json
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from channels_redis.pubsub import RedisPubSubChannelLayer

from cobrowse.ws_urls import websocket_urlpatterns

CITIZEN_PATH = "/ws/cobrowse/citizen/"


def application():
    return URLRouter(websocket_urlpatterns)


async def open_socket(user, path=CITIZEN_PATH, *, expect_close=None):
    communicator = WebsocketCommunicator(application(), path)
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    if expect_close is not None:
        await expect_closed(communicator, expect_close)
    return communicator


def agent_path(session_id) -> str:
    return f"/ws/cobrowse/agent/{session_id}/"


async def receive(communicator, timeout=2):
    output = await communicator.receive_output(timeout)
    assert output["type"] == "websocket.send", output
    return json.loads(output["text"])


async def receive_type(communicator, kind, timeout=2):
    """Next message of this type (skipping others, e.g. offer_closed after started)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        assert remaining > 0, f"no {kind!r} message"
        message = await receive(communicator, remaining)
        if message["type"] == kind:
            return message


async def expect_closed(communicator, code, timeout=2):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        output = await communicator.receive_output(max(0.01, deadline - loop.time()))
        if output["type"] == "websocket.close":
            assert output.get("code") == code, output
            return
        assert loop.time() < deadline, "socket not closed"


async def send(communicator, message):
    await communicator.send_to(text_data=json.dumps(message))


async def group_members(group: str) -> set:
    layer: Any = get_channel_layer()  # each backend has its own (private) bookkeeping
    if isinstance(layer, RedisPubSubChannelLayer):  # members are known to their own process
        loop_layer = layer._get_layer()
        return set(loop_layer.groups.get(loop_layer._get_group_channel_name(group), ()))
    if hasattr(layer, "groups"):  # InMemoryChannelLayer
        return set(layer.groups.get(group, {}))
    connection = layer.connection(layer.consistent_hash(group))
    return {m.decode() for m in await connection.zrange(layer._group_key(group), 0, -1)}


def full_snapshot(value="", extra_attrs=None, text="Bonjour Camille"):
    """A minimal rrweb meta + full snapshot with a text input and some text."""
    attributes = {"type": "text", "name": "iban", "value": value, **(extra_attrs or {})}
    return [
        {
            "type": 4,
            "timestamp": 1000,
            "data": {"href": "http://testserver/espace/?q=secret#x", "width": 1280, "height": 720},
        },
        {
            "type": 2,
            "timestamp": 1001,
            "data": {
                "node": {
                    "type": 0,
                    "id": 1,
                    "childNodes": [
                        {
                            "type": 2,
                            "id": 2,
                            "tagName": "html",
                            "attributes": {},
                            "childNodes": [
                                {
                                    "type": 2,
                                    "id": 3,
                                    "tagName": "body",
                                    "attributes": {"hx-headers": '{"X-CSRFToken": "tok"}'},
                                    "childNodes": [
                                        {"type": 3, "id": 4, "textContent": text},
                                        {
                                            "type": 2,
                                            "id": 5,
                                            "tagName": "input",
                                            "attributes": attributes,
                                            "childNodes": [],
                                        },
                                    ],
                                }
                            ],
                        }
                    ],
                },
                "initialOffset": {"left": 0, "top": 0},
            },
        },
    ]


def input_event(text, node_id=5):
    return {"type": 3, "timestamp": 1100, "data": {"source": 5, "id": node_id, "text": text}}


class Live:
    """A live session: the citizen's page and the agent's console both connected."""

    def __init__(self, session, citizen_socket, agent_socket):
        self.session = session
        self.citizen = citizen_socket
        self.agent = agent_socket

    async def close(self):
        for communicator in (self.citizen, self.agent):
            with contextlib.suppress(Exception):  # already closed by the server
                await communicator.disconnect()


async def start_live(session, citizen, agent) -> Live:
    """Connect both sides and accept: returns once the agent knows the citizen accepted."""
    citizen_socket = await open_socket(citizen)
    assert (await receive_type(citizen_socket, "offer"))["session"] == str(session.pk)
    agent_socket = await open_socket(agent, agent_path(session.pk))
    assert (await receive(agent_socket))["type"] == "waiting"
    await send(citizen_socket, {"type": "accept", "session": str(session.pk)})
    assert (await receive_type(citizen_socket, "started"))["session"] == str(session.pk)
    assert (await receive_type(agent_socket, "accepted"))["session"] == str(session.pk)
    return Live(session, citizen_socket, agent_socket)


refresh = database_sync_to_async(lambda obj: obj.refresh_from_db() or obj)


async def drain(communicator, quiet=0.2) -> list[dict]:
    """Every message that arrives until the socket stays quiet for ``quiet`` seconds."""
    messages = []
    while not await communicator.receive_nothing(quiet):
        output = await communicator.receive_output(1)
        if output["type"] == "websocket.send":
            messages.append(json.loads(output["text"]))
    return messages


async def eventually(predicate, timeout=3.0) -> bool:
    """Poll a condition set by a consumer in the background (e.g. presence after connect)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return bool(predicate())
