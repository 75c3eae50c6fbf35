"""The PostgreSQL connection budget of a web process (contactcenter/db_pool.py): one uvicorn
process with a pool of 4 connections takes many more requests at once than it has connections,
never holds more than 4 (pg_stat_activity, sampled all along), and every request succeeds: the
ones that find the pool empty wait for a connection. When the connections stay busy longer than
``DB_POOL_TIMEOUT`` (the test locks a table the FAQ search reads), the requests that waited get a
clean 503 with ``Retry-After``, not a 500 and a traceback; the blocked ones finish once the lock
goes. Runs on PostgreSQL + Redis only (CI's second phase)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.topology import harness

pytestmark = [*harness.needs_postgres_redis, pytest.mark.timeout(240)]

POOL_SIZE = 4
POOL_TIMEOUT = 10
APP_NAME = "guichet-pool-test"


def fetch(url: str) -> tuple[int, dict[str, str], str]:
    """Status, headers (names in lower case) and body of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            status, headers, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, body = error.code, error.headers, error.read()
    return status, {name.lower(): value for name, value in headers.items()}, body.decode()


def admin_connection():
    """A connection of the test's own (not the server's, not Django's) to the test database."""
    import psycopg
    from django.db import connection

    conf = connection.settings_dict
    return psycopg.connect(
        dbname=conf["NAME"],
        user=conf["USER"],
        password=conf["PASSWORD"] or None,
        host=conf["HOST"] or None,
        port=conf["PORT"] or None,
        autocommit=True,
    )


class ConnectionSampler:
    """The server's connections (its ``application_name``) every 20 ms, in a thread."""

    def __init__(self) -> None:
        self.counts: list[int] = []
        self.waiting_on_lock = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with admin_connection() as conn:
            while not self.stop.is_set():
                row = conn.execute(
                    "SELECT count(*), count(*) FILTER (WHERE wait_event_type = 'Lock') "
                    "FROM pg_stat_activity WHERE application_name = %s",
                    [APP_NAME],
                ).fetchone()
                assert row is not None
                self.counts.append(row[0])
                self.waiting_on_lock = row[1]
                time.sleep(0.02)

    def __enter__(self) -> ConnectionSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


@pytest.fixture
def server(transactional_db):
    tmp = Path(tempfile.mkdtemp(prefix="guichet-pool-"))
    port = harness.free_port()
    env = harness.server_env(
        MEDIA_ROOT=str(tmp / "private"),
        DB_POOL="1",
        DB_POOL_MIN_SIZE="1",
        DB_POOL_MAX_SIZE=str(POOL_SIZE),
        DB_POOL_TIMEOUT=str(POOL_TIMEOUT),
        # libpq's variable: the server's connections are told apart in pg_stat_activity.
        PGAPPNAME=APP_NAME,
        # As in production: the process builds the knowledge engine at start and is not ready
        # before. Without it, the burst below met a cold engine: the first questions held their
        # connections while it was built (seconds) and the requests behind them got 503s.
        KNOWLEDGE_WARM_UP="1",
    )
    env.pop("DB_CONN_MAX_AGE", None)
    log = tmp / "web.log"
    popen = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "contactcenter.asgi:application"]
        + ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=harness.ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    process = harness.Process("web", port, popen, log)
    try:
        harness.wait_until(
            lambda: harness.get(f"http://127.0.0.1:{port}/health/ready")[0] == 200,
            120,
            "web process ready",
            process.log_tail,
        )
        yield process
    finally:
        process.stop()


def test_pool_caps_the_connections_and_queues_or_refuses_cleanly(server):
    base = f"http://127.0.0.1:{server.port}"
    pages = ["/faq/?q=attestation", "/faq/", "/connexion/", "/faq/?q=carte+vitale"]

    # 1. Three times more requests at once than connections: they queue on the pool and succeed.
    with ConnectionSampler() as sampler, ThreadPoolExecutor(3 * POOL_SIZE) as pool:
        results = list(pool.map(fetch, [base + pages[i % len(pages)] for i in range(48)]))
    statuses = [status for status, _headers, _body in results]
    assert statuses == [200] * len(results), (statuses, server.log_tail())
    assert sampler.counts, "no sample of pg_stat_activity"
    assert max(sampler.counts) <= POOL_SIZE, (max(sampler.counts), server.log_tail())
    assert max(sampler.counts) >= 2  # the pool did grow under the load

    # 2. Every connection busy longer than the pool's timeout: those waiting get a clean 503.
    with ConnectionSampler() as sampler, ThreadPoolExecutor(POOL_SIZE + 3) as pool:
        locker = admin_connection()
        locker.autocommit = False
        try:
            locker.execute("LOCK TABLE knowledge_article IN ACCESS EXCLUSIVE MODE")
            blocked = [pool.submit(fetch, base + pages[0]) for _ in range(POOL_SIZE)]
            harness.wait_until(
                lambda: sampler.waiting_on_lock == POOL_SIZE,
                30,
                f"{POOL_SIZE} requests holding the pool's connections",
                server.log_tail,
            )
            began = time.monotonic()
            refused = [pool.submit(fetch, base + page) for page in pages[:3]]
            refusals = [future.result() for future in refused]
            waited = time.monotonic() - began
            assert not any(future.done() for future in blocked)
        finally:
            locker.rollback()
            locker.close()
        finished = [future.result() for future in blocked]

    for status, headers, body in refusals:
        assert status == 503, (status, body[:500])
        assert headers.get("retry-after") == "5"
        assert "Erreur 503" in body and "Traceback" not in body
    assert waited >= POOL_TIMEOUT - 0.5  # they did wait for a connection first
    assert [status for status, _h, _b in finished] == [200] * POOL_SIZE
    assert max(sampler.counts) <= POOL_SIZE
    log = server.log_tail(200_000)
    assert log.count("no database connection free within the pool's timeout") == 3, log[-3000:]
    assert "Traceback" not in log and "Internal Server Error" not in log, log[-3000:]
