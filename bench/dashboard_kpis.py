#!/usr/bin/env python
"""Supervisor dashboard benchmark on PostgreSQL (target: page p95 < 300 ms).

Loads a large data set with the project's bulk loader (bench/messaging_bench.py, COPY through
psycopg; by default 10,000,000 timeline events over 1,000,000 cases and 200,000 citizens, spread
over two years), secondary indexes and foreign-key triggers deferred to the end of the load as in
bench/console_synthesis.py, then makes it look like a contact centre's: channels (web, chat,
phone, counter, callback, co-browsing) with their own contact events, realistic waiting times
and SLA outcomes, satisfaction ratings, transfers between services and citizen logins.

It then precomputes every past day as the Celery beat task does (``kpis.store_day``, timed) and
measures the server time of ``/supervision/tableau-de-bord/`` through Django's test Client
(middleware, filters, KPI queries, providers, template and chart data), for a supervisor of one
service and for an admin, over today / 7 days / 30 days / a 90-day custom range / topic and
channel filters, N requests each (default 50). It also times the live queue tiles partial
(loaded by htmx after the page) and a streamed case export. Prints p50 / p95 / max, query
counts, and exits 1 if a page misses the target.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/guichet \\
        .venv/bin/python bench/dashboard_kpis.py [--events 10000000] [--reuse] [--requests 50]

The data goes to its own database (``<name>_dashboard_bench`` by default, ``--db-name``),
created and migrated here; ``--reuse`` skips the load (and the precomputation already done).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import common  # noqa: E402
import messaging_bench as loader  # noqa: E402  (the one bulk loader of the project)

TARGET_MS = 300.0


def parse_args():
    parser = common.bulk_parser(
        __doc__, citizens=200_000, cases=1_000_000, events=10_000_000, requests=50
    )
    parser.add_argument("--logins", type=int, default=3_000_000, help="citizen logins")
    return common.parse_bulk_args(parser, "dashboard_bench")


# --- load ---------------------------------------------------------------------------------------


def step(cursor, label: str, sql: str, params=None) -> None:
    started = time.perf_counter()
    if params:
        cursor.execute(sql, params)
    else:
        cursor.execute(sql)  # no parameters: "%" is the modulo operator
    print(f"  {label} ({time.perf_counter() - started:.1f} s, {cursor.rowcount:,} rows)")


# Each statement reshapes the loader's all-web data set into a multichannel one. setseed makes
# the random() draws repeatable. Channels by case id modulo 100: 55 % web, 15 % chat, 12 % phone,
# 6 % counter, 7 % callback, 5 % co-browsing.
RESHAPE = [
    ("seed", "SELECT setseed(0.2026)"),
    (
        "case channels",
        """UPDATE contactcenter_case SET channel = CASE
            WHEN id % 100 < 55 THEN 'web' WHEN id % 100 < 70 THEN 'chat'
            WHEN id % 100 < 82 THEN 'phone' WHEN id % 100 < 88 THEN 'counter'
            WHEN id % 100 < 95 THEN 'callback' ELSE 'cobrowse' END""",
    ),
    (
        # The loader caps a case's last activity at the load time: thousands of cases would
        # then all have been closed "today". Spread them over their own lifetime instead.
        "last activity of the cases capped at the load time",
        """UPDATE contactcenter_case SET
             last_activity_at = created_at + random() * (last_activity_at - created_at)
           WHERE last_activity_at > now() - interval '1 hour'""",
    ),
    (
        "closures and updates follow the last activity",
        """UPDATE contactcenter_case SET updated_at = last_activity_at,
             closed_at = CASE WHEN status = 'closed' THEN last_activity_at END
           WHERE updated_at > now() - interval '1 hour'""",
    ),
    (
        "first answers (chat in minutes, phone/counter at once, web in hours or days)",
        """UPDATE contactcenter_case SET first_response_at = created_at + CASE channel
            WHEN 'chat' THEN random() * interval '15 minutes'
            WHEN 'phone' THEN interval '0'
            WHEN 'counter' THEN interval '0'
            WHEN 'callback' THEN random() * interval '2 days'
            WHEN 'cobrowse' THEN random() * interval '10 minutes'
            ELSE power(random(), 2) * interval '6 days' END
           WHERE first_response_at IS NOT NULL""",
    ),
    (
        "deadlines and breaches",
        """UPDATE contactcenter_case SET
             sla_deadline = created_at + CASE WHEN channel IN ('chat', 'cobrowse')
               THEN interval '10 minutes' ELSE interval '3 days' END,
             sla_breached = first_response_at IS NOT NULL AND first_response_at > created_at
               + CASE WHEN channel IN ('chat', 'cobrowse') THEN interval '10 minutes'
                 ELSE interval '3 days' END,
             resolved_first_contact = channel IN ('phone', 'counter') AND status = 'closed'
               AND random() < 0.6""",
    ),
    (
        "abandoned chats (closed, never assigned)",
        """UPDATE contactcenter_case SET assigned_to_id = NULL, assigned_at = NULL,
             first_response_at = NULL, resolution = 'no_follow_up'
           WHERE channel = 'chat' AND status = 'closed' AND id % 7 = 0""",
    ),
    (
        "contact events of each channel (the first event of every case)",
        """UPDATE contactcenter_event e SET
             type = CASE c.channel WHEN 'chat' THEN 'chat' WHEN 'phone' THEN 'contact'
               WHEN 'counter' THEN 'contact' WHEN 'callback' THEN 'callback'
               WHEN 'cobrowse' THEN 'cobrowse' ELSE 'message' END,
             channel = c.channel,
             payload = CASE c.channel WHEN 'chat' THEN '{"phase": "started"}'::jsonb
               WHEN 'callback' THEN '{"slot_start": "x"}'::jsonb ELSE '{}'::jsonb END
           FROM contactcenter_case c
           WHERE e.case_id = c.id AND e.created_at = c.created_at AND c.channel <> 'web'""",
    ),
    (
        "satisfaction (a third of answered and closed cases)",
        """INSERT INTO contactcenter_satisfaction
             (case_id, citizen_id, channel, service_id, score, comment, created_at)
           SELECT id, citizen_id, channel, service_id,
                  1 + floor(power(random(), 0.6) * 5)::int,
                  CASE WHEN id % 9 = 0 THEN 'Réponse claire, merci.' ELSE '' END,
                  last_activity_at
           FROM contactcenter_case
           WHERE status IN ('answered', 'closed') AND id % 3 = 0""",
    ),
    (
        "transfers (5 % of cases, to the other service)",
        """INSERT INTO contactcenter_transfer
             (case_id, from_service_id, to_service_id, reason, created_at)
           SELECT c.id, c.service_id,
                  (SELECT s.id FROM contactcenter_service s WHERE s.id <> c.service_id LIMIT 1),
                  'Hors compétence', c.created_at + interval '2 hours'
           FROM contactcenter_case c WHERE c.id % 20 = 3""",
    ),
]


def load(args) -> None:
    from django.db import connection

    from contactcenter.models import Case, Event, LoginEvent, Satisfaction, Transfer, User

    if args.reuse and Case.objects.exists():
        print(
            f"Reusing the data set: {Event.objects.count():,} events, "
            f"{Case.objects.count():,} cases."
        )
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Foreign keys are enforced by triggers: skipped during the load (consistent ids).
        cursor.execute("SET session_replication_role = replica")
        definitions = common.defer_indexes(cursor)
    print(
        f"Loading {args.events:,} events, {args.cases:,} cases, {args.citizens:,} citizens "
        f"(messaging bench loader):"
    )
    loader.load(args)
    with connection.cursor() as cursor:
        print("Making it multichannel:")
        for label, sql in RESHAPE:
            step(cursor, label, sql)
        step(
            cursor,
            f"{args.logins:,} citizen logins",
            """INSERT INTO contactcenter_loginevent (role, created_at)
               SELECT 'citizen', now() - random() * interval '720 days'
               FROM generate_series(1, %s)""",
            [args.logins],
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        print("  rebuilding indexes:")
        for definition in definitions:
            t0 = time.perf_counter()
            cursor.execute(definition)
            print(f"    {definition.split(' ON ')[0]} ({time.perf_counter() - t0:.1f} s)")
        # A live database appends rows in time order; the loader writes them case by case, so
        # one day's rows would be scattered over the whole table. Restore the time order.
        for table, index in (
            ("contactcenter_event", "event_created"),
            ("contactcenter_case", "case_created"),
        ):
            t0 = time.perf_counter()
            cursor.execute(f"CLUSTER {table} USING {index}")
            print(f"  {table} in time order ({time.perf_counter() - t0:.1f} s)")
        # Visibility map for index-only scans, statistics for the planner.
        cursor.execute("VACUUM ANALYZE")
    print(
        f"Loaded {Event.objects.count():,} events, {Case.objects.count():,} cases, "
        f"{User.objects.count():,} users, {Satisfaction.objects.count():,} ratings, "
        f"{Transfer.objects.count():,} transfers, {LoginEvent.objects.count():,} logins in "
        f"{(time.perf_counter() - started) / 60:.1f} min."
    )


def precompute() -> None:
    from console import kpis

    days = kpis.days_to_compute()
    if not days:
        print("Precomputed days: all stored already.")
        return
    timings = []
    started = time.perf_counter()
    for day in days:
        t0 = time.perf_counter()
        kpis.store_day(day)
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    from contactcenter.models import DailyKpi

    print(
        f"Precomputed {len(days)} days (Celery beat's work) in {time.perf_counter() - started:.0f}"
        f" s: per day p50 {statistics.median(timings):.0f} ms, max {timings[-1]:.0f} ms; "
        f"{DailyKpi.objects.count():,} DailyKpi rows."
    )


# --- measures -----------------------------------------------------------------------------------


def backend_cpu_ms() -> float | None:
    """CPU time used so far by this connection's PostgreSQL backend (local server only)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def run(client, label: str, url: str, requests: int, check=None) -> dict:
    """Wall time per request (p50/p95/max), and the mean CPU time per request of Django and of
    the PostgreSQL backend: on a shared machine the wall time includes waiting for a core, the
    CPU time is what the request costs."""
    from django.db import connection

    response = client.get(url)  # warm-up: connections, templates, PostgreSQL cache
    if response.status_code != 200:
        raise SystemExit(f"{label}: {url} answered {response.status_code}")
    if check:
        check(response)
    timings, queries = [], []
    cpu_start, db_start = time.process_time(), backend_cpu_ms()
    for _ in range(requests):
        connection.force_debug_cursor = True
        connection.queries_log.clear()
        start = time.perf_counter()
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        timings.append((time.perf_counter() - start) * 1000)
        connection.force_debug_cursor = False
        queries.append(len(connection.queries))
    cpu = (time.process_time() - cpu_start) * 1000 / requests
    db_end = backend_cpu_ms()
    db = (db_end - db_start) / requests if db_start is not None and db_end is not None else 0.0
    timings.sort()
    result = {
        "label": label,
        "p50": statistics.median(timings),
        "p95": timings[max(0, int(round(0.95 * len(timings))) - 1)],
        "max": timings[-1],
        "queries": statistics.median(queries),
        "cpu": cpu + db,
    }
    print(
        f"  {label:<40} p50 {result['p50']:6.1f}  p95 {result['p95']:6.1f}  "
        f"max {result['max']:6.1f} ms | CPU {cpu:5.1f} + PG {db:5.1f} = {cpu + db:5.1f} ms"
        f" | {result['queries']:.0f} queries"
    )
    return result


def main():
    args = parse_args()
    url = loader.prepare_database(args)
    print(f"Database: {urlparse(url).path[1:]}")
    # One persistent connection (one backend to measure), not the pool: it excludes
    # DB_CONN_MAX_AGE (contactcenter/db_pool.py).
    os.environ.setdefault("DB_POOL", "0")
    os.environ.setdefault("DB_CONN_MAX_AGE", "600")
    loader.setup_django(url)
    load(args)
    precompute()

    from django.test import Client
    from django.utils import timezone

    from contactcenter.models import AgentProfile, Event, Service, Topic, User

    service = Service.objects.order_by("id").first()
    supervisor, created = User.objects.get_or_create(
        email="superviseur@bench.example.fr",
        defaults={"username": "superviseur@bench.example.fr", "role": User.Role.SUPERVISOR},
    )
    AgentProfile.objects.get_or_create(user=supervisor)[0].services.set([service])
    admin, _created = User.objects.get_or_create(
        email="admin@bench.example.fr",
        defaults={
            "username": "admin@bench.example.fr",
            "role": User.Role.ADMIN,
            "is_superuser": True,
            "is_staff": True,
        },
    )
    clients = {}
    for user in (supervisor, admin):
        clients[user.pk] = Client()
        clients[user.pk].force_login(user)
    today = timezone.localdate()
    topic = Topic.objects.filter(service=service).order_by("id").first()
    base = "/supervision/tableau-de-bord/"
    custom = f"periode=perso&du={today - timedelta(days=89)}&au={today}"
    print(
        f"Data set: {Event.objects.count():,} events. Server time over {args.requests} requests "
        f"each (Django test Client, DEBUG off):"
    )

    def has_figures(response):
        report = response.context["report"] if response.context else None
        if report is not None and report.overall.contacts == 0:
            raise SystemExit("the dashboard shows no contact: the data set is not loaded")

    sup, adm = clients[supervisor.pk], clients[admin.pk]
    scenarios = [
        (sup, "supervisor (1 service), today", base + "?periode=jour", None),
        (sup, "supervisor, 7 days (default)", base, has_figures),
        (sup, "supervisor, 30 days", base + "?periode=30j", None),
        (sup, "supervisor, 90-day custom range", base + "?" + custom, None),
        (sup, "supervisor, 30 days, one topic", base + f"?periode=30j&theme={topic.slug}", None),
        (sup, "supervisor, 30 days, chat only", base + "?periode=30j&canal=chat", None),
        (adm, "admin (every service), 30 days", base + "?periode=30j", None),
        (adm, "admin, 90-day custom range", base + "?" + custom, None),
    ]
    from django.conf import settings

    ttl = settings.GUICHET_KPI_LIVE_CACHE_SECONDS
    results = []
    for label, cache_seconds in (
        ("today recomputed on every request (no cache)", 0),
        (f"today's figures shared for {ttl} s (default)", ttl),
    ):
        settings.GUICHET_KPI_LIVE_CACHE_SECONDS = cache_seconds
        print(f"Page, {label}:")
        for client, name, url, check in scenarios:
            results.append(run(client, name, url, args.requests, check))
    print("Not part of the page (loaded after it, or on demand):")
    run(sup, "live queue tiles (htmx partial, routing.live_view)", base + "direct/", 10)
    run(sup, "CSV export of 7 days of cases (streamed)", base + "export/demandes.csv", 5)
    run(
        sup,
        "CSV export of a table (per topic, 30 days)",
        base + "export/themes.csv?periode=30j",
        10,
    )

    slow = [r["label"] for r in results if r["p95"] >= TARGET_MS]
    print(
        f"Machine load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."
    )
    print(
        f"Target page p95 < {TARGET_MS:.0f} ms (wall): "
        + ("met" if not slow else "MISSED for " + ", ".join(slow))
    )
    costly = [r["label"] for r in results if r["cpu"] >= TARGET_MS]
    print(
        f"Mean CPU cost per page (Django + PostgreSQL) under {TARGET_MS:.0f} ms: "
        + ("yes" if not costly else "NO for " + ", ".join(costly))
    )
    if slow:
        sys.exit(1)


if __name__ == "__main__":
    main()
