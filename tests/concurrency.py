"""Real concurrency for tests: callables run at the same instant, each in its own thread and
database connection.

It needs PostgreSQL (row locks, separate connections per thread); SQLite serialises writers on
one file and the in-memory test database is not shared between threads, hence ``POSTGRES_ONLY``.
"""

import threading

import pytest
from django.conf import settings
from django.db import connection

POSTGRES_ONLY = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not settings.USING_POSTGRES,
        reason="needs PostgreSQL: SQLite has no concurrent writers nor row locks to race on",
    ),
]


def race(workers, timeout: float = 60):
    """Run the callables at the same instant; return what each returned or raised."""
    barrier = threading.Barrier(len(workers))
    results = [None] * len(workers)

    def run(index, work):
        try:
            barrier.wait(timeout=10)
            results[index] = work()
        except Exception as exc:  # noqa: BLE001 - the test inspects what each worker got
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results
