"""Structured logs (contactcenter/logs.py): JSON lines, X-Request-ID in and out, the id carried
to Celery tasks (a real worker) and to websocket message handling, and no personal data in a
realistic run's logs (the demo citizens log in, write a request, chat with an agent)."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import time
import uuid

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from chat import services as chat_services
from chat.consumers import db
from contactcenter import demo, logs
from contactcenter.celery import app as celery_app
from contactcenter.models import Case
from routing import set_status
from tests.chat.conftest import committed, open_socket, receive_message, receive_until
from tests.upload_samples import upload, valid_pdf


@pytest.fixture
def json_logs(settings):
    """Production logging (settings.LOGGING with LOG_FORMAT=json, level INFO), captured; a
    Celery worker started by a test configures the same (contactcenter/celery.py)."""
    stream = io.StringIO()
    config = logs.logging_config(json_logs=True, level="INFO", mask_personal_data=True)
    config["handlers"]["console"]["stream"] = stream
    original = django_settings.LOGGING
    settings.LOGGING = config
    logging.config.dictConfig(config)
    yield stream
    logging.config.dictConfig(original)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


# --- format and HTTP ------------------------------------------------------------------------


def test_a_log_line_is_one_json_object_with_extras_and_masked_contacts(json_logs):
    token = logs.request_id.set("req-0000001")
    try:
        logging.getLogger("guichet.test").warning(
            "sent to %s and %s",
            "camille.martin@example.fr",
            "+33 6 12 34 56 78",
            extra={"case": "2026-000123", "to": "0612345678"},
        )
    finally:
        logs.request_id.reset(token)
    [entry] = lines(json_logs)
    assert entry["level"] == "WARNING" and entry["logger"] == "guichet.test"
    assert entry["message"] == "sent to [courriel] and [téléphone]"
    assert entry["request_id"] == "req-0000001"
    assert entry["case"] == "2026-000123" and entry["to"] == "[téléphone]"


@pytest.mark.django_db
def test_http_request_id_is_accepted_echoed_or_generated(json_logs):
    client = Client()
    given = "lb-3f2a9c1e-0001"
    response = client.get("/une-page-qui-n-existe-pas/", HTTP_X_REQUEST_ID=given)
    assert response.status_code == 404
    assert response["X-Request-ID"] == given
    not_found = [e for e in lines(json_logs) if e["logger"] == "django.request"]
    assert not_found and all(e["request_id"] == given for e in not_found)
    generated = client.get("/", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"]
    assert generated != "bad id with spaces" and len(generated) == 32
    assert client.get("/")["X-Request-ID"] not in (generated, given)


# --- Celery: the request id in the task's headers, on a real worker --------------------------


@celery_app.task(name="tests.logs.remember_request_id")
def remember_request_id(marker: str) -> None:
    logging.getLogger("guichet.test").info("task ran")
    cache.set(marker, logs.current(), 60)


@pytest.mark.django_db(transaction=True)
def test_a_task_runs_under_the_request_id_that_queued_it(json_logs):
    from tests.celery_inprocess import in_process_worker

    queued, unqueued = f"m:{uuid.uuid4()}", f"m:{uuid.uuid4()}"
    with in_process_worker():
        token = logs.request_id.set("req-from-the-web-1")
        try:
            remember_request_id.apply_async((queued,))
        finally:
            logs.request_id.reset(token)
        beat = remember_request_id.apply_async((unqueued,))  # no request: beat, a command
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (cache.get(queued) and cache.get(unqueued)):
            time.sleep(0.05)
    assert cache.get(queued) == "req-from-the-web-1"
    assert cache.get(unqueued) == beat.id  # its own id
    ran = [e for e in lines(json_logs) if e["message"] == "task ran"]
    assert {e["request_id"] for e in ran} == {"req-from-the-web-1", beat.id}


# --- websockets ------------------------------------------------------------------------------


async def test_a_websocket_handles_every_message_under_its_request_id():
    seen: list[str] = []

    async def app(scope, receive, send):
        while (await receive())["type"] != "websocket.disconnect":
            seen.append(logs.current())

    wrapped = logs.websocket_request_id(app)
    messages = iter([{"type": "websocket.receive"}] * 2 + [{"type": "websocket.disconnect"}])

    async def receive():
        return next(messages)

    scope = {"type": "websocket", "headers": [(b"x-request-id", b"ws-handshake-0001")]}
    await wrapped(scope, receive, None)
    assert seen == ["ws-handshake-0001", "ws-handshake-0001"]
    assert logs.current() == ""
    seen.clear()
    messages = iter([{"type": "websocket.receive"}, {"type": "websocket.disconnect"}])
    await wrapped({"type": "websocket", "headers": []}, receive, None)
    assert len(seen[0]) == 32  # generated


# --- no personal data in a realistic run -----------------------------------------------------

REQUEST_TEXT = "Bonjour, je vous écris car ma pension de réversion n'est pas arrivée ce mois-ci"
CHAT_CITIZEN = "Mon numéro fiscal est 3012345678901 et j'habite 4 impasse des Glycines"
CHAT_AGENT = "Merci madame, je regarde votre dossier de pension tout de suite"


@pytest.mark.django_db(transaction=True)
async def test_a_run_of_the_demo_citizens_logs_no_personal_data(
    json_logs, topic_a, agent_a, settings
):
    settings.DEBUG = False
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # The demo citizens themselves (the demo's services would take topic_a away from agent_a).
    camille, louis = [await db(demo._upsert_person)(person, {}) for person in demo.CITIZENS[:2]]

    def web_flow():
        browser = Client()
        # A mistyped password first (django-axes logs the failure), then the right one.
        browser.post(reverse("login"), {"username": camille.email, "password": "oubli"})
        answer = browser.post(
            reverse("login"), {"username": camille.email, "password": demo.DEMO_PASSWORD}
        )
        assert answer.status_code == 302, answer.status_code
        sent = browser.post(
            reverse("messaging:new_request"),
            {
                "topic": topic_a.slug,
                "kind": "question",
                "subject": "Pension de réversion de Camille Martin",
                "body": REQUEST_TEXT,
                "idempotency_key": str(uuid.uuid4()),
                "files": [upload("avis-camille-martin.pdf", valid_pdf())],
            },
        )
        assert sent.status_code == 302, sent.content[:500]
        assert Case.objects.filter(citizen=camille).exists()
        committed(set_status, agent_a, "disponible")
        return committed(chat_services.start_chat, louis, topic_a, "Bonjour, je suis Louis")

    conversation = await db(web_flow)()
    path = f"/ws/tchat/{conversation.pk}/"
    citizen_socket = await open_socket(path, louis)
    agent_socket = await open_socket(path, agent_a)
    for sock in (citizen_socket, agent_socket):
        await receive_until(sock, lambda f: f["type"] == "state")
    await citizen_socket.send_json_to(
        {"type": "message", "client_id": "pii-0000001", "body": CHAT_CITIZEN}
    )
    assert (await receive_message(agent_socket, client_id="pii-0000001"))["body"] == CHAT_CITIZEN
    await agent_socket.send_json_to(
        {"type": "message", "client_id": "pii-0000002", "body": CHAT_AGENT}
    )
    await receive_message(citizen_socket, client_id="pii-0000002")
    await citizen_socket.disconnect()
    await agent_socket.disconnect()

    text = json_logs.getvalue()
    # The run did log about these people: the failed login, the acknowledgement SMS to
    # Camille's mobile (the SMS outbox's log line, number masked).
    assert "login failure" in text and "SMS to [téléphone]" in text, text
    forbidden = [REQUEST_TEXT, CHAT_CITIZEN, CHAT_AGENT, "3012345678901", "Glycines"]
    for person in demo.CITIZENS:
        forbidden += [person.email, person.email.split("@")[0], person.last]
        if person.mobile:
            forbidden += [person.mobile, person.mobile[1:], "+33" + person.mobile[1:]]
    found = [needle for needle in forbidden if needle in text]
    assert not found, f"personal data in the logs: {found}\n{text}"
