"""A chat socket lives no longer than the login session that opened it (docs/realtime.md)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from chat.consumers import db
from contactcenter.sockets import CLOSE_SESSION_ENDED

from .conftest import ORIGIN, application, closed_with, receive_until, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


async def joined_with_session(conversation, user):
    key = await db(session_cookie)(user)
    comm = WebsocketCommunicator(
        application(),
        f"/ws/tchat/{conversation.pk}/",
        headers=[(b"origin", ORIGIN), (b"cookie", f"sessionid={key}".encode())],
    )
    connected, _ = await comm.connect()
    assert connected
    assert (await comm.receive_json_from())["type"] == "state"
    await comm.send_json_to({"type": "sync", "last_seq": 0})
    history = await receive_until(comm, lambda f: f["type"] == "history")
    assert history["messages"]
    return comm, key


def logout(session_key: str) -> None:
    client = Client()
    client.cookies["sessionid"] = session_key
    assert client.post("/deconnexion/").status_code == 302


async def test_logout_closes_the_open_chat_socket_which_no_longer_answers_sync(
    live_chat, citizen, agent_a
):
    comm, key = await joined_with_session(live_chat, citizen)
    agent, _ = await joined_with_session(live_chat, agent_a)
    await sync_to_async(logout)(key)
    assert await closed_with(comm) == CLOSE_SESSION_ENDED
    await comm.send_json_to({"type": "sync", "last_seq": 0})
    assert await comm.receive_nothing(timeout=0.5)  # no history after the logout
    # The agent's session is not the citizen's: their socket still works.
    await agent.send_json_to({"type": "sync", "last_seq": 0})
    assert (await receive_until(agent, lambda f: f["type"] == "history"))["complete"]
    await comm.disconnect()
    await agent.disconnect()


async def test_password_change_closes_the_open_chat_socket(live_chat, citizen):
    comm, _key = await joined_with_session(live_chat, citizen)

    def change_password():
        citizen.set_password("un-autre-mot-de-passe-2026")
        citizen.save()

    await db(change_password)()
    assert await closed_with(comm) == CLOSE_SESSION_ENDED
    await comm.send_json_to({"type": "sync", "last_seq": 0})
    assert await comm.receive_nothing(timeout=0.5)
    await comm.disconnect()
