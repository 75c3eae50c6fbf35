"""A Celery worker killed (SIGKILL) in the middle of a batch of notifications: none is lost,
none is sent twice. A real worker process on Redis (its own queue), a real SMTP receiver in the
test process that answers each message after a short delay, so that the kill lands while the
worker waits for the receiver's answer (the message is then not accepted: the receiver only
keeps what it answered "250" to, on a connection still open).

What protects the batch (docs/operations.md, "Topology"): tasks are acknowledged late, and the
outbox row is claimed by a conditional update before sending (contactcenter/outbox.py). The
killed worker's row stays "sending" until its lease ends; the beat sweep (``flush_outbox``) then
makes it due again and it is sent once. Runs on PostgreSQL + Redis only (CI's second phase)."""

from __future__ import annotations

import asyncio
import email
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta

import pytest
import redis

from contactcenter import outbox
from contactcenter.celery import app
from messaging.models import Notification
from tests.topology import harness

pytestmark = [
    *harness.needs_postgres_redis,
    pytest.mark.timeout(180),
    # The test process queues with send_task (to the worker) while its own settings run tasks
    # eagerly: Celery warns that eager mode does not apply to send_task, which is the point.
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]

BATCH = 12
KILL_AT = 5  # the worker dies while the receiver holds the 5th message
DELAY = 0.05


class SlowReceiver:
    """aiosmtpd handler: answers each message after ``DELAY``, and holds the ``KILL_AT``-th one
    until the test has killed the sender; keeps a message only if its sender is still connected
    when it answers (a sender killed before the answer did not deliver)."""

    def __init__(self):
        self.accepted: list[str] = []
        self.dropped: list[str] = []
        self.started = 0
        self.lock = threading.Lock()
        self.kill_point = threading.Event()
        self.killed = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        message_id = email.message_from_bytes(envelope.original_content or b"")["Message-ID"]
        with self.lock:
            self.started += 1
            held = self.started == KILL_AT
        try:
            await asyncio.sleep(DELAY)
            if held:
                self.kill_point.set()
                await asyncio.get_running_loop().run_in_executor(None, self.killed.wait, 60)
                for _ in range(50):  # the kernel closed the dead sender's socket: see it
                    if server.transport is None or server.transport.is_closing():
                        break
                    await asyncio.sleep(0.1)
        except asyncio.CancelledError:
            # aiosmtpd ends the session (and this call) when the sender's end closes.
            self.dropped.append(message_id)
            raise
        with self.lock:
            if server.transport is None or server.transport.is_closing():
                self.dropped.append(message_id)
                return "451 sender gone"
            self.accepted.append(message_id)
        return "250 OK"


def start_worker(env: dict, name: str, log) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "contactcenter",
            "worker",
            "--concurrency",
            "1",
            "--loglevel",
            "info",
            "--hostname",
            f"{name}@topology",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=harness.ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the pool's child dies with it
    )


def kill_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    process.wait(timeout=20)


@pytest.fixture
def receiver():
    from aiosmtpd.controller import Controller

    handler = SlowReceiver()
    controller = Controller(handler, hostname="127.0.0.1", port=harness.free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture
def batch(transactional_db, citizen):
    rows = [
        Notification.objects.create(
            recipient=citizen,
            channel=Notification.NotificationChannel.EMAIL,
            kind="message",
            address=citizen.email,
            subject="Nouveau message",
            text="Vous avez un nouveau message dans votre espace Guichet.",
            idempotency_key=f"topology:{uuid.uuid4().hex}:{index}",
        )
        for index in range(BATCH)
    ]
    return [row.pk for row in rows]


def wait_until(predicate, timeout: float, what: str, log_path) -> None:
    harness.wait_until(predicate, timeout, what, lambda: log_path.read_text()[-4000:])


def test_killed_worker_loses_and_duplicates_no_notification(receiver, batch, tmp_path):
    handler, smtp_port = receiver
    queue = f"topology-{uuid.uuid4().hex[:12]}"
    env = harness.server_env(
        CELERY_TASK_ALWAYS_EAGER="0",
        CELERY_QUEUE=queue,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
    )
    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    log_path = tmp_path / "worker.log"
    log = log_path.open("w")
    workers = []
    try:
        for pk in batch:
            app.send_task("messaging.tasks.send_notification", (pk,), queue=queue)
        first = start_worker(env, "first", log)
        workers.append(first)
        assert handler.kill_point.wait(90), log_path.read_text()[-4000:]
        kill_group(first)  # mid-batch, while the receiver holds a message
        handler.killed.set()
        assert handler.accepted and len(handler.accepted) < BATCH

        second = start_worker(env, "second", log)
        workers.append(second)
        # Every task still queued is sent by the new worker; the killed one's row stays
        # "sending": its task was taken, and nobody knows whether the message left.
        # Both counts from one query (one snapshot): read apart, a row could be claimed
        # between them, and be counted neither pending nor among the "sending" ones.
        wait_until(
            lambda: (
                sorted(Notification.objects.exclude(status="sent").values_list("status", flat=True))
                == ["sending"]
            ),
            60,
            "the rest of the batch",
            log_path,
        )
        # Ten minutes later (the lease; here at once) the beat sweep makes it due again.
        assert outbox.release_stale_claims(Notification.objects.all(), timedelta(0)) == 1
        app.send_task("messaging.tasks.flush_outbox", queue=queue)
        wait_until(
            lambda: Notification.objects.filter(status="sent").count() == BATCH,
            60,
            "the whole batch sent",
            log_path,
        )
        # A task delivered twice (acks late: a worker lost after sending, before its ack) sends
        # nothing more: each row is claimed once.
        for pk in batch:
            app.send_task("messaging.tasks.send_notification", (pk,), queue=queue)
        wait_until(lambda: broker.llen(queue) == 0, 30, "the duplicates consumed", log_path)
        time.sleep(1)  # the last one taken is handled by now
    finally:
        handler.killed.set()
        for worker in workers:
            kill_group(worker, signal.SIGTERM)
        log.close()

    expected = {
        f"<{key.replace(':', '.')}@guichet.example.fr>"
        for key in Notification.objects.values_list("idempotency_key", flat=True)
    }
    assert len(handler.dropped) == 1, handler.dropped  # the message the kill interrupted
    assert sorted(handler.accepted) == sorted(expected), "each notification exactly once"
    assert handler.dropped[0] in expected
    attempts = sorted(Notification.objects.values_list("attempts", flat=True))
    assert attempts == [1] * (BATCH - 1) + [2]
