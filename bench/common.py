"""What the benchmarks share: the command line of the bulk-loaded PostgreSQL benchmarks, the
deferred index build of the bulk load, percentiles and free ports.

The bulk loader itself is bench/messaging_bench.py (``load``, ``prepare_database``,
``setup_django``); the scripts that measure pages over its data set (console_synthesis,
dashboard_kpis, workstation, messaging_bench) take the same options from ``bulk_parser``.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import time
from urllib.parse import urlparse

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
