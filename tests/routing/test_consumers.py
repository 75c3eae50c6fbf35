"""Websockets: ws/availability/ and ws/presence/ (WebsocketCommunicator)."""

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

import routing
from routing.models import AgentPresence
from routing.ws_urls import websocket_urlpatterns

from .conftest import set_available

pytestmark = pytest.mark.django_db(transaction=True)

# Channels routes ASGI applications with Django's path(), typed for views only.
application = URLRouter(websocket_urlpatterns)  # type: ignore[arg-type]


def communicator(path, user):
    comm = WebsocketCommunicator(application, path)
    comm.scope["user"] = user
    return comm


@pytest.fixture(autouse=True)
def _memory_layer(memory_layer):
    return memory_layer


async def refused_with(comm) -> int:
    """Refusals come after the handshake, so that the page reads the close code (a close
    during the handshake reaches the browser as a bare 403)."""
    assert await comm.connect() == (True, None)
    output = await comm.receive_output(timeout=2)
    assert output["type"] == "websocket.close"
    return output["code"]


async def test_availability_socket_rejects_anonymous():
    assert await refused_with(communicator("/ws/availability/", AnonymousUser())) == 4401


async def test_availability_socket_sends_snapshot_then_updates(
    citizen, topic_a, agent_a, memory_layer
):
    await database_sync_to_async(set_available)(agent_a)
    comm = communicator("/ws/availability/", citizen)
    connected, _ = await comm.connect()
    assert connected
    assert await comm.receive_json_from() == {
        "type": "availability.snapshot",
        "topics": {"impots": True},
    }
    await database_sync_to_async(routing.set_status)(agent_a, "en pause")
    assert await comm.receive_json_from(timeout=2) == {
        "type": "availability.update",
        "topics": {"impots": False},
    }
    await comm.disconnect()
    assert memory_layer.groups.get(routing.AVAILABILITY_GROUP, {}) == {}


async def test_presence_socket_rejects_anonymous_and_non_agents(citizen, supervisor):
    assert await refused_with(communicator("/ws/presence/", AnonymousUser())) == 4401
    assert await refused_with(communicator("/ws/presence/", citizen)) == 4403
    assert await refused_with(communicator("/ws/presence/", supervisor)) == 4403


async def receive_routing_frame(comm):
    """The next frame of routing itself: the console's screen-pop (``workstation.open``, sent
    on the same group for chats and callbacks, see console.screenpop) is skipped."""
    while True:
        frame = await comm.receive_json_from(timeout=2)
        if frame["type"] != "workstation.open":
            return frame


async def test_heartbeat_keeps_agent_present_and_relays_assignments(
    agent_a, citizen, topic_a, memory_layer
):
    await database_sync_to_async(set_available)(agent_a)
    comm = communicator("/ws/presence/", agent_a)
    connected, _ = await comm.connect()
    assert connected
    assert await comm.receive_json_from() == {"type": "presence.status", "status": "available"}
    before = (await database_sync_to_async(AgentPresence.objects.get)(pk=agent_a.pk)).last_heartbeat
    await comm.send_json_to({"type": "heartbeat"})
    assert await comm.receive_json_from() == {"type": "heartbeat.ack"}
    after = (await database_sync_to_async(AgentPresence.objects.get)(pk=agent_a.pk)).last_heartbeat
    assert after > before

    from .conftest import make_case

    case = await database_sync_to_async(make_case)(citizen, topic_a, channel="chat")
    await database_sync_to_async(routing.route_case)(case.pk)
    message = await receive_routing_frame(comm)
    assert message["type"] == "case.assigned"
    assert message["case_id"] == case.pk and message["channel"] == "chat"
    await comm.disconnect()
    assert memory_layer.groups.get(f"agent-{agent_a.pk}", {}) == {}


async def test_a_batch_of_assignments_reaches_the_console_case_by_case(
    agent_a, citizen, topic_a, memory_layer
):
    from .conftest import make_case

    await database_sync_to_async(set_available)(agent_a)
    comm = communicator("/ws/presence/", agent_a)
    connected, _ = await comm.connect()
    assert connected
    await comm.receive_json_from()  # presence.status
    chat = await database_sync_to_async(make_case)(citizen, topic_a, channel="chat")
    web = await database_sync_to_async(make_case)(citizen, topic_a, channel="web")
    assigned = await database_sync_to_async(routing.assign_available)(agent_a.pk)
    assert {case.pk for case in assigned} == {chat.pk, web.pk}
    frames = [await receive_routing_frame(comm) for _ in assigned]
    assert [f["type"] for f in frames] == ["case.assigned", "case.assigned"]
    assert [(f["case_id"], f["channel"]) for f in frames] == [(chat.pk, "chat"), (web.pk, "web")]
    assert await comm.receive_nothing(timeout=0.2)  # one frame per case, no more
    await comm.disconnect()


async def test_presence_socket_closes_on_bad_message(agent_a):
    comm = communicator("/ws/presence/", agent_a)
    connected, _ = await comm.connect()
    await comm.receive_json_from()
    await comm.send_to(text_data="not json")
    output = await comm.receive_output()
    assert output == {"type": "websocket.close", "code": 4400}


async def test_supervisor_status_change_reaches_the_agent_console(agent_a, supervisor):
    comm = communicator("/ws/presence/", agent_a)
    await comm.connect()
    await comm.receive_json_from()
    await database_sync_to_async(routing.set_status)(agent_a, "paused", by=supervisor)
    assert await comm.receive_json_from(timeout=2) == {
        "type": "presence.status",
        "status": "paused",
    }
    await comm.disconnect()


def test_asgi_stack_routes_routing_sockets():
    from contactcenter.routing_ws import websocket_urlpatterns as all_patterns

    paths = {str(p.pattern) for p in all_patterns}
    assert {"ws/availability/", "ws/presence/"} <= paths
