"""Automatic captions on the visio socket (visio/autocaptions.py), through the full ASGI stack:
the switch, audio frames cut into utterances and their text shown to both sides and kept like
the typed captions; bad frames, the audio rate limit, a busy recogniser, no backend. The
recogniser here reports how much audio it was given (the real one, in a browser, is
tests/e2e/test_visio_captions.py)."""

from __future__ import annotations

import array
import math
import threading

import pytest
from channels.db import database_sync_to_async

from contactcenter import sockets, speech
from contactcenter.models import Event
from tests.visio.test_consumers import closed_with, connect, join_both, receive, send
from visio import conf, protocol, services
from visio.models import Caption, Room

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def _memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def heard(monkeypatch):
    """A configured backend that writes how many seconds of audio each utterance had."""
    utterances: list[bytes] = []

    def transcribe(pcm, language="fr", hints=""):
        utterances.append(pcm)
        return speech.Transcript(f"phrase de {len(pcm) / 32000:.1f} secondes", 0.9)

    monkeypatch.setattr(speech, "configured", lambda: True)
    monkeypatch.setattr(speech, "transcribe", transcribe)
    return utterances


def frames(seconds: float, loud: bool) -> list[bytes]:
    """250 ms binary frames (16 kHz PCM) of a 440 Hz tone or a faint one."""
    amplitude = 6000 if loud else 50
    samples = array.array(
        "h",
        (
            int(amplitude * math.sin(2 * math.pi * 440 * i / 16000))
            for i in range(round(seconds * 16000))
        ),
    )
    return [samples[i : i + 4000].tobytes() for i in range(0, len(samples), 4000)]


async def speak(comm, seconds: float = 1.5) -> None:
    for frame in frames(seconds, True) + frames(1.0, False):
        await comm.send_to(bytes_data=frame)


async def switch_on(comm, *others) -> None:
    await send(comm, {"type": "auto_captions", "value": True})
    for each in (comm, *others):
        assert (await receive(each, "auto_captions")) == {"type": "auto_captions", "value": True}


async def test_speech_of_the_citizen_is_captioned_for_both_and_kept(
    heard, tokens, citizen, agent_a, room
):
    citizen_comm, agent_comm = await join_both(tokens, citizen, agent_a)
    await speak(citizen_comm)  # before the switch: not heard
    assert await agent_comm.receive_nothing(0.3)
    assert heard == []
    await switch_on(citizen_comm, agent_comm)  # the citizen asks for them
    await speak(citizen_comm)
    for comm in (agent_comm, citizen_comm):
        line = await receive(comm, "auto_caption", timeout=5)
        assert line["role"] == "citizen" and line["author"] == "Camille"
        assert line["text"] == "phrase de 2.3 secondes"  # 1.5 s of sound, 0.8 s of quiet
    assert len(heard) == 1
    await send(agent_comm, {"type": "keep_captions", "value": True})
    await receive(citizen_comm, "keep_captions")
    await database_sync_to_async(services.end_room)(room.pk, Room.EndReason.AGENT)
    event = await database_sync_to_async(Event.objects.get)(case=room.case, type="visio")
    assert "Sous-titres automatiques :" in event.body
    assert "Camille Martin : phrase de 2.3 secondes" in event.body
    assert not await database_sync_to_async(Caption.objects.filter(room=room).exists)()


async def test_switching_off_stops_the_captions(heard, tokens, citizen, agent_a, room):
    citizen_comm, agent_comm = await join_both(tokens, citizen, agent_a)
    await switch_on(agent_comm, citizen_comm)
    assert (await database_sync_to_async(Room.objects.get)(pk=room.pk)).auto_captions
    await send(citizen_comm, {"type": "auto_captions", "value": False})
    await receive(agent_comm, "auto_captions")
    await receive(citizen_comm, "auto_captions")
    await speak(agent_comm)  # frames in flight after the switch-off: dropped quietly
    assert await citizen_comm.receive_nothing(0.3)
    assert heard == []


async def test_bad_audio_frames_close_the_socket(heard, tokens, citizen, agent_a, settings):
    citizen_comm, agent_comm = await join_both(tokens, citizen, agent_a)
    await citizen_comm.send_to(bytes_data=b"\x00\x01\x02")  # not whole samples
    assert await closed_with(citizen_comm) == protocol.CLOSE_MALFORMED
    await agent_comm.send_to(bytes_data=b"\x00" * (conf.get("AUDIO_MAX_BYTES") + 2))
    assert await closed_with(agent_comm) == protocol.CLOSE_TOO_LARGE


async def test_an_interpreter_cannot_push_audio(heard, tokens, agent_a, supervisor):
    interpreter = await database_sync_to_async(services.invite_interpreter)(
        tokens["agent"], agent_a, supervisor.email
    )
    comm = await connect(interpreter.token, supervisor)
    await receive(comm, "welcome")
    await comm.send_to(bytes_data=frames(0.25, True)[0])
    assert await closed_with(comm) == protocol.CLOSE_FORBIDDEN
    comm = await connect(interpreter.token, supervisor)
    await receive(comm, "welcome")
    await send(comm, {"type": "auto_captions", "value": True})
    assert await closed_with(comm) == protocol.CLOSE_FORBIDDEN


async def test_audio_over_the_rate_is_refused_then_a_flood_closes_4429(
    heard, tokens, citizen, agent_a, settings
):
    settings.VISIO_AUDIO_RATE = 4
    settings.VISIO_AUDIO_RATE_SECONDS = 60.0
    citizen_comm, agent_comm = await join_both(tokens, citizen, agent_a)
    await switch_on(citizen_comm, agent_comm)
    quiet = frames(0.25, False)[0]
    for _ in range(4):
        await citizen_comm.send_to(bytes_data=quiet)
    assert await citizen_comm.receive_nothing(0.2)
    await citizen_comm.send_to(bytes_data=quiet)
    assert (await receive(citizen_comm, "error"))["code"] == "audio_rate"
    for _ in range(sockets.FLOOD_REFUSALS):
        await citizen_comm.send_to(bytes_data=quiet)
    assert await closed_with(citizen_comm) == sockets.CLOSE_FLOOD


async def test_a_busy_recogniser_skips_an_utterance_with_a_notice(
    monkeypatch, tokens, citizen, agent_a, settings
):
    settings.VISIO_AUDIO_RATE = 100  # faster than real time: three utterances at once
    release = threading.Event()

    def slow(pcm, language="fr", hints=""):
        release.wait(5)
        return speech.Transcript("enfin", 0.9)

    monkeypatch.setattr(speech, "configured", lambda: True)
    monkeypatch.setattr(speech, "transcribe", slow)
    citizen_comm, agent_comm = await join_both(tokens, citizen, agent_a)
    await switch_on(agent_comm, citizen_comm)
    for _ in range(speech.MAX_PENDING + 1):
        await speak(agent_comm, 0.5)
    assert (await receive(agent_comm, "error"))["code"] == "auto_captions_busy"
    release.set()
    texts = [(await receive(citizen_comm, "auto_caption", timeout=5))["text"] for _ in range(2)]
    assert texts == ["enfin", "enfin"]
    assert await citizen_comm.receive_nothing(0.3)


async def test_without_a_backend_there_are_no_automatic_captions(
    monkeypatch, tokens, citizen, agent_a
):
    monkeypatch.setattr(speech, "configured", lambda: False)
    citizen_comm = await connect(tokens["citizen"], citizen)
    welcome = await receive(citizen_comm, "welcome")
    assert welcome["auto_captions_available"] is False and welcome["auto_captions"] is False
    await send(citizen_comm, {"type": "auto_captions", "value": True})
    assert (await receive(citizen_comm, "error"))["code"] == "auto_captions_unavailable"
    await citizen_comm.send_to(bytes_data=frames(0.25, True)[0])
    assert await closed_with(citizen_comm) == protocol.CLOSE_MALFORMED
