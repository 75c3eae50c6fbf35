"""One real Celery worker (subprocess) against Redis and PostgreSQL.

Skipped unless REDIS_URL is set and the tests run on PostgreSQL. The worker uses its own Redis
database number so that it never shares a queue with another test run on the same Redis.
"""

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from contactcenter.celery import app as celery_app
from contactcenter.models import Event
from messaging import services
from messaging.models import Notification
from messaging.tasks import flush_outbox, send_notification

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL"),
    pytest.mark.skipif(not settings.USING_POSTGRES, reason="needs PostgreSQL (DATABASE_URL)"),
    pytest.mark.xdist_group("celery-worker"),
]
ROOT = Path(__file__).resolve().parents[2]


LOCK_KEY = "guichet:test-celery-worker:db:{}"
CANDIDATE_DBS = range(10, 16)


def redis_base() -> str:
    return REDIS_URL.rsplit("/", 1)[0] if REDIS_URL.count("/") >= 3 else REDIS_URL.rstrip("/")


def claim_redis_db() -> int:
    """A Redis database of our own for this run (another run on the same Redis takes another):
    a shared queue would let one run's worker consume the other's tasks."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for number in CANDIDATE_DBS:
            if client.set(LOCK_KEY.format(number), os.getpid(), nx=True, ex=900):
                return number
        time.sleep(1)
    pytest.fail("no free Redis database for the Celery worker test")


def release_redis_db(number: int) -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).delete(LOCK_KEY.format(number))


def database_url() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A `celery -A contactcenter worker` on the test database; yields the SMS log path."""
    sms_log = tmp_path_factory.mktemp("worker") / "sms.log"
    sms_log.touch()
    db_number = claim_redis_db()
    redis_url = f"{redis_base()}/{db_number}"
    with django_db_blocker.unblock():
        db_url = database_url()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "contactcenter.settings",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "SMS_BACKEND": "tests.messaging.flaky_sms.FlakySmsBackend",
        "FLAKY_SMS_LOG": str(sms_log),
        "FLAKY_SMS_FAIL_PREFIX": "request_info:",
        # No SMS quiet hours (20:00-08:00 in production): the test runs at any hour.
        "GUICHET_SMS_QUIET_START": "0",
        "GUICHET_SMS_QUIET_END": "0",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "INFO",
    }
    import redis

    redis.Redis.from_url(redis_url).flushdb()  # a crashed earlier run may have left messages
    saved = (celery_app.conf.broker_url, celery_app.conf.task_always_eager)
    log_path = sms_log.with_name("worker.log")
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "contactcenter",
                "worker",
                "--concurrency=2",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"guichet-test-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while "ready." not in log_path.read_text():
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("Celery worker did not start:\n" + log_path.read_text()[-3000:])
                time.sleep(0.3)
            # The test process publishes to the same isolated Redis database, for real.
            celery_app.conf.broker_url = redis_url
            celery_app.conf.task_always_eager = False
            celery_app._pool = None
            celery_app.amqp._producer_pool = None
            yield sms_log
        finally:
            celery_app.conf.broker_url, celery_app.conf.task_always_eager = saved
            celery_app._pool = None
            celery_app.amqp._producer_pool = None
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            release_redis_db(db_number)


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def sms_citizen(citizen):
    citizen.notify_email = False
    citizen.notify_sms = True
    citizen.save()
    return citizen


@pytest.mark.django_db(transaction=True)
def test_worker_sends_a_committed_notification_once_even_if_queued_three_times(
    worker, case_a, agent_a, sms_citizen
):
    services.post_agent_reply(case_a, agent_a, "Le contenu confidentiel de la réponse")
    row = Notification.objects.get()
    # Two more deliveries of the same task (broker redelivery, a beat sweep racing...).
    send_notification.delay(row.pk)
    send_notification.delay(row.pk)
    assert wait_for(lambda: Notification.objects.get(pk=row.pk).status == "sent")
    time.sleep(2)  # let the duplicates run
    row.refresh_from_db()
    assert row.attempts == 1
    lines = worker.read_text().splitlines()
    assert [line.split("\t")[0] for line in lines].count(row.idempotency_key) == 1
    assert "confidentiel" not in worker.read_text()
    assert "Vous avez un nouveau message dans votre espace Guichet" in lines[-1]
    assert case_a.events.filter(type=Event.Type.NOTIFICATION, internal=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_worker_retries_after_a_transport_failure_without_loss_or_duplicate(
    worker, case_a, agent_a, sms_citizen
):
    services.request_details(case_a, agent_a, "Merci de joindre votre avis d'imposition")
    row = Notification.objects.get()
    # First attempt: the (simulated) provider is down, the row goes back to pending with backoff.
    assert wait_for(lambda: Notification.objects.get(pk=row.pk).attempts == 1)
    assert wait_for(lambda: Notification.objects.get(pk=row.pk).status == "pending")
    row.refresh_from_db()
    assert "SMS provider unavailable" in row.last_error
    assert row.next_attempt_at > timezone.now()
    assert row.idempotency_key not in worker.read_text()
    # Time passes: the beat sweep finds the row due and the worker sends it.
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    flush_outbox.delay()
    assert wait_for(lambda: Notification.objects.get(pk=row.pk).status == "sent")
    time.sleep(1)
    row.refresh_from_db()
    assert row.attempts == 2
    sent_keys = [line.split("\t")[0] for line in worker.read_text().splitlines()]
    assert sent_keys.count(row.idempotency_key) == 1
