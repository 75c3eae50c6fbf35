"""Chat fixtures on top of the shared personas (tests/conftest.py).

Sockets go through the real ASGI stack (``contactcenter.asgi.application``: origin check, session
auth, URL routing), authenticated by a real session cookie.
"""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from chat import services
from chat.consumers import db
from chat.models import Conversation
from routing import set_status
from routing.calendar import clear_calendar_cache
from tests.conftest import session_cookie

ORIGIN = b"http://testserver"


@pytest.fixture(autouse=True)
def _fresh_state(settings):
    """Availability lives in the cache; the in-memory layer lets tests inspect groups."""
    cache.clear()
    clear_calendar_cache()
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    yield
    cache.clear()
    clear_calendar_cache()


def application():
    from contactcenter.asgi import application as asgi_application

    return asgi_application


class AcceptedCommunicator(WebsocketCommunicator):
    """A communicator that remembers whether its handshake was accepted."""

    was_accepted = False


async def open_socket(path: str, user=None, *, origin: bytes = ORIGIN, accept: bool = True):
    """Connect through the full ASGI stack; returns the communicator (connected)."""
    headers = [(b"origin", origin)]
    if user is not None:
        key = await db(session_cookie)(user)
        headers.append((b"cookie", f"sessionid={key}".encode()))
    comm = AcceptedCommunicator(application(), path, headers=headers)
    connected, _code = await comm.connect()
    if accept:
        assert connected, f"socket {path} refused"
    comm.was_accepted = connected
    return comm


async def receive_until(comm, predicate, timeout: float = 2.0, limit: int = 50) -> dict:
    """Next frame satisfying ``predicate`` (frames before it are skipped)."""
    for _ in range(limit):
        frame = await comm.receive_json_from(timeout=timeout)
        if predicate(frame):
            return frame
    raise AssertionError("no matching frame")


async def receive_message(comm, timeout: float = 2.0, **match) -> dict:
    frame = await receive_until(
        comm,
        lambda f: (
            f["type"] == "message"
            and all(f["message"].get(key) == value for key, value in match.items())
        ),
        timeout=timeout,
    )
    return frame["message"]


async def closed_with(comm, timeout: float = 2.0) -> int:
    """Skip frames until the server closes; return the close code."""
    for _ in range(50):
        output = await comm.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output.get("code")
    raise AssertionError("socket not closed")


def committed(func, *args, **kwargs):
    """Run ``func`` and what it queued for after commit (tests inside a transaction too)."""
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        return func(*args, **kwargs)


@pytest.fixture
def make_available():
    def go(agent):
        return committed(set_status, agent, "disponible")

    return go


@pytest.fixture
def start(topic_a):
    """Open a chat for a citizen (an available agent is needed: see ``live_chat``)."""

    def go(citizen, body="Bonjour, j'ai une question sur mon avis d'impôt.", topic=None, **kw):
        return committed(services.start_chat, citizen, topic or topic_a, body, **kw)

    return go


@pytest.fixture
def live_chat(citizen, agent_a, topic_a, make_available, start):
    """A chat assigned by routing to agent_a (available): conversation active with them."""
    make_available(agent_a)
    conversation = start(citizen)
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.ACTIVE, conversation.status
    assert conversation.agent_id == agent_a.pk
    return conversation


@pytest.fixture
def waiting_chat(citizen, topic_a, start, monkeypatch):
    """A chat in the queue: the button was shown, but the last free agent was taken meanwhile
    (no agent available when it is routed)."""
    monkeypatch.setattr(services.lifecycle, "chat_available", lambda topic: True)
    conversation = start(citizen)
    monkeypatch.undo()
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.WAITING
    return conversation
