#!/usr/bin/env python
"""Synthesis sheet benchmark (agent console) on PostgreSQL.

Loads a large data set with the messaging benchmark's bulk loader (bench/messaging_bench.py,
COPY through psycopg; by default 10,000,000 timeline events over 1,000,000 cases and 200,000
citizens), with index maintenance and foreign-key triggers deferred to the end of the load, then
adds "heavy" citizens with 500 contacts each (web, phone, counter, chat, e-mail, letter...) over
cases in two services. It then measures the server time of the synthesis sheet
``/console/usagers/<id>/`` seen by an agent of one of those services:

- the first page,
- a later page by keyset cursor (``?apres=<cursor>``, page 11: contacts 201-220),
- the same later page as the htmx partial ("Afficher les contacts plus anciens"),

over N requests each (default 200) through Django's test Client (middleware, view, queries,
audit record insert, template rendering), and prints p50 / p95 / max and the query count.
Target: p95 < 30 ms. It prints the EXPLAIN ANALYZE of the sheet's queries (visible cases,
counts per channel, contacts page: first and later page), built by the console's own functions,
and fails if PostgreSQL reads the event or case table with a sequential scan.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/guichet REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/console_synthesis.py [--events 10000000] [--reuse]

With REDIS_URL, as in production, the cache and the sessions are on Redis (``cached_db``:
no session query per request); without it, the embedded defaults (sessions in the database).

The data goes to its own database (``<name>_console_bench`` by default, ``--db-name``),
created and migrated here; ``--reuse`` skips the load when that database is already filled.
"""

from __future__ import annotations

import os
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import common  # noqa: E402
import messaging_bench as loader  # noqa: E402  (the one bulk loader of the project)

TARGET_MS = 30.0
CONTACT_CHANNELS = ["web", "phone", "counter", "chat", "email", "letter", "callback"]
CONTACT_TYPES = {
    "web": "message",
    "phone": "contact",
    "counter": "contact",
    "email": "contact",
    "letter": "contact",
    "chat": "chat",
    "callback": "callback",
}


def parse_args():
    parser = common.bulk_parser(
        __doc__, citizens=200_000, cases=1_000_000, events=10_000_000, requests=200
    )
    parser.add_argument("--heavy-citizens", type=int, default=20, help="citizens with --contacts")
    parser.add_argument("--contacts", type=int, default=500, help="contacts per heavy citizen")
    return common.parse_bulk_args(parser, "console_bench")


# --- load ---------------------------------------------------------------------------------------


def add_heavy_citizens(args) -> list[int]:
    """Citizens with ``--contacts`` contacts each, over 10 cases (8 in the first service, 2 in
    the second): the sheet of an agent of the first service shows 80 % of them."""
    from django.db import connection

    from contactcenter.models import Case, Event, Service, Topic, User

    rng = random.Random(args.seed + 7)
    now = datetime.now(UTC)
    services = list(Service.objects.order_by("id")[:2])
    topics = {s.pk: list(Topic.objects.filter(service=s)) for s in services}
    agent_ids = list(
        User.objects.filter(role="agent", agent_profile__services=services[0]).values_list(
            "id", flat=True
        )
    )
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        # The demo is loaded first: every table has rows.
        next_user = (User.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        next_case = (Case.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        next_event = (Event.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        users, cases, events = [], [], []
        heavy = []
        for h in range(args.heavy_citizens):
            citizen = next_user + h
            heavy.append(citizen)
            email = f"usager.fidele{h}@bench.example.fr"
            users.append(
                (
                    citizen,
                    "!",
                    False,
                    email,
                    "Usager",
                    f"Fidèle {h}",
                    email,
                    False,
                    True,
                    now,
                    "citizen",
                    "+33612345678",
                    True,
                    True,
                    f"{1000000000000 + h}",
                    "",
                    0,
                )
            )
            case_ids = []
            for c in range(10):
                service = services[0] if c < 8 else services[1]
                topic = rng.choice(topics[service.pk])
                created = now - timedelta(days=400 - c * 30)
                status = "in_progress" if c in (0, 8) else "closed"
                case_ids.append(next_case)
                cases.append(
                    (
                        next_case,
                        f"H{h:03d}-{c:06d}",
                        citizen,
                        topic.pk,
                        service.pk,
                        "question",
                        "phone",
                        status,
                        f"Dossier suivi {c}",
                        None,
                        None,
                        "answered" if status == "closed" else "",
                        False,
                        False,
                        0,
                        created + timedelta(days=5),
                        False,
                        created + timedelta(hours=3),
                        created,
                        now,
                        now,
                        None if status != "closed" else now,
                    )
                )
                next_case += 1
            start = now - timedelta(days=390)
            for k in range(args.contacts):
                channel = rng.choice(CONTACT_CHANNELS)
                at = start + timedelta(minutes=(390 * 24 * 60) * k / args.contacts)
                by_citizen = channel == "web" and k % 2 == 0
                events.append(
                    (
                        next_event,
                        case_ids[k % 10],
                        citizen,
                        CONTACT_TYPES[channel],
                        channel,
                        citizen if by_citizen else rng.choice(agent_ids),
                        False,
                        loader.BODIES[k % len(loader.BODIES)],
                        "{}",
                        at,
                    )
                )
                next_event += 1
        loader.copy_rows(
            cursor,
            "contactcenter_user",
            [
                "id",
                "password",
                "is_superuser",
                "username",
                "first_name",
                "last_name",
                "email",
                "is_staff",
                "is_active",
                "date_joined",
                "role",
                "mobile_phone",
                "notify_email",
                "notify_sms",
                "tax_number",
                "social_number",
                "session_generation",
            ],
            users,
        )
        loader.copy_rows(
            cursor,
            "contactcenter_case",
            loader.CASE_COLUMNS,
            cases,
        )
        loader.copy_rows(
            cursor,
            "contactcenter_event",
            loader.EVENT_COLUMNS,
            events,
        )
        for table in ("contactcenter_user", "contactcenter_case", "contactcenter_event"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"
            )
    return heavy


def load(args) -> list[int]:
    from django.db import connection

    from contactcenter.models import Case, Event, User

    if args.reuse and Case.objects.exists():
        heavy = list(
            User.objects.filter(email__startswith="usager.fidele")
            .order_by("id")
            .values_list("id", flat=True)
        )
        print(
            f"Reusing the data set: {Event.objects.count():,} events, "
            f"{Case.objects.count():,} cases, {len(heavy)} heavy citizens."
        )
        return heavy
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Foreign keys are enforced by triggers: skip them during the load (the loader writes
        # consistent ids), and build the secondary indexes once at the end.
        cursor.execute("SET session_replication_role = replica")
        definitions = common.defer_indexes(cursor)
    print(
        f"Loading {args.events:,} events, {args.cases:,} cases, {args.citizens:,} citizens "
        f"(messaging bench loader):"
    )
    loader.load(args)
    heavy = add_heavy_citizens(args)
    print(
        f"  {len(heavy)} citizens with {args.contacts} contacts each "
        f"({time.perf_counter() - started:.1f} s)"
    )
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = DEFAULT")
        print("  rebuilding indexes:")
        common.rebuild_indexes(cursor, definitions)
        cursor.execute("ANALYZE")
    total = Event.objects.count()
    print(
        f"Loaded {total:,} events, {Case.objects.count():,} cases, "
        f"{User.objects.count():,} users in {time.perf_counter() - started:.1f} s "
        f"({(time.perf_counter() - started) / 60:.1f} min)."
    )
    return heavy


# --- measures -----------------------------------------------------------------------------------


def later_cursor(agent, citizen, page: int = 11) -> str | None:
    """The cursor that opens page ``page`` (read once here; the page itself is keyset)."""
    from console import synthesis
    from contactcenter.models import User

    person = User.objects.get(pk=citizen)
    cursor = None
    for _ in range(page - 1):
        result = synthesis.contact_page(
            person, synthesis.visible_case_links(agent, person), cursor=cursor
        )
        cursor = result.next_cursor
    return cursor


def explain(agent, citizen_id: int, cursor: str | None) -> list[tuple[str, str]]:
    """EXPLAIN ANALYZE of the queries the sheet runs (synthesis.sheet_queries: the visible
    cases, the counts per channel, the contacts page), built by the same functions as the
    console's. Django binds the parameters on the client, so each plan is the one
    PostgreSQL makes for those values. Returns (label, plan)."""
    from console import synthesis
    from contactcenter.models import User

    citizen = User.objects.get(pk=citizen_id)
    return [
        (label, queryset.explain(analyze=True, buffers=True))
        for label, queryset in synthesis.sheet_queries(agent, citizen, cursor)
    ]


def main():
    args = parse_args()
    url = loader.prepare_database(args)
    print(f"Database: {urlparse(url).path[1:]}")
    loader.setup_django(url)
    heavy = load(args)

    from django.db import connection
    from django.test import Client

    from contactcenter.models import Event, Service, User

    service = Service.objects.order_by("id").first()
    agent = User.objects.filter(role="agent", agent_profile__services=service).order_by("id")[0]
    client = Client()
    client.force_login(agent)
    cursors = {citizen: later_cursor(agent, citizen) for citizen in heavy}
    shown = Event.objects.filter(citizen_id=heavy[0], case__service=service).count()
    print(
        f"Data set: {Event.objects.count():,} events in the database; each heavy citizen has "
        f"{args.contacts} contacts, {shown} of them in the agent's service."
    )

    # Warm up connections, template caches, translations.
    for citizen in heavy[:3]:
        client.get(f"/console/usagers/{citizen}/")

    def get(label: str, target: str, headers) -> None:
        response = client.get(target, headers=headers or {})
        shown = response.content.decode().count('<li class="console-event')
        if response.status_code != 200 or shown != 20:
            raise SystemExit(
                f"{label}: {target} answered {response.status_code} with {shown} contacts"
            )

    def run(label: str, make_url, headers=None) -> dict:
        timings, cpu, queries, db = [], [], [], []
        for i in range(args.requests):
            target = make_url(heavy[i % len(heavy)])
            start, start_cpu = time.perf_counter(), time.process_time()
            get(label, target, headers)
            timings.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        # Queries and their time on a separate pass: Django's query log (the debug cursor) costs
        # time of its own on every query, which the timed pass above must not include.
        for i in range(min(args.requests, 50)):
            target = make_url(heavy[i % len(heavy)])
            connection.force_debug_cursor = True
            connection.queries_log.clear()
            try:
                get(label, target, headers)
            finally:
                connection.force_debug_cursor = False
            queries.append(len(connection.queries))
            db.append(sum(float(q["time"]) for q in connection.queries) * 1000)
        timings.sort()
        result = {
            "label": label,
            "p50": statistics.median(timings),
            "p95": timings[max(0, int(round(0.95 * len(timings))) - 1)],
            "max": timings[-1],
            "queries": statistics.median(queries),
            "cpu": statistics.median(cpu),
            "db": statistics.median(db),
        }
        print(
            f"  {label:<42} p50 {result['p50']:6.1f} ms   p95 {result['p95']:6.1f} ms   "
            f"max {result['max']:6.1f} ms   {result['queries']:.0f} queries   "
            f"(p50: Django CPU {result['cpu']:.1f} ms, SQL {result['db']:.1f} ms)"
        )
        return result

    load1 = os.getloadavg()[0]
    print(
        f"Server time over {args.requests} requests each (Django test Client, DEBUG off, "
        f"agent {agent.email}; load average {load1:.1f} on {os.cpu_count()} CPUs):"
    )
    results = [
        run("synthesis sheet, first page", lambda c: f"/console/usagers/{c}/"),
        run(
            "synthesis sheet, page 11 by cursor",
            lambda c: f"/console/usagers/{c}/?apres={cursors[c]}",
        ),
        run(
            "page 11 as htmx partial (Afficher plus)",
            lambda c: f"/console/usagers/{c}/?apres={cursors[c]}",
            {"HX-Request": "true"},
        ),
    ]

    problems = []
    for page, cursor in (("first page", None), ("page 11", cursors[heavy[0]])):
        for label, plan in explain(agent, heavy[0], cursor):
            if page != "first page" and not label.startswith("contacts page"):
                continue  # the same queries as on the first page
            print(f"\nEXPLAIN ANALYZE, {label} ({page}):\n{plan}")
            if re.search(r"Seq Scan on contactcenter_(event|case)\b", plan):
                problems.append(f"sequential scan of a large table ({label}, {page})")
            if not re.search(r"Index (Only )?Scan", plan):
                problems.append(f"no index scan ({label}, {page})")
    slow = [r["label"] for r in results if r["p95"] >= TARGET_MS]
    print()
    print(
        f"Target p95 < {TARGET_MS:.0f} ms: "
        + ("met" if not slow else "MISSED for " + ", ".join(slow))
    )
    print(
        "Query plans: "
        + (
            "index scans, no sequential scan of events or cases"
            if not problems
            else "; ".join(problems)
        )
    )
    if slow or problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
