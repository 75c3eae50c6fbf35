"""What the benchmarks share: the command line of the bulk-loaded PostgreSQL benchmarks, the
deferred index build of the bulk load, percentiles and free ports.

Also the pieces of the load tests that start their own stack (bench/chat_load.py, bench/peak.py):
a scratch PostgreSQL database, server processes in their own process group, their CPU and
resident memory from /proc, and the bare ``websockets`` relay they compare against.

The bulk loader itself is bench/messaging_bench.py (``load``, ``prepare_database``,
``setup_django``); the scripts that measure pages over its data set (console_synthesis,
dashboard_kpis, workstation, messaging_bench) take the same options from ``bulk_parser``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]

BULK_TABLES = ("contactcenter_event", "contactcenter_case")


def bulk_parser(
    doc: str, *, citizens: int, cases: int, events: int, requests: int
) -> argparse.ArgumentParser:
    """The options of a benchmark over the bulk-loaded data set; ``doc`` is the script's
    docstring (first paragraph: description, the rest: epilog)."""
    parser = argparse.ArgumentParser(
        description=doc.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=doc.split("\n\n", 1)[1],
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="PostgreSQL server to use (default: $DATABASE_URL)",
    )
    parser.add_argument("--db-name", default="", help="database to create (default: see above)")
    parser.add_argument("--citizens", type=int, default=citizens)
    parser.add_argument("--cases", type=int, default=cases)
    parser.add_argument("--events", type=int, default=events)
    parser.add_argument("--requests", type=int, default=requests, help="requests per measure")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database if it already holds the data set"
    )
    parser.add_argument("--seed", type=int, default=2026)
    return parser


def parse_bulk_args(parser: argparse.ArgumentParser, suffix: str) -> argparse.Namespace:
    """Parse, and name the benchmark's own database ``<name>_<suffix>`` unless --db-name."""
    args = parser.parse_args()
    if not args.db_name:
        parsed = urlparse(args.database_url)
        args.db_name = f"{parsed.path.lstrip('/') or 'guichet'}_{suffix}"
    return args


def defer_indexes(cursor, tables=BULK_TABLES) -> list[str]:
    """Drop the secondary indexes of the bulk tables (rebuilt once at the end: much faster than
    maintaining them row by row). Returns their definitions."""
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
        "FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
        "WHERE t.relname = ANY(%s) AND NOT i.indisprimary AND NOT i.indisunique",
        [list(tables)],
    )
    rows = cursor.fetchall()
    for name, _definition in rows:
        cursor.execute(f"DROP INDEX {name}")
    return [definition for _name, definition in rows]


def rebuild_indexes(cursor, definitions: list[str]) -> None:
    cursor.execute("SET maintenance_work_mem = '512MB'")
    cursor.execute("SET max_parallel_maintenance_workers = 2")
    for definition in definitions:
        started = time.perf_counter()
        cursor.execute(definition)
        found = re.search(r"INDEX (\S+)", definition)
        name = found.group(1) if found else definition
        print(f"    index {name} ({time.perf_counter() - started:.1f} s)")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile, ``p`` in percent (0 when there is no value)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def recreate_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.path[1:]}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parsed.path[1:]}"')


def drop_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    admin = parsed._replace(path="/postgres").geturl()
    with contextlib.suppress(psycopg.Error), psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.path[1:]}" WITH (FORCE)')


def start_process(
    cmd: list[str], env: dict, port: int, log_path: Path, timeout: float = 60.0
) -> subprocess.Popen:
    log = log_path.open("w")
    process = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return process
        time.sleep(0.2)
    stop_process(process)
    sys.exit(f"server did not start in {timeout:.0f} s")


def stop_process(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants (KiB), from /proc."""
    total = 0
    for current in _tree(pid):
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for current in _tree(pid):
        try:
            with open(f"/proc/{current}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / ticks


async def quiet_rss_kib(pids: list[int], share: float = 0.05, limit: float = 60.0) -> int:
    """The processes' resident memory once they are idle: polled every second until they used
    less than ``share`` of a core together over that second (what the sockets' opening left
    to do, such as the agents' first inactivity checks, has run), ``limit`` seconds at most."""
    deadline = time.monotonic() + limit
    before = sum(tree_cpu_seconds(pid) for pid in pids)
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        now = sum(tree_cpu_seconds(pid) for pid in pids)
        if now - before < share:
            break
        before = now
    return sum(tree_rss_kib(pid) for pid in pids)


def serve_relay(port: int) -> None:
    """A bare websockets server: each frame is echoed to its sender and relayed to the peer."""
    from websockets.asyncio.server import serve

    rooms: dict[str, dict[str, object]] = {}
    seqs: dict[str, int] = {}

    async def handler(ws):
        path, _, query = ws.request.path.partition("?")
        room = path
        role = "agent" if "role=agent" in query else "citizen"
        peers = rooms.setdefault(room, {})
        peers[role] = ws
        await ws.send(json.dumps({"type": "state", "role": role, "status": "active"}))
        try:
            async for raw in ws:
                data = json.loads(raw)
                if data.get("type") != "message":
                    continue
                seqs[room] = seqs.get(room, 0) + 1
                frame = json.dumps(
                    {
                        "type": "message",
                        "message": {
                            "seq": seqs[room],
                            "client_id": data["client_id"],
                            "kind": role,
                            "body": data["body"],
                        },
                    },
                    ensure_ascii=False,
                )
                for peer in list(peers.values()):
                    with contextlib.suppress(Exception):
                        await peer.send(frame)
        finally:
            if peers.get(role) is ws:
                del peers[role]

    async def main():
        async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=None):
            await asyncio.Future()

    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(main())


def server_env(args, database_url: str, prefix: str) -> dict:
    """The production settings of a load test's servers (``args.layer``: the channel layer)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "contactcenter.settings",
        "CHANNEL_LAYER": args.layer,
        "GUICHET_ENV": "production",
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + uuid.uuid4().hex + uuid.uuid4().hex,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": database_url,
        "REDIS_URL": args.redis_url,
        "CHANNEL_LAYER_PREFIX": prefix,
        "CACHE_PREFIX": prefix,
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("TEST_DB_NAME", None)
    return env


def migrate(env: dict) -> None:
    # Production settings serve hashed static files: the application refuses to start without
    # the manifest that collectstatic writes (contactcenter.checks.require_static_manifest).
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput", "--verbosity", "0"]):
        result = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            sys.exit(f"{command[0]} failed:\n{result.stderr[-3000:]}")


async def settled_cpu(pid: int, start: float, idle_share: float = 0.05) -> float:
    """CPU seconds used by the server since ``start``, read once it has gone idle."""
    last = tree_cpu_seconds(pid)
    for _ in range(120):
        await asyncio.sleep(1.0)
        now = tree_cpu_seconds(pid)
        if now - last < idle_share:
            return now - start
        last = now
    return last - start


def count_persisted(database_url: str) -> int:
    """Chat messages stored by chat_load.py's measured load (client ids ``b-…``)."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM chat_chatmessage WHERE client_id LIKE 'b-%%'"
        ).fetchone()
        assert row is not None  # COUNT(*) always returns a row
        return row[0]
