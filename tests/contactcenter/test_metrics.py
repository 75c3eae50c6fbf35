"""``/metrics`` (contactcenter/metrics.py): Prometheus text behind a bearer token, business
gauges read from the database, no personal data."""

from __future__ import annotations

import os
import time
import uuid

import pytest
from django.test import Client

from messaging.models import Notification
from routing import set_status

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def scrape(settings):
    settings.METRICS_TOKEN = TOKEN

    def go(token: str = TOKEN):
        return Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")

    return go


def sample(body: str, line_start: str) -> float:
    for line in body.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{line_start} not in\n{body}")


def test_absent_without_a_token(settings):
    settings.METRICS_TOKEN = ""
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 404


@pytest.mark.django_db
def test_wrong_token_refused(scrape):
    assert scrape("not-the-token").status_code == 404
    assert Client().get("/metrics").status_code == 404


@pytest.mark.django_db
def test_business_gauges(scrape, case_a, case_b, agent_a, citizen, settings):
    settings.ALLOWED_HOSTS = ["guichet.example.fr"]  # scraped by address, like the balancer
    set_status(agent_a, "disponible")
    for index in range(3):
        Notification.objects.create(
            recipient=citizen,
            channel="email",
            kind="message",
            address=citizen.email,
            text="Vous avez un nouveau message.",
            idempotency_key=f"metrics:{index}",
        )
    response = Client().get(
        "/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_HOST="10.0.0.9:8000"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    body = response.content.decode()
    assert sample(body, 'guichet_contacts_waiting{channel="web",service="sip"}') == 1
    assert sample(body, 'guichet_contacts_waiting{channel="web",service="cpam"}') == 1
    assert sample(body, 'guichet_oldest_wait_seconds{channel="web",service="sip"}') >= 0
    assert sample(body, 'guichet_agents_available{service="sip"}') == 1
    assert sample(body, 'guichet_outbox_backlog{outbox="notifications",status="pending"}') == 3
    assert sample(body, 'guichet_outbox_backlog{outbox="webhooks",status="pending"}') == 0
    assert sample(body, "guichet_webhook_deliveries_failed") == 0
    # Codes only: no person, no subject.
    for private in (citizen.email, case_a.subject, agent_a.email, "Camille"):
        assert private not in body


@pytest.mark.redis
@pytest.mark.django_db
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)")
def test_celery_queue_length(scrape, settings):
    import redis

    queue = f"metrics-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = os.environ["REDIS_URL"]
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.rpush(queue, b"{}", b"{}")
    try:
        body = scrape().content.decode()
    finally:
        client.delete(queue)
    assert sample(body, f'guichet_celery_queue_length{{queue="{queue}"}}') == 2


@pytest.mark.django_db
def test_this_process_requests_per_view(scrape, citizen):
    from prometheus_client import REGISTRY

    def count() -> float:
        labels = {"view": "favicon", "method": "GET", "status": "3xx"}
        return REGISTRY.get_sample_value("guichet_http_requests_total", labels) or 0.0

    before = count()
    Client().get("/favicon.ico")
    Client().get("/favicon.ico")
    assert count() == before + 2
    body = scrape().content.decode()
    assert sample(body, 'guichet_http_requests_total{method="GET",status="3xx",view="favicon"}')
    assert 'guichet_http_request_duration_seconds_bucket{le="0.01",view="favicon"}' in body
    assert "process_cpu_seconds_total" in body


@pytest.mark.django_db(transaction=True)
async def test_open_websockets_per_kind(citizen, settings):
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator
    from prometheus_client import REGISTRY

    from contactcenter.asgi import application
    from tests.conftest import session_cookie

    def gauge() -> float:
        labels = {"kind": "availability"}
        return REGISTRY.get_sample_value("guichet_websockets_open", labels) or 0.0

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    before = gauge()
    key = await sync_to_async(session_cookie)(citizen)
    socket = WebsocketCommunicator(
        application,
        "/ws/availability/",
        headers=[(b"origin", b"http://testserver"), (b"cookie", f"sessionid={key}".encode())],
    )
    connected, _ = await socket.connect()
    assert connected
    assert gauge() == before + 1
    await socket.disconnect()
    assert gauge() == before


# --- Celery task failures and retries (contactcenter/task_metrics.py) -------------------------

from contactcenter.celery import app as celery_app  # noqa: E402


@celery_app.task(name="tests.metrics.always_fails")
def always_fails() -> None:
    raise ValueError("this task fails")


@celery_app.task(name="tests.metrics.fails_once", bind=True, max_retries=1)
def fails_once(self, marker: str) -> str:
    from django.core.cache import cache

    if cache.add(marker, 1):
        raise self.retry(countdown=0)
    return "done"


@pytest.mark.django_db(transaction=True)
def test_task_failures_and_retries_per_task_from_a_real_worker(scrape, settings):
    """A Celery worker (in this process, on an in-memory broker) runs a failing task and a task
    that retries once; the scrape counts them per task name."""
    from tests.celery_inprocess import in_process_worker

    marker = f"fails-once:{uuid.uuid4()}"
    assert 'task="tests.metrics.always_fails"' not in scrape().content.decode()
    with in_process_worker():
        failed = always_fails.apply_async()
        retried = fails_once.apply_async((marker,))
        deadline = time.monotonic() + 20
        body = ""
        while time.monotonic() < deadline:
            body = scrape().content.decode()
            if (
                'guichet_celery_task_failures_total{task="tests.metrics.always_fails"} 1.0' in body
                and 'guichet_celery_task_retries_total{task="tests.metrics.fails_once"} 1.0' in body
            ):
                break
            time.sleep(0.1)
    assert failed.id and retried.id
    assert 'guichet_celery_task_failures_total{task="tests.metrics.always_fails"} 1.0' in body
    assert 'guichet_celery_task_retries_total{task="tests.metrics.fails_once"} 1.0' in body
    # The retried task then succeeded: no failure for it.
    assert 'guichet_celery_task_failures_total{task="tests.metrics.fails_once"}' not in body
    assert "# TYPE guichet_celery_task_failures_total counter" in body
