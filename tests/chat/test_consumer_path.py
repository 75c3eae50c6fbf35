"""The chat consumer's per-message path and background timers, without a server: the message
event carries its frame serialised once, the citizen's queue follower stops once the chat is no
longer waiting, and the agent's inactivity timer is moved rather than recreated per message
(the queue follower's rounds: tests/chat/test_consumers.py)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from chat import consumers, services
from chat.models import Conversation


class Recorder:
    """A ``ChatConsumer`` cut off from the network: what it sends is kept as text."""

    def __init__(self, role: str, status: str = Conversation.Status.ACTIVE):
        self.consumer = consumers.ChatConsumer()
        self.consumer.access = services.Access(role=role, conversation_id=1, case_id=1, user_id=1)
        self.consumer.delivered = consumers.DeliveryLog()
        self.consumer.status = status
        self.consumer.last_position = None
        self.sent: list[str] = []

        async def send_text(text: str) -> None:
            self.sent.append(text)

        self.consumer.send_text = send_text  # type: ignore[method-assign]

    def frames(self) -> list[dict]:
        return [json.loads(text) for text in self.sent]


def payload(seq: int, kind: str = "citizen") -> dict:
    return {
        "seq": seq,
        "client_id": f"c-{seq:09d}",
        "kind": kind,
        "author": "Camille Martin",
        "body": "Bonjour « à tous »",
        "created_at": timezone.now().isoformat(),
        "notice": "",
        "attachments": [],
    }


def test_message_event_carries_the_frame_text_once_serialised():
    event = services.message_event(payload(7))
    assert event["type"] == "chat.message" and event["seq"] == 7 and event["kind"] == "citizen"
    assert json.loads(event["frame"]) == {
        "type": "message",
        "message": payload(7) | {"created_at": event["created_at"]},
    }
    assert "«" in event["frame"]  # not escaped: the frame is sent as it is
    duplicate = json.loads(services.message_frame(payload(7), duplicate=True))
    assert duplicate["duplicate"] is True and duplicate["message"]["seq"] == 7


async def test_socket_sends_the_events_text_as_is_once_per_number():
    socket = Recorder("agent")
    event = services.message_event(payload(3))
    await socket.consumer.chat_message(event)
    await socket.consumer.chat_message(event)  # the same message again (own copy, replay)
    assert socket.sent == [event["frame"]]
    # An event from a process of the previous version (the payload, no frame) still arrives.
    await socket.consumer.chat_message({"type": "chat.message", "message": payload(4)})
    assert [f["message"]["seq"] for f in socket.frames()] == [3, 4]


def test_queue_round_stops_once_the_chat_no_longer_waits():
    socket = Recorder("citizen", Conversation.Status.ACTIVE)
    assert asyncio.run(socket.consumer._queue_round()) is None


@pytest.fixture
def inactivity_checks(monkeypatch):
    """The timer's database check, recorded: it answers "nothing more due"."""
    checks: list = []

    async def inactivity_due(conversation_id):
        checks.append(timezone.now())

    monkeypatch.setattr(consumers, "db", lambda func: inactivity_due)
    return checks


async def test_agent_messages_move_the_one_inactivity_timer(inactivity_checks):
    socket = Recorder("agent")
    start = timezone.now()
    socket.consumer._restart_idle_timer(start + timedelta(seconds=0.05))
    timer = socket.consumer.idle_timer
    assert timer is not None and timer.active
    # Each agent message moves the due time: the same timer, no task while it waits.
    socket.consumer._restart_idle_timer(start + timedelta(seconds=0.3))
    assert socket.consumer.idle_timer is timer and timer.task is None
    await asyncio.sleep(1.2)
    assert len(inactivity_checks) == 1  # at the last due time only (+ 0.5 s margin)
    assert inactivity_checks[0] >= start + timedelta(seconds=0.8)
    assert not timer.active  # nothing more due: no timer left


async def test_agent_message_delivered_to_the_agent_moves_the_timer(inactivity_checks):
    socket = Recorder("agent")
    socket.consumer._restart_idle_timer(timezone.now() + timedelta(seconds=60))
    timer = socket.consumer.idle_timer
    assert timer is not None and timer.handle is not None
    await socket.consumer.chat_message(services.message_event(payload(9, kind="agent")))
    warn = services.inactivity_warn_seconds()
    assert socket.consumer.idle_timer is timer and timer.handle is not None
    assert timer.handle.when() > asyncio.get_running_loop().time() + warn - 5
    timer.stop()
