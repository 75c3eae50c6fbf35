"""Chat websockets through the real ASGI stack (origin check, session auth, routing)."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

import routing
from chat import consumers, services
from chat.consumers import db
from chat.models import ChatMessage, Conversation, group_name
from contactcenter.models import AuditLog, Case

from .conftest import closed_with, open_socket, receive_message, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


def chat_path(conversation) -> str:
    return f"/ws/tchat/{conversation.pk}/"


async def joined(conversation, user):
    """Open a socket, read the state frame and replay everything; returns (socket, state)."""
    comm = await open_socket(chat_path(conversation), user)
    state = await comm.receive_json_from()
    assert state["type"] == "state"
    await comm.send_json_to({"type": "sync", "last_seq": 0})
    history = await receive_until(comm, lambda f: f["type"] == "history")
    comm.history = history["messages"]
    return comm, state


def message_rows(conversation):
    return list(
        ChatMessage.objects.filter(conversation=conversation)
        .order_by("seq")
        .values_list("seq", "kind", "body")
    )


# --- authentication and permissions ------------------------------------------------------------


async def test_anonymous_socket_is_closed_with_4401(live_chat):
    comm = await open_socket(chat_path(live_chat))
    assert await closed_with(comm) == consumers.CLOSE_UNAUTHENTICATED


async def test_socket_from_a_foreign_origin_is_refused(live_chat, citizen):
    comm = await open_socket(
        chat_path(live_chat), citizen, origin=b"https://evil.example", accept=False
    )
    assert comm.was_accepted is False


async def test_citizen_cannot_join_another_citizens_chat(live_chat, citizen2):
    comm = await open_socket(chat_path(live_chat), citizen2)
    assert await closed_with(comm) == consumers.CLOSE_NOT_FOUND


async def test_unknown_conversation_looks_like_someone_elses(citizen):
    comm = await open_socket("/ws/tchat/999999/", citizen)
    assert await closed_with(comm) == consumers.CLOSE_NOT_FOUND


async def test_agent_joins_only_a_chat_assigned_to_them(live_chat, agent_b, service_a, skill_a):
    from tests.conftest import make_staff

    colleague = await db(make_staff)(
        "collegue@guichet.example.fr", "agent", [service_a], [skill_a], first="Paul"
    )
    for intruder in (colleague, agent_b):  # same service but not assigned; other service
        comm = await open_socket(chat_path(live_chat), intruder)
        assert await closed_with(comm) == consumers.CLOSE_NOT_FOUND


async def test_supervisor_observes_read_only_and_is_audited(live_chat, supervisor, citizen):
    observer, state = await joined(live_chat, supervisor)
    assert state["role"] == "observer"
    assert await db(AuditLog.objects.filter(actor=supervisor, case_id=live_chat.case_id).exists)()
    citizen_socket, _ = await joined(live_chat, citizen)
    await citizen_socket.send_json_to(
        {"type": "message", "client_id": "obs-0000001", "body": "Bonjour ?"}
    )
    assert (await receive_message(observer, client_id="obs-0000001"))["body"] == "Bonjour ?"
    await observer.send_json_to({"type": "message", "client_id": "obs-0000002", "body": "Hop"})
    error = await receive_until(observer, lambda f: f["type"] == "error")
    assert error["code"] == "read_only"
    assert not await db(ChatMessage.objects.filter(client_id="obs-0000002").exists)()
    await observer.disconnect()
    await citizen_socket.disconnect()


async def test_supervisor_of_another_service_cannot_observe(live_chat, service_b):
    from tests.conftest import make_staff

    other = await db(make_staff)(
        "sup.b@guichet.example.fr", "supervisor", [service_b], first="Yves"
    )
    comm = await open_socket(chat_path(live_chat), other)
    assert await closed_with(comm) == consumers.CLOSE_NOT_FOUND


# --- delivery, sequence numbers, replay ----------------------------------------------------------


async def test_message_is_committed_before_it_is_broadcast(live_chat, citizen, agent_a):
    layer = get_channel_layer()
    seen_in_db = []
    original = layer.group_send

    def committed_row_exists(client_id):
        # A fresh connection in another thread only sees committed rows.
        from django.db import connection

        try:
            return ChatMessage.objects.filter(client_id=client_id).exists()
        finally:
            connection.close()

    async def spying_group_send(group, message):
        if message.get("type") == "chat.message":
            client_id = json.loads(message["frame"])["message"]["client_id"]
            seen_in_db.append(
                await sync_to_async(committed_row_exists, thread_sensitive=False)(client_id)
            )
        return await original(group, message)

    layer.group_send = spying_group_send
    try:
        citizen_socket, _ = await joined(live_chat, citizen)
        agent_socket, _ = await joined(live_chat, agent_a)
        await citizen_socket.send_json_to(
            {"type": "message", "client_id": "commit-00001", "body": "Vous êtes là ?"}
        )
        delivered = await receive_message(agent_socket, client_id="commit-00001")
        assert delivered["kind"] == "citizen"
        assert seen_in_db == [True]
    finally:
        layer.group_send = original
    await citizen_socket.disconnect()
    await agent_socket.disconnect()


async def test_messages_are_numbered_and_delivered_with_time_and_agent_first_name(
    live_chat, citizen, agent_a
):
    citizen_socket, _ = await joined(live_chat, citizen)
    agent_socket, _ = await joined(live_chat, agent_a)
    start_seq = live_chat.last_seq
    await agent_socket.send_json_to(
        {"type": "message", "client_id": "agent-000001", "body": "Bonjour, je regarde."}
    )
    received = await receive_message(citizen_socket, client_id="agent-000001")
    assert received["seq"] == start_seq + 1
    assert received["kind"] == "agent"
    assert received["author"] == "Alice"  # first name only
    assert received["created_at"]
    await citizen_socket.send_json_to(
        {"type": "message", "client_id": "citizen-0001", "body": "Merci !"}
    )
    assert (await receive_message(agent_socket, client_id="citizen-0001"))["seq"] == start_seq + 2
    rows = await db(message_rows)(live_chat)
    assert [seq for seq, _kind, _body in rows] == list(range(1, start_seq + 3))
    await citizen_socket.disconnect()
    await agent_socket.disconnect()


async def test_reconnecting_client_gets_exactly_what_it_missed(live_chat, citizen, agent_a):
    citizen_socket, _ = await joined(live_chat, citizen)
    held = citizen_socket.history[-1]["seq"]
    await citizen_socket.disconnect()  # network loss
    agent_socket, _ = await joined(live_chat, agent_a)
    for n in range(3):
        await agent_socket.send_json_to(
            {"type": "message", "client_id": f"missed-{n:05d}", "body": f"Réponse {n}"}
        )
        await receive_message(agent_socket, client_id=f"missed-{n:05d}")
    back = await open_socket(chat_path(live_chat), citizen)
    await back.receive_json_from()
    await back.send_json_to({"type": "sync", "last_seq": held})
    history = await receive_until(back, lambda f: f["type"] == "history")
    assert [m["body"] for m in history["messages"]] == ["Réponse 0", "Réponse 1", "Réponse 2"]
    assert [m["seq"] for m in history["messages"]] == [held + 1, held + 2, held + 3]
    assert history["complete"] is True
    await back.disconnect()
    await agent_socket.disconnect()


async def test_replay_of_a_long_conversation_comes_in_chunks(live_chat, citizen, agent_a):
    def fill():
        for n in range(services.HISTORY_CHUNK + 5):
            services.post_message(live_chat.pk, agent_a, f"Ligne {n}", f"bulk-{n:06d}")

    await db(fill)()
    comm = await open_socket(chat_path(live_chat), citizen)
    await comm.receive_json_from()
    await comm.send_json_to({"type": "sync", "last_seq": 0})
    first = await receive_until(comm, lambda f: f["type"] == "history")
    second = await receive_until(comm, lambda f: f["type"] == "history")
    assert first["complete"] is False and second["complete"] is True
    seqs = [m["seq"] for m in first["messages"] + second["messages"]]
    assert seqs == list(range(1, len(seqs) + 1))
    await comm.disconnect()


async def test_resent_client_id_is_stored_once(live_chat, citizen, agent_a):
    citizen_socket, _ = await joined(live_chat, citizen)
    agent_socket, _ = await joined(live_chat, agent_a)
    frame = {"type": "message", "client_id": "resend-00001", "body": "Une seule fois"}
    await citizen_socket.send_json_to(frame)
    first = await receive_until(citizen_socket, lambda f: f["type"] == "message")
    await citizen_socket.send_json_to(frame)  # the ack was lost: the browser resends
    again = await receive_until(citizen_socket, lambda f: f["type"] == "message")
    assert again["duplicate"] is True
    assert again["message"]["seq"] == first["message"]["seq"]
    count = await db(
        ChatMessage.objects.filter(conversation=live_chat, client_id="resend-00001").count
    )()
    assert count == 1
    # The agent's socket shows it once even though it was broadcast twice.
    await receive_message(agent_socket, client_id="resend-00001")
    await agent_socket.send_json_to({"type": "ping"})
    assert (await agent_socket.receive_json_from()) == {"type": "pong"}
    await citizen_socket.disconnect()
    await agent_socket.disconnect()


async def test_html_travels_as_text_and_is_never_interpreted(live_chat, citizen, agent_a):
    citizen_socket, _ = await joined(live_chat, citizen)
    body = '<img src=x onerror="alert(1)"> & <script>alert(2)</script>'
    await citizen_socket.send_json_to(
        {"type": "message", "client_id": "html-0000001", "body": body}
    )
    message = await receive_message(citizen_socket, client_id="html-0000001")
    assert message["body"] == body  # data, rendered with textContent by the browser
    await citizen_socket.disconnect()


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [("", "required"), ("   \n ", "required"), ("x" * 4001, "max_length"), (42, "invalid")],
)
async def test_message_outside_1_to_4000_chars_is_refused(live_chat, citizen, body, code):
    comm, _ = await joined(live_chat, citizen)
    await comm.send_json_to({"type": "message", "client_id": "bad-body-001", "body": body})
    error = await receive_until(comm, lambda f: f["type"] == "error")
    assert error["code"] == code
    assert error["client_id"] == "bad-body-001"
    assert error["message"]
    await comm.send_json_to({"type": "message", "client_id": "max-body-001", "body": "é" * 4000})
    assert len((await receive_message(comm, client_id="max-body-001"))["body"]) == 4000
    await comm.disconnect()


async def test_invalid_client_id_is_refused(live_chat, citizen):
    comm, _ = await joined(live_chat, citizen)
    await comm.send_json_to({"type": "message", "client_id": "<x>", "body": "Bonjour"})
    assert (await receive_until(comm, lambda f: f["type"] == "error"))["code"] == (
        "invalid_client_id"
    )
    await comm.disconnect()


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", consumers.CLOSE_BAD_FRAME),
        ("[1, 2]", consumers.CLOSE_BAD_FRAME),
        ('{"body": "sans type"}', consumers.CLOSE_BAD_FRAME),
        ('{"type": "delete_everything"}', consumers.CLOSE_BAD_FRAME),
        (json.dumps({"type": "message", "body": "x" * 40000}), consumers.CLOSE_TOO_LARGE),
    ],
)
async def test_bad_frames_close_with_documented_code_and_are_logged(live_chat, citizen, raw, code):
    # A handler on the chat's own logger, not caplog's on the root: a Celery worker of
    # another test may reapply settings.LOGGING (dictConfig resets the root's handlers).
    captured = _Records()
    chat_logger = logging.getLogger("guichet.chat")
    chat_logger.addHandler(captured)
    try:
        comm, _ = await joined(live_chat, citizen)
        await comm.send_to(text_data=raw)
        assert await closed_with(comm) == code
    finally:
        chat_logger.removeHandler(captured)
    assert any(f"code={code}" in record.getMessage() for record in captured.records)
    await comm.disconnect()


async def test_binary_frame_closes_4400(live_chat, citizen):
    comm, _ = await joined(live_chat, citizen)
    await comm.send_to(bytes_data=b"\x00\x01")
    assert await closed_with(comm) == consumers.CLOSE_BAD_FRAME


async def test_more_than_5_frames_per_second_are_refused_then_flooding_closes(live_chat, citizen):
    comm, _ = await joined(live_chat, citizen)
    await asyncio.sleep(1.05)  # the sync frame of ``joined`` counted in this second
    for n in range(6):
        await comm.send_json_to(
            {"type": "message", "client_id": f"rate-{n:07d}", "body": f"Message {n}"}
        )
    frames = [await comm.receive_json_from() for _ in range(6)]
    stored = [f for f in frames if f["type"] == "message"]
    refused = [f for f in frames if f["type"] == "error"]
    assert len(stored) == 5
    assert [f["code"] for f in refused] == ["rate_limited"]
    assert refused[0]["client_id"] == "rate-0000005"
    count = await db(ChatMessage.objects.filter(client_id__startswith="rate-").count)()
    assert count == 5
    for n in range(consumers.FLOOD_REFUSALS + 5):
        await comm.send_json_to({"type": "ping"})
    assert await closed_with(comm) == consumers.CLOSE_FLOOD


def test_rate_limiter_window_slides():
    limiter = consumers.RateLimiter(limit=5, window=1.0)
    assert all(limiter.allow(now=0.1 * n) for n in range(5))
    assert limiter.allow(now=0.5) is False
    assert limiter.allow(now=1.01) is True  # the first frame left the window


# --- groups, typing, read marks ------------------------------------------------------------------


async def test_groups_are_empty_after_disconnect(live_chat, citizen, agent_a, supervisor):
    layer = get_channel_layer()
    sockets = [(await joined(live_chat, user))[0] for user in (citizen, agent_a, supervisor)]
    assert len(layer.groups.get(group_name(live_chat.pk), {})) == 3
    for comm in sockets:
        await comm.disconnect()
    assert layer.groups.get(group_name(live_chat.pk), {}) == {}


async def test_refused_socket_never_joins_the_group(live_chat, citizen2):
    comm = await open_socket(chat_path(live_chat), citizen2)
    await closed_with(comm)
    assert get_channel_layer().groups.get(group_name(live_chat.pk), {}) == {}


async def test_typing_reaches_the_other_side_only(live_chat, citizen, agent_a):
    citizen_socket, _ = await joined(live_chat, citizen)
    agent_socket, _ = await joined(live_chat, agent_a)
    await agent_socket.send_json_to({"type": "typing", "active": True})
    typing = await receive_until(citizen_socket, lambda f: f["type"] == "typing")
    assert typing == {"type": "typing", "role": "agent", "author": "Alice", "active": True}
    await agent_socket.send_json_to({"type": "ping"})
    assert await agent_socket.receive_json_from() == {"type": "pong"}  # no echo of its own typing
    await citizen_socket.send_json_to({"type": "typing", "active": True})
    typing = await receive_until(agent_socket, lambda f: f["type"] == "typing")
    assert typing["role"] == "citizen" and typing["author"] == ""
    await citizen_socket.disconnect()
    await agent_socket.disconnect()


async def test_read_marks_move_forward_only_and_reach_the_writer(live_chat, citizen, agent_a):
    citizen_socket, _ = await joined(live_chat, citizen)
    agent_socket, _ = await joined(live_chat, agent_a)
    await agent_socket.send_json_to(
        {"type": "message", "client_id": "toread-00001", "body": "Lu ?"}
    )
    seq = (await receive_message(citizen_socket, client_id="toread-00001"))["seq"]
    await citizen_socket.send_json_to({"type": "read", "seq": seq})
    assert await receive_until(agent_socket, lambda f: f["type"] == "read") == {
        "type": "read",
        "role": "citizen",
        "seq": seq,
    }
    await citizen_socket.send_json_to({"type": "read", "seq": seq - 1})  # backwards: ignored
    await citizen_socket.send_json_to({"type": "read", "seq": seq + 50})  # beyond: ignored
    await db(live_chat.refresh_from_db)()
    assert live_chat.citizen_read_seq == seq
    await citizen_socket.send_json_to({"type": "read", "seq": "dernier"})
    assert (await receive_until(citizen_socket, lambda f: f["type"] == "error"))["code"] == (
        "invalid_seq"
    )
    await citizen_socket.disconnect()
    await agent_socket.disconnect()


# --- routing events ----------------------------------------------------------------------------


async def test_waiting_citizen_sees_position_then_agent_joining(
    waiting_chat, citizen, agent_a, make_available
):
    comm = await open_socket(chat_path(waiting_chat), citizen)
    state = await comm.receive_json_from()
    assert state["status"] == "waiting"
    assert state["position"] == 1
    await db(make_available)(agent_a)  # routing assigns the waiting chat
    joined_line = await receive_until(
        comm, lambda f: f["type"] == "message" and f["message"]["notice"] == "joined"
    )
    assert joined_line["message"]["body"] == "Alice a rejoint la conversation."
    status = await receive_until(comm, lambda f: f["type"] == "status")
    assert status["status"] == "active" and status["agent"] == "Alice"
    await comm.disconnect()


def queue_rounds(monkeypatch, positions: list[int]) -> list[int]:
    """Queue rounds every 50 ms; each asks the position (the next of ``positions``, then the
    last one again); returns the conversations asked about, one per round."""
    asked: list[int] = []
    monkeypatch.setattr(consumers, "POSITION_INTERVAL", 0.05)

    def status_of(conversation_id):
        asked.append(conversation_id)
        position = positions[min(len(asked), len(positions)) - 1]
        return {"position": position, "wait_seconds": 60 * position}

    monkeypatch.setattr(consumers, "_queue_status_of", status_of)
    return asked


async def test_waiting_citizen_is_told_each_new_position_until_an_agent_takes_the_chat(
    waiting_chat, citizen, agent_a, make_available, monkeypatch
):
    asked = queue_rounds(monkeypatch, [3, 3, 2])
    comm = await open_socket(chat_path(waiting_chat), citizen)
    assert (await comm.receive_json_from())["position"] == 1
    # Pushed when it changes only: 3, then 2 (the second 3 is not repeated).
    assert await comm.receive_json_from() == {"type": "queue", "position": 3, "wait_seconds": 180}
    assert await comm.receive_json_from() == {"type": "queue", "position": 2, "wait_seconds": 120}
    assert await comm.receive_nothing(timeout=0.2)
    await db(make_available)(agent_a)
    status = await receive_until(comm, lambda f: f["type"] == "status")
    assert status["status"] == "active"
    # Once an agent has the chat the rounds stop (at most one was under way).
    await asyncio.sleep(0.1)
    rounds = len(asked)
    await asyncio.sleep(0.3)
    assert len(asked) == rounds
    await comm.disconnect()


async def test_no_queue_rounds_for_an_active_chat_until_it_is_requeued(
    live_chat, citizen, agent_a, monkeypatch
):
    asked = queue_rounds(monkeypatch, [4])
    citizen_socket, _ = await joined(live_chat, citizen)
    await asyncio.sleep(0.3)
    assert asked == []
    layer = get_channel_layer()
    await layer.group_send(group_name(live_chat.pk), {"type": "chat.status", "status": "waiting"})
    assert (await receive_until(citizen_socket, lambda f: f["type"] == "status"))["status"] == (
        "waiting"
    )
    # Told at once, then followed by the rounds.
    assert (await receive_until(citizen_socket, lambda f: f["type"] == "queue"))["position"] == 4
    await asyncio.sleep(0.3)
    assert len(asked) >= 3
    await citizen_socket.disconnect()
    rounds = len(asked)
    await asyncio.sleep(0.2)
    assert len(asked) == rounds  # the socket is gone: so are its rounds


async def test_dropped_agent_chat_goes_back_to_the_queue_and_citizen_is_told(
    live_chat, citizen, agent_a
):
    citizen_socket, _ = await joined(live_chat, citizen)
    agent_socket, _ = await joined(live_chat, agent_a)

    def drop():
        # The agent's console went silent: routing switches them offline, then after the grace
        # period gives their chats back to the head of the queue.
        from django.utils import timezone

        routing.set_status(agent_a, "hors ligne")
        later = timezone.now() + routing.REQUEUE_GRACE + timezone.timedelta(seconds=1)
        return routing.requeue_offline_contacts(agent_a.pk, now=later)

    assert await db(drop)() == [live_chat.case_id]
    told = await receive_until(
        citizen_socket, lambda f: f["type"] == "message" and f["message"]["kind"] == "system"
    )
    assert "un autre agent va vous répondre" in told["message"]["body"].lower()
    status = await receive_until(citizen_socket, lambda f: f["type"] == "status")
    assert status["status"] == "waiting"
    await receive_until(agent_socket, lambda f: f["type"] == "revoked")
    assert await closed_with(agent_socket) == consumers.CLOSE_REVOKED
    conversation = await db(Conversation.objects.get)(pk=live_chat.pk)
    assert conversation.status == Conversation.Status.WAITING
    case = await db(Case.objects.get)(pk=live_chat.case_id)
    assert case.priority == routing.HEAD_PRIORITY
    await citizen_socket.disconnect()


async def test_citizen_leaves_and_everybody_is_told(live_chat, citizen, agent_a):
    citizen_socket, _ = await joined(live_chat, citizen)
    agent_socket, _ = await joined(live_chat, agent_a)
    await citizen_socket.send_json_to({"type": "leave"})
    left = await receive_until(
        agent_socket, lambda f: f["type"] == "message" and f["message"]["notice"] == "left"
    )
    assert left["message"]["body"] == "Camille Martin a quitté la conversation."
    status = await receive_until(agent_socket, lambda f: f["type"] == "status")
    assert status["status"] == "ended" and status["end_reason"] == "citizen"
    await citizen_socket.send_json_to({"type": "message", "client_id": "after-end-01", "body": "?"})
    assert (await receive_until(citizen_socket, lambda f: f["type"] == "error"))["code"] == "ended"
    await agent_socket.send_json_to({"type": "leave"})
    assert (await receive_until(agent_socket, lambda f: f["type"] == "error"))["code"] == (
        "forbidden"
    )
    await citizen_socket.disconnect()
    await agent_socket.disconnect()


async def test_agent_socket_warns_then_ends_for_an_inactive_citizen(
    live_chat, citizen, agent_a, settings
):
    settings.GUICHET_CHAT_INACTIVITY_WARN_SECONDS = 1
    settings.GUICHET_CHAT_INACTIVITY_END_SECONDS = 2
    agent_socket, _ = await joined(live_chat, agent_a)
    citizen_socket, _ = await joined(live_chat, citizen)
    await agent_socket.send_json_to(
        {"type": "message", "client_id": "idle-0000001", "body": "Avez-vous votre avis ?"}
    )
    await receive_message(citizen_socket, client_id="idle-0000001")
    # No polling: the agent's socket wakes up when the warning, then the end, falls due.
    warning = await receive_until(
        citizen_socket,
        lambda f: f["type"] == "message" and f["message"]["notice"] == "inactivity_warning",
        timeout=4,
    )
    assert "Êtes-vous toujours là" in warning["message"]["body"]
    status = await receive_until(citizen_socket, lambda f: f["type"] == "status", timeout=4)
    assert status["status"] == "ended" and status["end_reason"] == "inactivity"
    await agent_socket.disconnect()
    await citizen_socket.disconnect()


# --- the agent's desk socket ---------------------------------------------------------------------


async def test_desk_socket_announces_chats_routed_to_the_agent(
    citizen, agent_a, make_available, start
):
    desk = await open_socket("/ws/tchat/agent/", agent_a)
    assert await desk.receive_json_from() == {"type": "desk", "conversations": []}
    await db(make_available)(agent_a)
    conversation = await db(start)(citizen)
    assigned = await receive_until(desk, lambda f: f["type"] == "assigned")
    assert assigned == {"type": "assigned", "conversation": conversation.pk}
    # Routing's batch message (several cases given at once): the chat among them is announced.
    await get_channel_layer().group_send(
        f"agent-{agent_a.pk}",
        {
            "type": "cases.assigned",
            "cases": [
                {"case_id": conversation.case_id, "channel": "chat", "reference": "x"},
                {"case_id": 0, "channel": "web", "reference": "y"},
            ],
        },
    )
    again = await receive_until(desk, lambda f: f["type"] == "assigned")
    assert again == {"type": "assigned", "conversation": conversation.pk}
    # Other apps publish to the same group (presence changes...): ignored, never a crash.
    await get_channel_layer().group_send(
        f"agent-{agent_a.pk}", {"type": "presence.status", "status": "paused"}
    )
    await desk.send_json_to({"type": "ping"})
    assert await desk.receive_json_from() == {"type": "pong"}
    await desk.disconnect()
    assert get_channel_layer().groups.get(f"agent-{agent_a.pk}", {}) == {}


async def test_desk_socket_is_for_agents_only(citizen, supervisor):
    for user in (citizen, supervisor):
        comm = await open_socket("/ws/tchat/agent/", user)
        assert await closed_with(comm) == consumers.CLOSE_FORBIDDEN
    comm = await open_socket("/ws/tchat/agent/")
    assert await closed_with(comm) == consumers.CLOSE_UNAUTHENTICATED


def test_delivery_log_sends_each_sequence_number_once():
    log = consumers.DeliveryLog()
    log.add_through(3)
    assert log.seen(1) and log.seen(3) and not log.seen(4)
    log.add(5)  # overtook 4
    assert log.seen(5) and not log.seen(4)
    log.add(4)
    assert log.base == 5 and log.above == set()
