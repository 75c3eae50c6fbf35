"""Visio socket: the waiting room (no media before the agent admits the citizen), the text chat
beside the video (plain text, rate-limited, in the case only if the agent chooses) and the
agent's leave for the citizen's screen share. Through the full ASGI stack."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from contactcenter import sockets
from contactcenter.models import Event
from tests.visio.test_consumers import (
    CANDIDATE,
    OFFER,
    _memory_layer,  # noqa: F401 (autouse fixture)
    closed_with,
    connect,
    join_both,
    receive,
    send,
)
from visio import protocol
from visio.models import Caption, Room

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

MARKUP = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


async def fresh_room(room) -> Room:
    return await database_sync_to_async(Room.objects.get)(pk=room.pk)


# --- waiting room -------------------------------------------------------------------------------
async def test_no_media_reaches_the_waiting_citizen_until_the_agent_admits(
    tokens, citizen, agent_a, room
):
    citizen_comm, agent_comm = await join_both(tokens, citizen, agent_a, admit=False)
    # The agent sees who waits (name, not admitted).
    await send(citizen_comm, {"type": "ping"})
    assert (await fresh_room(room)).started_at is None
    # Media state and any offer of the agent stay on the server.
    await send(agent_comm, {"type": "media", "audio": True, "video": True})
    await send(agent_comm, OFFER)
    await send(agent_comm, CANDIDATE)
    assert await citizen_comm.receive_nothing(0.2)
    # The citizen's media state is not relayed either.
    await send(citizen_comm, {"type": "media", "audio": True, "video": True})
    assert await agent_comm.receive_nothing(0.2)
    # Only the agent admits.
    await send(citizen_comm, {"type": "admit"})
    assert await closed_with(citizen_comm) == protocol.CLOSE_FORBIDDEN
    citizen_comm = await connect(tokens["citizen"], citizen)
    welcome = await receive(citizen_comm, "welcome")
    assert welcome["admitted"] is False and welcome["peer"] is True
    assert welcome["peer_name"] == "Alice Nom"
    peer = await receive(agent_comm, "peer")
    assert peer["present"] is True and peer["name"] == "Camille Martin"
    assert peer["admitted"] is False
    await send(agent_comm, {"type": "admit"})
    for comm in (citizen_comm, agent_comm):
        assert (await receive(comm, "admitted"))["type"] == "admitted"
    assert (await fresh_room(room)).started_at is not None
    await send(agent_comm, OFFER)
    assert (await receive(citizen_comm, "signal"))["description"] == OFFER["description"]
    await send(agent_comm, {"type": "media", "audio": True, "video": False})
    assert (await receive(citizen_comm, "media"))["video"] is False
    # Admitting twice changes nothing; a reconnection stays admitted.
    await send(agent_comm, {"type": "admit"})
    assert await citizen_comm.receive_nothing(0.2)
    await citizen_comm.disconnect()
    citizen_comm = await connect(tokens["citizen"], citizen)
    assert (await receive(citizen_comm, "welcome"))["admitted"] is True
    for comm in (citizen_comm, agent_comm):
        await comm.disconnect()


async def test_citizen_signalling_before_admission_is_closed_4403(tokens, citizen, agent_a):
    citizen_comm, agent_comm = await join_both(tokens, citizen, agent_a, admit=False)
    await send(citizen_comm, CANDIDATE)
    assert await closed_with(citizen_comm) == protocol.CLOSE_FORBIDDEN
    await citizen_comm.disconnect()  # the browser confirms the close
    assert (await receive(agent_comm, "peer"))["present"] is False
    await agent_comm.disconnect()


# --- chat ---------------------------------------------------------------------------------------
async def test_chat_is_plain_text_for_everyone_and_kept_only_if_the_agent_chooses(
    tokens, citizen, agent_a, room
):
    citizen_comm, agent_comm = await join_both(tokens, citizen, agent_a, admit=False)
    # Chat works in the waiting room already, for both sides; markup is just text.
    await send(citizen_comm, {"type": "chat", "text": f"  {MARKUP}\n\n  ligne   deux "})
    for comm in (citizen_comm, agent_comm):
        message = await receive(comm, "chat")
        assert message["text"] == f"{MARKUP}\nligne deux"
        assert message["role"] == "citizen" and message["author"] == "Camille"
    await send(agent_comm, {"type": "chat", "text": "https://www.impots.gouv.fr/formulaire"})
    assert (await receive(citizen_comm, "chat"))["role"] == "agent"
    stored = await database_sync_to_async(
        lambda: list(Caption.objects.filter(room=room).values_list("kind", flat=True))
    )()
    assert stored == ["chat", "chat"]
    # The citizen may not choose what goes into the case.
    await send(citizen_comm, {"type": "keep_chat", "value": True})
    assert await closed_with(citizen_comm) == protocol.CLOSE_FORBIDDEN
    citizen_comm = await connect(tokens["citizen"], citizen)
    await receive(citizen_comm, "welcome")
    await send(agent_comm, {"type": "admit"})
    await send(agent_comm, {"type": "keep_chat", "value": True})
    assert (await receive(citizen_comm, "keep_chat"))["value"] is True
    await send(agent_comm, {"type": "hangup"})
    for comm in (citizen_comm, agent_comm):
        await receive(comm, "ended")
    event = await database_sync_to_async(Event.objects.get)(case_id=room.case_id, type="visio")
    assert MARKUP in event.body and "impots.gouv.fr" in event.body
    assert event.payload["chat_kept"] is True and event.payload["captions_kept"] is False
    assert not await database_sync_to_async(Caption.objects.filter(room=room).exists)()


async def test_chat_is_not_kept_by_default(tokens, citizen, agent_a, room):
    citizen_comm, agent_comm = await join_both(tokens, citizen, agent_a)
    await send(citizen_comm, {"type": "chat", "text": "Mon numéro fiscal est 1234"})
    await receive(agent_comm, "chat")
    await send(agent_comm, {"type": "hangup"})
    await receive(citizen_comm, "ended")
    event = await database_sync_to_async(Event.objects.get)(case_id=room.case_id, type="visio")
    assert "1234" not in event.body and event.payload["chat_kept"] is False


async def test_chat_over_the_rate_is_refused_then_a_flood_closes_4429(
    tokens, citizen, agent_a, room, settings
):
    settings.VISIO_CHAT_RATE = 2
    citizen_comm, agent_comm = await join_both(tokens, citizen, agent_a)
    for n in range(2):
        await send(citizen_comm, {"type": "chat", "text": f"message {n}"})
        await receive(agent_comm, "chat")
    await send(citizen_comm, {"type": "chat", "text": "de trop"})
    assert (await receive(citizen_comm, "error"))["code"] == "chat_rate"
    assert await agent_comm.receive_nothing(0.2)
    for _ in range(sockets.FLOOD_REFUSALS):
        await send(citizen_comm, {"type": "chat", "text": "encore"})
    assert await closed_with(citizen_comm) == sockets.CLOSE_FLOOD
    count = await database_sync_to_async(Caption.objects.filter(room=room, kind="chat").count)()
    assert count == 2
    await agent_comm.disconnect()


# --- screen share -------------------------------------------------------------------------------
async def test_citizen_shares_the_screen_only_with_the_agents_leave(tokens, citizen, agent_a):
    citizen_comm, agent_comm = await join_both(tokens, citizen, agent_a)
    await send(citizen_comm, {"type": "allow_screen", "value": True})
    assert await closed_with(citizen_comm) == protocol.CLOSE_FORBIDDEN
    citizen_comm = await connect(tokens["citizen"], citizen)
    assert (await receive(citizen_comm, "welcome"))["screen_allowed"] is False
    await send(citizen_comm, {"type": "media", "audio": True, "video": True, "screen": True})
    assert await closed_with(citizen_comm) == protocol.CLOSE_FORBIDDEN
    citizen_comm = await connect(tokens["citizen"], citizen)
    await receive(citizen_comm, "welcome")
    await send(agent_comm, {"type": "allow_screen", "value": True})
    assert (await receive(citizen_comm, "screen_allowed"))["value"] is True
    await send(citizen_comm, {"type": "media", "audio": True, "video": False, "screen": True})
    assert (await receive(agent_comm, "media"))["screen"] is True
    for comm in (citizen_comm, agent_comm):
        await comm.disconnect()
