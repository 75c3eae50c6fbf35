"""Webhooks through a real Celery worker (subprocess) on Redis and PostgreSQL, to a real
receiver process on loopback. Skipped unless REDIS_URL is set and the tests run on PostgreSQL
(the worker fixture of tests/messaging/test_celery_worker.py: its own Redis database)."""

import time

import pytest
from django.utils import timezone

from accounts import webhooks
from accounts.api_clients import create_api_client
from accounts.models import ApiClient, WebhookDelivery, WebhookEndpoint
from accounts.tasks import deliver_webhook, flush_webhooks
from tests.api.test_webhooks import Receiver, open_case_a
from tests.messaging.test_celery_worker import REDIS_URL, wait_for, worker

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL"),
    pytest.mark.xdist_group("celery-worker"),
]
__all__ = ["worker"]  # the fixture, imported to be used here


@pytest.fixture
def receiver(tmp_path, service_a, request):
    """A receiver answering the test's plan (``@pytest.mark.parametrize("plan", ...)``)."""
    client = create_api_client("SI impôts", [service_a], [ApiClient.Scope.WEBHOOKS])
    secret = webhooks.generate_secret()
    started = Receiver(tmp_path, secret, request.param)
    endpoint, _secret = webhooks.create_endpoint(client.client, started.url, ["case.created"])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=secret)
    yield started
    started.stop()


def status_of(delivery_id: int) -> str:
    return WebhookDelivery.objects.get(pk=delivery_id).status


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("receiver", ["200"], indirect=True)
def test_worker_delivers_once_even_if_queued_three_times(worker, receiver, citizen, topic_a):
    open_case_a(citizen, topic_a)  # commits: the task is queued to the worker
    row = WebhookDelivery.objects.get()
    deliver_webhook.delay(row.pk)
    deliver_webhook.delay(row.pk)
    assert wait_for(lambda: status_of(row.pk) == "delivered")
    time.sleep(2)  # let the duplicates run
    received = receiver.received()
    assert [entry["id"] for entry in received] == [row.webhook_id]
    assert received[0]["valid"] is True
    assert WebhookDelivery.objects.get(pk=row.pk).attempts == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("receiver", ["503,200"], indirect=True)
def test_worker_retries_a_5xx_with_the_same_id(worker, receiver, citizen, topic_a):
    open_case_a(citizen, topic_a)
    row = WebhookDelivery.objects.get()
    assert wait_for(lambda: WebhookDelivery.objects.get(pk=row.pk).attempts == 1)
    assert wait_for(lambda: status_of(row.pk) == "pending")
    assert WebhookDelivery.objects.get(pk=row.pk).next_attempt_at > timezone.now()
    # Time passes: the beat sweep finds the row due and the worker sends it again.
    WebhookDelivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    flush_webhooks.delay()
    assert wait_for(lambda: status_of(row.pk) == "delivered")
    received = receiver.received()
    assert [entry["id"] for entry in received] == [row.webhook_id, row.webhook_id]
    assert all(entry["valid"] for entry in received)
    assert [a.status_code for a in WebhookDelivery.objects.get(pk=row.pk).attempt_log.all()] == [
        503,
        200,
    ]
