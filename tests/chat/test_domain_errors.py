"""A service's domain error on a chat frame closes the socket with the documented code."""

from __future__ import annotations

import pytest

from chat import consumers, services
from contactcenter.exceptions import InvalidState, NotAllowed, NotFound

from .conftest import closed_with, open_socket, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


async def _joined(conversation, user):
    comm = await open_socket(f"/ws/tchat/{conversation.pk}/", user)
    assert (await comm.receive_json_from())["type"] == "state"
    return comm


@pytest.mark.parametrize(
    "error, code",
    [(NotFound, consumers.CLOSE_NOT_FOUND), (NotAllowed, consumers.CLOSE_FORBIDDEN)],
)
async def test_domain_error_of_a_service_closes_with_its_code(
    live_chat, citizen, monkeypatch, error, code
):
    def refuse(*args, **kwargs):
        raise error("Conversation introuvable")

    monkeypatch.setattr(services, "post_message", refuse)
    monkeypatch.setattr(services, "post_messages", refuse)  # the batch writer's service
    comm = await _joined(live_chat, citizen)
    await comm.send_json_to({"type": "message", "body": "Bonjour"})
    assert await closed_with(comm) == code


async def test_invalid_state_answers_an_error_frame_and_keeps_the_socket(
    live_chat, citizen, monkeypatch
):
    def refuse(*args, **kwargs):
        raise InvalidState("Ce tchat est terminé.")

    monkeypatch.setattr(services, "post_message", refuse)
    monkeypatch.setattr(services, "post_messages", refuse)  # the batch writer's service
    comm = await _joined(live_chat, citizen)
    await comm.send_json_to({"type": "message", "body": "Bonjour"})
    frame = await receive_until(comm, lambda f: f["type"] == "error")
    assert frame["code"] == "invalid_state" and frame["message"] == "Ce tchat est terminé."
    await comm.send_json_to({"type": "ping"})
    assert (await receive_until(comm, lambda f: f["type"] == "pong"))["type"] == "pong"
    await comm.disconnect()
