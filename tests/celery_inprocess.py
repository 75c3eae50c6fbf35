"""A real Celery worker in the test process (a thread, solo pool) on an in-memory broker, for
tests of signals and headers (tests/contactcenter/test_metrics.py, test_logs.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery.contrib.testing.worker import start_worker

from contactcenter.celery import app


@contextmanager
def in_process_worker() -> Iterator[None]:
    eager, broker = app.conf.task_always_eager, app.conf.broker_url
    app.conf.update(task_always_eager=False, broker_url="memory://")
    _forget_pools()
    try:
        worker_app: Any = app
        with start_worker(worker_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        app.conf.update(task_always_eager=eager, broker_url=broker)
        _forget_pools()


def _forget_pools() -> None:
    """Drop the connection and producer pools an earlier test made for another broker.

    ``app.close()`` drops the connection pool; the producer pool is held by ``app.amqp``, a
    cached property that outlives it: deleting the property makes the next use build a new
    one from the current configuration."""
    app.close()
    del app.amqp
