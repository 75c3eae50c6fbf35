"""Visio signalling socket through the full ASGI stack (origin check, session cookie, routing):
who may enter a room, what is relayed to whom, bad frames, the rate limit, hang-up and logout."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from contactcenter import sockets
from contactcenter.models import Event
from tests.conftest import session_cookie
from visio import protocol, services
from visio.models import Caption, Participant, Room

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

ORIGIN = b"http://testserver"
OFFER = {"type": "signal", "description": {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 0\r\n"}}
CANDIDATE = {
    "type": "signal",
    "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0"},
}


@pytest.fixture(autouse=True)
def _memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


class Communicator(WebsocketCommunicator):
    session_key = ""
    connected = False


def path(token: str) -> str:
    return f"/ws/visio/{token}/"


async def connect(token: str, user=None, *, origin: bytes = ORIGIN, session_key: str = ""):
    from contactcenter.asgi import application

    headers = [(b"origin", origin), (b"host", b"testserver")]
    if user is not None or session_key:
        key = session_key or await database_sync_to_async(session_cookie)(user)
        headers.append((b"cookie", f"sessionid={key}".encode()))
    comm = Communicator(application, path(token), headers=headers)
    comm.session_key = session_key or (key if user is not None else "")
    connected, _code = await comm.connect()
    comm.connected = connected
    return comm


async def receive(comm, kind: str | None = None, timeout: float = 2.0) -> dict:
    while True:
        output = await comm.receive_output(timeout)
        assert output["type"] == "websocket.send", output
        message = json.loads(output["text"])
        if kind is None or message["type"] == kind:
            return message


async def closed_with(comm, timeout: float = 2.0) -> int:
    while True:
        output = await comm.receive_output(timeout)
        if output["type"] == "websocket.close":
            return output.get("code")


async def send(comm, message) -> None:
    await comm.send_to(text_data=json.dumps(message))


async def join_both(tokens, citizen, agent_a, *, admit: bool = True):
    """Citizen then agent connect; the agent admits the citizen from the waiting room."""
    citizen_comm = await connect(tokens["citizen"], citizen)
    welcome = await receive(citizen_comm, "welcome")
    assert welcome["peer"] is False and welcome["admitted"] is False
    agent_comm = await connect(tokens["agent"], agent_a)
    welcome = await receive(agent_comm, "welcome")
    assert welcome["peer"] is True and welcome["role"] == "agent"
    assert welcome["peer_name"] == "Camille Martin"  # who waits
    assert (await receive(citizen_comm, "peer")) == {
        "type": "peer",
        "role": "agent",
        "present": True,
        "name": "Alice Nom",
        "admitted": False,
    }
    if admit:
        await send(agent_comm, {"type": "admit"})
        for comm in (citizen_comm, agent_comm):
            assert (await receive(comm, "admitted")) == {"type": "admitted"}
    return citizen_comm, agent_comm


# --- who may enter ------------------------------------------------------------------------------
async def test_anonymous_socket_is_closed_4401(tokens):
    comm = await connect(tokens["citizen"])
    assert await closed_with(comm) == protocol.CLOSE_UNAUTHENTICATED


async def test_socket_from_a_foreign_origin_is_refused(tokens, citizen):
    comm = await connect(tokens["citizen"], citizen, origin=b"https://evil.example.com")
    assert not comm.connected


async def test_someone_elses_token_is_refused_4404(tokens, citizen, citizen2, agent_a, agent_b):
    # The agent with the citizen's token, another citizen, an agent of another service.
    for token, user in (
        (tokens["citizen"], agent_a),
        (tokens["agent"], citizen),
        (tokens["citizen"], citizen2),
        (tokens["agent"], agent_b),
        ("unknown-token", citizen),
    ):
        comm = await connect(token, user)
        assert await closed_with(comm) == protocol.CLOSE_NOT_FOUND, (token, user)


async def test_foreign_room_token_of_another_case_is_refused(
    tokens, citizen2, case_b, agent_b, citizen
):
    from contactcenter.models import Case

    await database_sync_to_async(
        lambda: Case.objects.filter(pk=case_b.pk).update(assigned_to=agent_b, status="in_progress")
    )()
    other = await database_sync_to_async(services.open_room)(
        await database_sync_to_async(Case.objects.get)(pk=case_b.pk), agent_b
    )
    other_token = await database_sync_to_async(
        lambda: Participant.objects.get(room=other, role="citizen").token
    )()
    comm = await connect(other_token, citizen)  # citizen of room A, token of room B
    assert await closed_with(comm) == protocol.CLOSE_NOT_FOUND


async def test_ended_room_sends_ended_and_closes_4000(room, tokens, citizen):
    await database_sync_to_async(services.end_room)(room.pk, Room.EndReason.AGENT)
    comm = await connect(tokens["citizen"], citizen)
    assert (await receive(comm))["type"] == "ended"
    assert await closed_with(comm) == protocol.CLOSE_ENDED


async def test_expired_room_is_refused(room, tokens, citizen):
    from django.utils import timezone

    await database_sync_to_async(
        lambda: Room.objects.filter(pk=room.pk).update(expires_at=timezone.now())
    )()
    comm = await connect(tokens["citizen"], citizen)
    assert await closed_with(comm) == protocol.CLOSE_ENDED
    assert (await database_sync_to_async(Room.objects.get)(pk=room.pk)).end_reason == "expired"


# --- relaying -----------------------------------------------------------------------------------
async def test_offer_answer_and_candidates_reach_only_the_other_side(
    tokens, citizen, agent_a, room, supervisor
):
    citizen_comm, agent_comm = await join_both(tokens, citizen, agent_a)
    interpreter = await database_sync_to_async(services.invite_interpreter)(
        tokens["agent"], agent_a, supervisor.email
    )
    interp_comm = await connect(interpreter.token, supervisor)
    assert (await receive(interp_comm, "welcome"))["role"] == "interpreter"
    await send(agent_comm, {**OFFER, "extra": "dropped"})
    assert await receive(citizen_comm, "signal") == {
        "type": "signal",
        "description": OFFER["description"],
    }
    await send(citizen_comm, CANDIDATE)
    relayed = await receive(agent_comm, "signal")
    assert relayed["candidate"]["candidate"] == CANDIDATE["candidate"]["candidate"]
    assert relayed["candidate"]["sdpMLineIndex"] is None
    # Neither the sender nor the interpreter get signals.
    assert await citizen_comm.receive_nothing(0.2)
    while not await interp_comm.receive_nothing(0.1):
        assert (await receive(interp_comm))["type"] != "signal"
    # The interpreter may not signal.
    await send(interp_comm, OFFER)
    assert await closed_with(interp_comm) == protocol.CLOSE_FORBIDDEN
    for comm in (citizen_comm, agent_comm):
        await comm.disconnect()


async def test_call_start_is_set_when_both_are_connected(tokens, citizen, agent_a, room):
    citizen_comm, agent_comm = await join_both(tokens, citizen, agent_a)
    fresh = await database_sync_to_async(Room.objects.get)(pk=room.pk)
    assert fresh.started_at is not None
    await agent_comm.disconnect()
    assert (await receive(citizen_comm, "peer"))["present"] is False
    await citizen_comm.disconnect()


async def test_agent_caption_reaches_the_citizen_and_citizen_may_not_caption(
    tokens, citizen, agent_a
):
    citizen_comm, agent_comm = await join_both(tokens, citizen, agent_a)
    await send(agent_comm, {"type": "caption", "text": "  Bonjour,   je vous entends. "})
    caption = await receive(citizen_comm, "caption")
    assert caption["text"] == "Bonjour, je vous entends."
    assert caption["author"] == "Alice" and caption["role"] == "agent"
    await send(citizen_comm, {"type": "caption", "text": "moi aussi"})
    assert await closed_with(citizen_comm) == protocol.CLOSE_FORBIDDEN
    await agent_comm.disconnect()


# --- bad frames and limits -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[]",
        '{"type": 3}',
        '{"type": "unknown"}',
        '{"type": "signal"}',
        '{"type": "signal", "description": {"type": "pranswer", "sdp": "x"}}',
        '{"type": "signal", "description": {"type": "offer", "sdp": 5}}',
        '{"type": "signal", "candidate": {"candidate": 5}}',
        '{"type": "signal", "candidate": {"candidate": "c", "sdpMLineIndex": "0"}}',
        '{"type": "media", "audio": "yes"}',
        '{"type": "caption", "text": ""}',
        '{"type": "caption", "text": ["x"]}',
        '{"type": "keep_captions", "value": "true"}',
        '{"type": "ping", "n": NaN}',
        '{"type": "chat"}',
        '{"type": "chat", "text": "   "}',
        '{"type": "chat", "text": {"html": "<b>x</b>"}}',
        '{"type": "chat", "text": "a\\u0000b"}',
        '{"type": "chat", "text": "' + "x" * 1001 + '"}',
        '{"type": "keep_chat", "value": 1}',
        '{"type": "allow_screen"}',
    ],
)
async def test_malformed_frames_close_4400(tokens, agent_a, frame):
    comm = await connect(tokens["agent"], agent_a)
    await receive(comm, "welcome")
    await comm.send_to(text_data=frame)
    assert await closed_with(comm) == protocol.CLOSE_MALFORMED


async def test_binary_and_oversized_frames_are_refused(tokens, agent_a, citizen):
    comm = await connect(tokens["agent"], agent_a)
    await receive(comm, "welcome")
    await comm.send_to(bytes_data=b"\x00\x01")
    assert await closed_with(comm) == protocol.CLOSE_MALFORMED
    comm = await connect(tokens["citizen"], citizen)
    await receive(comm, "welcome")
    await send(comm, {"type": "ping", "pad": "x" * 70_000})
    assert await closed_with(comm) == protocol.CLOSE_TOO_LARGE


async def test_flooding_socket_is_closed_4429_and_frames_over_the_rate_are_dropped(
    tokens, citizen, agent_a, settings
):
    settings.WEBSOCKET_LIMITS = {"visio": {"frames": 4, "per": 60.0}}  # the admit and 3
    citizen_comm, agent_comm = await join_both(tokens, citizen, agent_a)
    for _ in range(3):
        await send(agent_comm, CANDIDATE)
    for _ in range(3):
        await receive(citizen_comm, "signal")
    await send(agent_comm, CANDIDATE)  # over the rate: dropped
    assert await citizen_comm.receive_nothing(0.2)
    for _ in range(sockets.FLOOD_REFUSALS):
        await send(agent_comm, CANDIDATE)
    assert await closed_with(agent_comm) == sockets.CLOSE_FLOOD
    await citizen_comm.disconnect()


# --- ending -------------------------------------------------------------------------------------
async def test_hangup_ends_for_both_and_lands_on_the_timeline(tokens, citizen, agent_a, room):
    citizen_comm, agent_comm = await join_both(tokens, citizen, agent_a)
    await send(agent_comm, {"type": "keep_captions", "value": True})
    assert (await receive(citizen_comm, "keep_captions"))["value"] is True
    await send(agent_comm, {"type": "caption", "text": "Votre dossier est complet."})
    await receive(citizen_comm, "caption")
    await send(citizen_comm, {"type": "hangup"})
    for comm in (citizen_comm, agent_comm):
        assert (await receive(comm, "ended"))["reason"] == "citizen"
        assert await closed_with(comm) == protocol.CLOSE_ENDED
    event = await database_sync_to_async(Event.objects.get)(case_id=room.case_id, type="visio")
    assert event.channel == "visio" and not event.internal
    assert event.payload["end_reason"] == "citizen"
    assert {p["role"] for p in event.payload["participants"]} == {"citizen", "agent"}
    assert event.payload["duration_seconds"] >= 0 and event.payload["started_at"]
    assert "Votre dossier est complet." in event.body
    assert not await database_sync_to_async(Caption.objects.filter(room=room).exists)()
    layer = get_channel_layer()
    assert layer.groups.get(services.room_group(room.pk), {}) == {}


async def test_second_tab_replaces_the_first(tokens, citizen):
    first = await connect(tokens["citizen"], citizen)
    await receive(first, "welcome")
    second = await connect(tokens["citizen"], citizen)
    await receive(second, "welcome")
    assert (await receive(first, "replaced"))["type"] == "replaced"
    assert await closed_with(first) == protocol.CLOSE_REPLACED
    await second.disconnect()


def logout(session_key: str) -> None:
    client = Client()
    client.cookies["sessionid"] = session_key
    assert client.post("/deconnexion/").status_code == 302


async def test_logout_closes_the_visio_socket_4401(tokens, citizen, agent_a):
    citizen_comm, agent_comm = await join_both(tokens, citizen, agent_a)
    await sync_to_async(logout)(citizen_comm.session_key)
    assert await closed_with(citizen_comm) == sockets.CLOSE_SESSION_ENDED
    await citizen_comm.disconnect()  # the browser confirms the close
    assert (await receive(agent_comm, "peer"))["present"] is False
    await agent_comm.disconnect()
