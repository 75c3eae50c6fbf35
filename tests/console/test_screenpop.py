"""Screen-pop: chats and callbacks given to an agent open in their workstation."""

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

import routing
from console import screenpop
from routing.ws_urls import websocket_urlpatterns
from tests.routing.conftest import make_case, set_available

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from channels.layers import get_channel_layer

    return get_channel_layer()


def communicator(user):
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/presence/")
    comm.scope["user"] = user
    return comm


async def frames_until(comm, kind):
    while True:
        frame = await comm.receive_json_from(timeout=2)
        if frame["type"] == kind:
            return frame


async def test_assigned_chat_pops_on_the_agents_socket(agent_a, citizen, topic_a, layer):
    await database_sync_to_async(set_available)(agent_a)
    comm = communicator(agent_a)
    assert (await comm.connect())[0]
    case = await database_sync_to_async(make_case)(citizen, topic_a, channel="chat")
    await database_sync_to_async(routing.route_case)(case.pk)
    frame = await frames_until(comm, "workstation.open")
    item = frame["item"]
    assert item["reference"] == case.reference and item["channel"] == "chat"
    assert item["citizen_url"] == f"/console/poste/demandes/{case.reference}/usager/"
    assert item["focus"] is True
    await comm.disconnect()


async def test_written_message_does_not_pop_but_open_item_does(agent_a, citizen, topic_a, layer):
    await database_sync_to_async(set_available)(agent_a)
    comm = communicator(agent_a)
    assert (await comm.connect())[0]
    await comm.receive_json_from()  # presence.status
    case = await database_sync_to_async(make_case)(citizen, topic_a, channel="web")
    await database_sync_to_async(routing.route_case)(case.pk)
    assert (await comm.receive_json_from(timeout=2))["type"] == "case.assigned"
    assert await comm.receive_nothing(timeout=0.2)
    # A future channel (phone, e-mail, visio) calls the API itself.
    await database_sync_to_async(screenpop.open_item)(agent_a.pk, case.pk, focus=False)
    frame = await comm.receive_json_from(timeout=2)
    assert frame["type"] == "workstation.open"
    assert frame["item"]["url"] == f"/console/poste/demandes/{case.reference}/"
    assert frame["item"]["kind"] == "case" and frame["item"]["focus"] is False
    await comm.disconnect()


def test_nothing_is_published_when_the_transaction_rolls_back(agent_a, case_a, layer, monkeypatch):
    from django.db import transaction

    sent = []
    monkeypatch.setattr(routing, "group_send", lambda group, message: sent.append(group))
    with pytest.raises(RuntimeError), transaction.atomic():
        screenpop.open_item(agent_a.pk, case_a)
        raise RuntimeError
    assert sent == []
    screenpop.open_item(agent_a.pk, case_a)
    assert sent == [f"agent-{agent_a.pk}"]


def test_a_channel_rings_an_agent_through_the_core_signal(agent_a, case_a, layer, monkeypatch):
    from contactcenter.signals import screen_pop

    sent = []
    monkeypatch.setattr(routing, "group_send", lambda group, message: sent.append(message))
    screen_pop.send(sender=None, case_id=case_a.pk, agent_id=agent_a.pk, focus=False)
    assert sent == [
        {
            "type": "workstation.open",
            "item": {
                "reference": case_a.reference,
                "kind": "case",
                "url": f"/console/poste/demandes/{case_a.reference}/",
                "title": case_a.citizen.display_name,
                "channel": "web",
                "citizen_url": f"/console/poste/demandes/{case_a.reference}/usager/",
                "focus": False,
            },
        }
    ]
