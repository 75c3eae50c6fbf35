"""Three web processes behind HAProxy (tests/topology/harness.py): a citizen's chat socket on one
process, the agent's on another, messages both ways through Redis; an availability page open on
each process hears the agent's status change posted to any of them; then the citizen's process is
killed (SIGKILL) and the citizen reconnects through the balancer to a surviving process, replays
what it missed (``sync`` with its last sequence number), resends its unacknowledged message with
the same client id, and ends up with every message exactly once, as the agent and the database
do. A co-browsing session crosses processes too: the agent's pointer and highlight, sent to
process B, reach the citizen's page on process A, and the page's frames (snapshot, scroll) come
back the other way. Runs on PostgreSQL + Redis only (CI's second phase)."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.parse
import urllib.request
import uuid

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from chat import services
from chat.models import ChatMessage, Conversation
from routing import set_status
from tests.conftest import session_cookie
from tests.topology import harness

pytestmark = [*harness.needs_production_stack, pytest.mark.timeout(120)]


class ChatClient:
    """What static/chat/js/chat.js does: messages kept by sequence number (a number seen twice
    is shown once), ``sync`` from the last consecutive number on every (re)connection, an outbox
    of messages not yet acknowledged, resent with their client id."""

    def __init__(self, topology: harness.Topology, conversation_id: int, session_key: str):
        self.topology = topology
        self.path = f"/ws/tchat/{conversation_id}/"
        self.cookie = f"sessionid={session_key}"
        self.messages: dict[int, dict] = {}
        self.outbox: dict[str, str] = {}
        self.socket: ClientConnection | None = None
        self.sockets = contextlib.ExitStack()  # every socket opened, closed at the end
        self.process = ""

    @property
    def last_seq(self) -> int:
        seq = 0
        while seq + 1 in self.messages:
            seq += 1
        return seq

    def connect(self, avoid: str = "") -> str:
        """Open the socket through the balancer (elsewhere than ``avoid`` when given), sync,
        flush the outbox; returns the process that holds it."""
        if self.socket is not None:
            self.socket.close()  # dead already when its process was killed
            self.socket = None
        for _attempt in range(10):
            try:
                socket = self.sockets.enter_context(
                    connect(
                        f"ws://127.0.0.1:{self.topology.port}{self.path}",
                        origin=Origin(self.topology.url),
                        additional_headers={"Cookie": self.cookie},
                        open_timeout=5,
                    )
                )
            except (OSError, TimeoutError, ConnectionClosed):
                time.sleep(0.3)  # the page backs off and retries the same way
                continue
            assert socket.response is not None
            process = socket.response.headers.get("X-Guichet-Process", "")
            if avoid and process == avoid:
                socket.close()
                continue
            self.socket, self.process = socket, process
            state = self.receive(lambda f: f["type"] == "state")
            assert state["status"] == "active", state
            self.send({"type": "sync", "last_seq": self.last_seq})
            self.receive(lambda f: f["type"] == "history" and f["complete"])
            for client_id, body in list(self.outbox.items()):
                self.send({"type": "message", "client_id": client_id, "body": body})
            return process
        raise AssertionError(f"no socket through the balancer\n{self.topology.logs()}")

    def send(self, frame: dict) -> None:
        assert self.socket is not None
        self.socket.send(json.dumps(frame))

    def post(self, body: str) -> str:
        client_id = uuid.uuid4().hex
        self.outbox[client_id] = body
        self.send({"type": "message", "client_id": client_id, "body": body})
        return client_id

    def _take(self, frame: dict) -> None:
        batch = frame["messages"] if frame["type"] == "history" else [frame["message"]]
        for message in batch:
            self.messages.setdefault(message["seq"], message)
            self.outbox.pop(message.get("client_id") or "", None)

    def receive(self, predicate, timeout: float = 10.0) -> dict:
        assert self.socket is not None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no expected frame on {self.process}")
            frame = json.loads(self.socket.recv(timeout=remaining))
            assert frame["type"] != "error", frame
            if frame["type"] in ("message", "history"):
                self._take(frame)
            if predicate(frame):
                return frame

    def wait_for(self, body: str, timeout: float = 10.0) -> dict:
        return self.receive(
            lambda f: f["type"] == "message" and f["message"]["body"] == body, timeout
        )["message"]


def availability_on_every_process(topology, cookie: str, stack) -> dict[str, ClientConnection]:
    """One ``ws/availability/`` socket held on each web process (the balancer picks: open until
    each has one)."""
    held: dict[str, ClientConnection] = {}
    for _attempt in range(20):
        socket = stack.enter_context(
            connect(
                f"ws://127.0.0.1:{topology.port}/ws/availability/",
                origin=Origin(topology.url),
                additional_headers={"Cookie": cookie},
                open_timeout=5,
            )
        )
        assert socket.response is not None
        process = socket.response.headers.get("X-Guichet-Process", "")
        snapshot = json.loads(socket.recv(timeout=10))
        assert snapshot == {"type": "availability.snapshot", "topics": {"impots": True}}
        if process in held:
            socket.close()
        else:
            held[process] = socket
        if len(held) == len(topology.web):
            return held
    raise AssertionError(f"availability sockets on {sorted(held)} only")


def next_availability(socket: ClientConnection) -> dict:
    while True:
        frame = json.loads(socket.recv(timeout=10))
        if frame["type"] == "availability.update":
            return frame["topics"]


def post_status(topology, cookie: str, status: str) -> str:
    """The agent's status form, through the balancer (CSRF token from the form's page)."""
    page = urllib.request.Request(f"{topology.url}/routage/statut/", headers={"Cookie": cookie})
    with urllib.request.urlopen(page, timeout=10) as response:
        cookies = [c.split(";")[0] for c in response.headers.get_all("Set-Cookie") or []]
    csrf = next(c.split("=", 1)[1] for c in cookies if c.startswith("csrftoken="))
    form = urllib.parse.urlencode({"status": status, "csrfmiddlewaretoken": csrf}).encode()
    request = urllib.request.Request(
        f"{topology.url}/routage/statut/",
        data=form,
        headers={"Cookie": f"{cookie}; csrftoken={csrf}", "HX-Request": "true"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return response.headers.get("X-Guichet-Process", "")


@pytest.fixture
def topology(transactional_db):
    started = harness.start(3)
    yield started
    started.stop()


@pytest.fixture
def live_chat(transactional_db, citizen, agent_a, service_a, skill_a):
    from contactcenter.models import Topic

    topic = Topic.objects.create(slug="impots", title="Impôts", service=service_a, skill=skill_a)
    set_status(agent_a, "disponible")
    conversation = services.start_chat(citizen, topic, "Bonjour, une question sur mon avis.")
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.ACTIVE
    assert conversation.agent_id == agent_a.pk
    return conversation


def test_chat_survives_the_death_of_the_citizens_process(topology, live_chat, citizen, agent_a):
    citizen_side = ChatClient(topology, live_chat.pk, session_cookie(citizen))
    agent_side = ChatClient(topology, live_chat.pk, session_cookie(agent_a))
    with citizen_side.sockets, agent_side.sockets:
        check_chat_survives(topology, live_chat, citizen_side, agent_side)


def check_chat_survives(topology, live_chat, citizen_side, agent_side):
    process_a = citizen_side.connect()
    process_b = agent_side.connect(avoid=process_a)
    assert process_a in topology.web and process_b in topology.web and process_a != process_b

    # Availability crosses processes too: one open page per process hears the agent's pause,
    # posted to whichever process the balancer picks.
    with contextlib.ExitStack() as pages:
        listening = availability_on_every_process(topology, citizen_side.cookie, pages)
        post_status(topology, agent_side.cookie, "paused")
        for socket in listening.values():
            assert next_availability(socket) == {"impots": False}
        post_status(topology, agent_side.cookie, "available")
        for socket in listening.values():
            assert next_availability(socket) == {"impots": True}

    # Both ways, across processes (Redis channel layer).
    citizen_side.post("Mon avis indique un montant erroné.")
    agent_side.wait_for("Mon avis indique un montant erroné.")
    agent_side.post("Pouvez-vous me donner la ligne concernée ?")
    citizen_side.wait_for("Pouvez-vous me donner la ligne concernée ?")

    # The citizen writes and their process dies before (or just after) storing it: no ack.
    pending = citizen_side.post("La ligne 8TK, montant 1 200 euros.")
    topology.web[process_a].kill()
    # Meanwhile the agent, on a surviving process, keeps writing.
    missed = ["Je regarde votre dossier.", "C'est corrigé, vous recevrez un nouvel avis."]
    for body in missed:
        agent_side.post(body)
        agent_side.wait_for(body)

    process_c = citizen_side.connect()  # through the balancer, like the page's reconnection
    assert process_c != process_a and process_c in topology.web
    deadline = time.monotonic() + 10
    while pending in citizen_side.outbox and time.monotonic() < deadline:
        citizen_side.receive(lambda f: f["type"] == "message", timeout=10)
    assert not citizen_side.outbox, "the resent message was never acknowledged"
    agent_side.wait_for("La ligne 8TK, montant 1 200 euros.")

    stored = list(
        ChatMessage.objects.filter(conversation=live_chat)
        .order_by("seq")
        .values_list("seq", "client_id", "body")
    )
    # Stored once, however many times it was sent.
    assert [row[1] for row in stored].count(pending) == 1
    assert len({row[0] for row in stored}) == len(stored)
    # Each side holds every stored message exactly once, in order, with nothing else.
    expected = [(seq, body) for seq, _client_id, body in stored]
    for side in (citizen_side, agent_side):
        held = sorted((seq, m["body"]) for seq, m in side.messages.items())
        assert held == expected, side.process
        assert side.last_seq == stored[-1][0]
    for body in missed:
        assert body in {m["body"] for m in citizen_side.messages.values()}


def open_socket(topology, path: str, cookie: str, stack, *, avoid: str = "") -> ClientConnection:
    """A websocket through the balancer, on another process than ``avoid`` when given (the
    balancer picks: open until one lands elsewhere)."""
    for _attempt in range(20):
        socket = stack.enter_context(
            connect(
                f"ws://127.0.0.1:{topology.port}{path}",
                origin=Origin(topology.url),
                additional_headers={"Cookie": cookie},
                open_timeout=5,
            )
        )
        assert socket.response is not None
        if socket.response.headers.get("X-Guichet-Process", "") != avoid:
            return socket
        socket.close()
    raise AssertionError(f"every socket on {avoid}\n{topology.logs()}")


def process_of(socket: ClientConnection) -> str:
    assert socket.response is not None
    return socket.response.headers.get("X-Guichet-Process", "")


def next_frame(socket: ClientConnection, kind: str) -> dict:
    """The next frame of this type (others, such as presence, are skipped)."""
    deadline = time.monotonic() + 10
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {kind!r} frame"
        frame = json.loads(socket.recv(timeout=remaining))
        if frame["type"] == kind:
            return frame


def page_frames(scroll_y: int) -> list[dict]:
    """What the page's rrweb recorder sends: meta, a full snapshot, then a scroll of the page."""
    text = {"type": 3, "id": 4, "textContent": "Votre avis d'impôt 2025"}
    body = {"type": 2, "id": 3, "tagName": "body", "attributes": {}, "childNodes": [text]}
    html = {"type": 2, "id": 2, "tagName": "html", "attributes": {}, "childNodes": [body]}
    return [
        {"type": 4, "timestamp": 1000, "data": {"href": "/espace/", "width": 1280, "height": 720}},
        {"type": 2, "timestamp": 1001, "data": {"node": {"type": 0, "id": 1, "childNodes": [html]},
         "initialOffset": {"left": 0, "top": 0}}},
        {"type": 3, "timestamp": 1200, "data": {"source": 3, "id": 1, "x": 0, "y": scroll_y}},
    ]  # fmt: skip


def test_cobrowse_pointer_and_page_cross_processes(topology, citizen, agent_a):
    from cobrowse import services as cobrowse

    _waiting, code = cobrowse.create_code(citizen)
    session = cobrowse.join_with_code(agent_a, code)
    with contextlib.ExitStack() as stack:
        page = open_socket(
            topology, "/ws/cobrowse/citizen/", f"sessionid={session_cookie(citizen)}", stack
        )
        process_a = process_of(page)
        assert next_frame(page, "offer")["session"] == str(session.pk)
        page.send(json.dumps({"type": "accept", "session": str(session.pk)}))
        assert next_frame(page, "started")["session"] == str(session.pk)

        viewer = open_socket(
            topology,
            f"/ws/cobrowse/agent/{session.pk}/",
            f"sessionid={session_cookie(agent_a)}",
            stack,
            avoid=process_a,
        )
        process_b = process_of(viewer)
        assert process_a in topology.web and process_b in topology.web and process_a != process_b
        assert next_frame(viewer, "active")["session"] == str(session.pk)
        # The viewer on B asks the page on A for the whole page again.
        next_frame(page, "snapshot")

        # Citizen (A) -> agent (B): the snapshot and the scroll, through Redis.
        page.send(json.dumps({"type": "rrweb", "events": page_frames(scroll_y=640)}))
        events = next_frame(viewer, "rrweb")["events"]
        assert "Votre avis d'impôt 2025" in json.dumps(events, ensure_ascii=False)
        scroll = [e["data"] for e in events if e["type"] == 3 and e["data"]["source"] == 3]
        assert scroll == [{"source": 3, "id": 1, "x": 0, "y": 640}]

        # Agent (B) -> citizen (A): pointer and highlight, rebuilt from their known fields.
        viewer.send(json.dumps({"type": "pointer", "node": 4, "x": 0.25, "y": 0.75, "href": "/x"}))
        assert next_frame(page, "pointer") == {"type": "pointer", "node": 4, "x": 0.25, "y": 0.75}
        viewer.send(json.dumps({"type": "highlight", "node": 3}))
        assert next_frame(page, "highlight") == {"type": "highlight", "node": 3}

        # Ending on B ends it on A.
        viewer.send(json.dumps({"type": "end"}))
        assert next_frame(page, "ended")["session"] == str(session.pk)
