"""The chat consumer's per-message path and background timers, without a server: the message
event carries its frame serialised once, the citizen's queue follower stops once the chat is no
longer waiting, and the agent's inactivity timer is moved rather than recreated per message."""

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
    socket.consumer.idle_task = None
    event = services.message_event(payload(3))
    await socket.consumer.chat_message(event)
    await socket.consumer.chat_message(event)  # the same message again (own copy, replay)
    assert socket.sent == [event["frame"]]
    # An event from a process of the previous version (the payload, no frame) still arrives.
    await socket.consumer.chat_message({"type": "chat.message", "message": payload(4)})
    assert [f["message"]["seq"] for f in socket.frames()] == [3, 4]


async def test_queue_follower_runs_only_while_the_chat_waits(monkeypatch):
    monkeypatch.setattr(consumers, "POSITION_INTERVAL", 0.01)
    pushes = []
    socket = Recorder("citizen", Conversation.Status.WAITING)

    async def push_position():
        pushes.append(socket.consumer.status)

    socket.consumer._push_position = push_position
    socket.consumer._follow_queue_while_waiting()
    follower = socket.consumer.queue_task
    assert follower is not None
    socket.consumer._follow_queue_while_waiting()  # already following: no second task
    assert socket.consumer.queue_task is follower
    await asyncio.sleep(0.05)
    assert pushes and set(pushes) == {"waiting"}
    # An agent takes the chat: the follower stops at its next wake-up, no timer is left.
    await socket.consumer.chat_status({"type": "chat.status", "status": "active", "agent": "A"})
    await asyncio.wait_for(follower, 1)
    count = len(pushes)
    await asyncio.sleep(0.05)
    assert len(pushes) == count
    # Requeued (the agent dropped): the position is pushed at once and followed again.
    await socket.consumer.chat_status({"type": "chat.status", "status": "waiting", "agent": ""})
    assert len(pushes) == count + 1
    assert socket.consumer.queue_task is not follower and not socket.consumer.queue_task.done()
    socket.consumer.queue_task.cancel()


def test_only_a_waiting_citizen_follows_the_queue():
    for role, status in (("agent", "waiting"), ("observer", "waiting"), ("citizen", "active")):
        socket = Recorder(role, status)
        socket.consumer._follow_queue_while_waiting()
        assert socket.consumer.queue_task is None


@pytest.fixture
def inactivity_checks(monkeypatch):
    """The timer's database check, recorded: it answers "nothing more due"."""
    checks: list = []

    async def inactivity_due(conversation_id):
        checks.append(timezone.now())

    monkeypatch.setattr(consumers, "db", lambda func: inactivity_due)
    return checks


async def test_agent_messages_move_the_running_inactivity_timer(inactivity_checks):
    socket = Recorder("agent")
    start = timezone.now()
    socket.consumer._restart_idle_timer(start + timedelta(seconds=0.05))
    timer = socket.consumer.idle_task
    # Each agent message moves the due time later: the same task sleeps on.
    socket.consumer._restart_idle_timer(start + timedelta(seconds=0.3))
    assert socket.consumer.idle_task is timer
    await asyncio.wait_for(timer, 3)
    assert len(inactivity_checks) == 1  # at the last due time only (+ 0.5 s margin)
    assert inactivity_checks[0] >= start + timedelta(seconds=0.8)
    assert socket.consumer.idle_due is None


async def test_an_earlier_due_time_restarts_the_timer(inactivity_checks):
    socket = Recorder("agent")
    start = timezone.now()
    socket.consumer._restart_idle_timer(start + timedelta(seconds=60))
    timer = socket.consumer.idle_task
    socket.consumer._restart_idle_timer(start)
    assert socket.consumer.idle_task is not timer
    await asyncio.wait_for(socket.consumer.idle_task, 3)
    assert timer.cancelled() and len(inactivity_checks) == 1


async def test_agent_message_delivered_to_the_agent_moves_the_timer(inactivity_checks):
    socket = Recorder("agent")
    socket.consumer._restart_idle_timer(timezone.now() + timedelta(seconds=60))
    timer = socket.consumer.idle_task
    await socket.consumer.chat_message(services.message_event(payload(9, kind="agent")))
    warn = services.inactivity_warn_seconds()
    assert socket.consumer.idle_task is timer
    assert socket.consumer.idle_due > timezone.now() + timedelta(seconds=warn - 5)
    timer.cancel()
