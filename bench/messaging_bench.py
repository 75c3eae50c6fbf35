#!/usr/bin/env python
"""Secure messaging benchmark on PostgreSQL.

Fills a dedicated PostgreSQL database with 20,000 citizens, 100,000 cases and 1,000,000
timeline events (bulk load with COPY through psycopg), then measures the server time of:

- a citizen's request list (``/espace/``),
- a case thread (``/espace/demandes/<reference>/``),
- an agent's service queue (the console's ``/console/?vue=queue`` and the API's
  ``/api/cases/?status=new``),

each over N requests (default 200) through Django's test Client (whole middleware stack, view,
queries and template rendering), and prints p50 / p95 / max and the number of SQL queries.
Target: p95 < 50 ms. Besides wall-clock time, the script prints the SQL time (as seen by Django)
and the CPU time of the Django process: on a shared, overloaded machine the wall-clock figures
include time spent waiting for a CPU.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/guichet \\
        .venv/bin/python bench/messaging_bench.py [--reuse] [--requests 200]

The data goes to its own database (``<name>_bench`` by default, ``--db-name``), created and
migrated here; ``--reuse`` skips the load when that database is already filled.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import common  # noqa: E402  (what the benchmarks share)


def parse_args():
    parser = common.bulk_parser(
        __doc__, citizens=20_000, cases=100_000, events=1_000_000, requests=200
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="no warm-up pass before timing (first reads hit the disk)",
    )
    return common.parse_bulk_args(parser, "bench")


def prepare_database(args) -> str:
    import psycopg

    if not args.database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("This benchmark needs PostgreSQL: set DATABASE_URL or --database-url.")
    parsed = urlparse(args.database_url)
    name = args.db_name
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not args.reuse:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return parsed._replace(path=f"/{name}").geturl()


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


# --- bulk load ---------------------------------------------------------------------------------

BODIES = [
    "Bonjour, j'ai une question concernant mon dossier, pouvez-vous me renseigner ?",
    "Je vous transmets les informations demandées. Merci de votre retour rapide.",
    "Votre demande a bien été prise en compte, nous revenons vers vous sous 48 heures.",
    "Pouvez-vous nous faire parvenir une copie de votre avis d'imposition ?",
    "Après vérification, votre situation est régularisée. Bonne journée.",
]


# Columns written by COPY (shared with the other benchmarks that reuse this loader).
CASE_COLUMNS = [
    "id",
    "reference",
    "citizen_id",
    "topic_id",
    "service_id",
    "kind",
    "channel",
    "status",
    "subject",
    "assigned_to_id",
    "assigned_at",
    "resolution",
    "resolved_first_contact",
    "fragile",
    "priority",
    "sla_deadline",
    "sla_breached",
    "first_response_at",
    "created_at",
    "updated_at",
    "last_activity_at",
    "closed_at",
]
EVENT_COLUMNS = [
    "id",
    "case_id",
    "citizen_id",
    "type",
    "channel",
    "actor_id",
    "internal",
    "body",
    "payload",
    "created_at",
]


def copy_rows(cursor, table: str, columns: list[str], rows) -> int:
    count = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def load(args) -> None:
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from contactcenter.models import AgentProfile, Case, Event, Service, Skill, Topic, User

    if args.reuse and Case.objects.exists():
        print(f"Reusing the data set: {Case.objects.count():,} cases.")
        return
    rng = random.Random(args.seed)
    started = time.perf_counter()
    services = [
        Service.objects.create(code="fiscalite", name="Pôle fiscalité et titres"),
        Service.objects.create(code="social", name="Pôle social et emploi"),
    ]
    topics = []
    for service, slugs in zip(
        services, (["impots", "titres", "compte"], ["sante", "etudiants", "emploi"]), strict=True
    ):
        for slug in slugs:
            skill = Skill.objects.create(code=slug, name=slug.title())
            topics.append(
                Topic.objects.create(slug=slug, title=slug.title(), service=service, skill=skill)
            )
    password = make_password("Guichet-Bench-2026!")
    agents = []
    for service in services:
        for i in range(20):
            email = f"agent{i}.{service.code}@bench.example.fr"
            agent = User.objects.create(
                username=email,
                email=email,
                password=password,
                role=User.Role.AGENT,
                first_name="Agent",
                last_name=str(i),
            )
            AgentProfile.objects.create(user=agent).services.set([service])
            agents.append((agent, service))

    now = datetime.now(UTC)
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # the psycopg cursor: COPY support
        last_user = User.objects.order_by("-id").values_list("id", flat=True).first()
        first_citizen = (last_user or 0) + 1
        user_cols = [
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
        ]
        copy_rows(
            cursor,
            "contactcenter_user",
            user_cols,
            (
                (
                    first_citizen + i,
                    password,
                    False,
                    f"usager{i}@bench.example.fr",
                    "Usager",
                    str(i),
                    f"usager{i}@bench.example.fr",
                    False,
                    True,
                    now,
                    "citizen",
                    "",
                    True,
                    False,
                    "",
                    "",
                    0,
                )
                for i in range(args.citizens)
            ),
        )
        citizen_ids = list(range(first_citizen, first_citizen + args.citizens))
        print(f"  {args.citizens:,} citizens ({time.perf_counter() - started:.1f} s)")

        statuses = (
            ["closed"] * 50
            + ["answered"] * 15
            + ["new"] * 10
            + ["assigned"] * 8
            + ["in_progress"] * 10
            + ["waiting_citizen"] * 7
        )
        kinds = list(Case.Kind.values)
        agents_by_service: dict[int, list[int]] = {}
        for agent, service in agents:
            agents_by_service.setdefault(service.pk, []).append(agent.pk)
        cases = []  # (id, citizen, created, last, service)
        case_cols = CASE_COLUMNS

        def case_rows():
            for i in range(args.cases):
                case_id = i + 1
                citizen = citizen_ids[i % args.citizens]  # 5 cases each
                topic = rng.choice(topics)
                status = rng.choice(statuses)
                created = now - timedelta(days=rng.uniform(0, 720))
                last = created + timedelta(days=rng.uniform(0, 20))
                last = min(last, now)
                assigned = (
                    None if status == "new" else rng.choice(agents_by_service[topic.service_id])
                )
                cases.append((case_id, citizen, created, last))
                yield (
                    case_id,
                    f"{created.year}-B{case_id:07d}",
                    citizen,
                    topic.pk,
                    topic.service_id,
                    rng.choice(kinds),
                    "web",
                    status,
                    f"Demande {case_id}",
                    assigned,
                    created if assigned else None,
                    "answered" if status == "closed" else "",
                    False,
                    False,
                    0,
                    created + timedelta(days=5),
                    False,
                    None if status in ("new", "assigned") else last,
                    created,
                    last,
                    last,
                    last if status == "closed" else None,
                )

        copy_rows(cursor, "contactcenter_case", case_cols, case_rows())
        print(f"  {args.cases:,} cases ({time.perf_counter() - started:.1f} s)")

        event_cols = EVENT_COLUMNS
        per_case = args.events // args.cases
        extra = args.events - per_case * args.cases
        agent_ids = [a.pk for a, _s in agents]

        def event_rows():
            event_id = 0
            for index, (case_id, citizen, created, last) in enumerate(cases):
                n = per_case + (1 if index < extra else 0)
                span = (last - created) / max(n, 1)
                for k in range(n):
                    event_id += 1
                    at = created + span * k
                    if k == 0:
                        kind, actor, internal, body = "message", citizen, False, BODIES[0]
                    else:
                        kind = rng.choice(
                            (
                                "message",
                                "message",
                                "status",
                                "note",
                                "message",
                                "notification",
                                "request_info",
                            )
                        )
                        internal = kind in ("note", "notification")
                        actor = (
                            citizen if (kind == "message" and k % 2 == 0) else rng.choice(agent_ids)
                        )
                        body = "" if kind in ("status", "notification") else rng.choice(BODIES)
                    payload = '{"from": "new", "to": "in_progress"}' if kind == "status" else "{}"
                    yield (
                        event_id,
                        case_id,
                        citizen,
                        kind,
                        "web",
                        actor,
                        internal,
                        body,
                        payload,
                        at,
                    )

        copy_rows(cursor, "contactcenter_event", event_cols, event_rows())
        print(f"  {args.events:,} events ({time.perf_counter() - started:.1f} s)")
        for table in ("contactcenter_user", "contactcenter_case", "contactcenter_event"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"
            )
        # VACUUM as well: the visibility map a running server's autovacuum keeps, without which
        # PostgreSQL reads the table even for an index-only scan (the console queue's facets).
        cursor.execute("VACUUM ANALYZE")
    print(f"Loaded in {time.perf_counter() - started:.1f} s.")
    assert Event.objects.count() == args.events


# --- measures ---------------------------------------------------------------------------------


def measure(label: str, requests: list[tuple], client_for, warm: bool = True) -> dict:
    """Time each (user, url) GET; the login is done before the clock starts.

    With ``warm``, every URL is requested once before timing, so that the figures are the
    steady-state server time (rows in PostgreSQL's cache, as on a running server), not the
    first disk read after the bulk load.
    """
    from django.db import connection, reset_queries

    if warm:
        for user, url in requests:
            client_for(user).get(url)
    timings, queries, db_times, cpu_times = [], [], [], []
    for user, url in requests:
        client = client_for(user)
        connection.force_debug_cursor = True
        reset_queries()
        start = time.perf_counter()
        cpu_start = time.process_time()
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        elapsed = (time.perf_counter() - start) * 1000
        cpu_times.append((time.process_time() - cpu_start) * 1000)
        connection.force_debug_cursor = False
        if response.status_code != 200:
            raise SystemExit(f"{label}: {url} answered {response.status_code}")
        timings.append(elapsed)
        queries.append(len(connection.queries))
        db_times.append(sum(float(q["time"]) for q in connection.queries) * 1000)
    timings.sort()
    p95 = timings[max(0, int(round(0.95 * len(timings))) - 1)]
    result = {
        "label": label,
        "n": len(timings),
        "p50": statistics.median(timings),
        "p95": p95,
        "max": timings[-1],
        "queries": statistics.median(queries),
        "db_p50": statistics.median(db_times),
        "cpu_p95": sorted(cpu_times)[max(0, int(round(0.95 * len(cpu_times))) - 1)],
    }
    print(
        f"  {label:<48} p50 {result['p50']:6.1f} ms   p95 {result['p95']:6.1f} ms   "
        f"max {result['max']:6.1f} ms   {result['queries']:.0f} queries "
        f"(SQL p50 {result['db_p50']:.1f} ms, Django CPU p95 {result['cpu_p95']:.1f} ms)"
    )
    return result


def run_measures(args) -> list[dict]:
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    from contactcenter.models import Case, User

    rng = random.Random(args.seed + 1)
    clients: dict[int, Client] = {}

    def client_for(user):
        if user.pk not in clients:
            client = Client()
            client.force_login(user)
            clients[user.pk] = client
        return clients[user.pk]

    n = args.requests
    citizens = list(User.objects.filter(role="citizen").order_by("?")[:n])
    cases = list(Case.objects.select_related("citizen").order_by("?")[:n])
    agents = list(User.objects.filter(role="agent"))
    warm = not args.cold

    results = [
        measure(
            "citizen request list  /espace/",
            [(c, "/espace/") for c in citizens],
            client_for,
            warm,
        ),
        measure(
            "case thread  /espace/demandes/<ref>/",
            [(c.citizen, f"/espace/demandes/{c.reference}/") for c in cases],
            client_for,
            warm,
        ),
        measure(
            "case thread (API)  /api/cases/<ref>/messages/",
            [(c.citizen, f"/api/cases/{c.reference}/messages/") for c in cases],
            client_for,
            warm,
        ),
        measure(
            "agent service queue (API)  /api/cases/?status=new",
            [(rng.choice(agents), "/api/cases/?status=new") for _ in range(n)],
            client_for,
            warm,
        ),
    ]
    try:
        console = reverse("console:home")
    except NoReverseMatch:
        console = None
    if console:
        results.append(
            measure(
                "agent service queue (console)  /console/?vue=queue",
                [(rng.choice(agents), console + "?vue=queue") for _ in range(n)],
                client_for,
                warm,
            )
        )
    return results


def main():
    args = parse_args()
    url = prepare_database(args)
    print(f"Database: {urlparse(url).path[1:]}")
    setup_django(url)
    load(args)
    print(
        f"Server time over {args.requests} requests each (Django test Client, DEBUG off), "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs:"
    )
    results = run_measures(args)
    slow = [r["label"] for r in results if r["p95"] >= 50]
    print("Target p95 < 50 ms: " + ("met" if not slow else "MISSED for " + ", ".join(slow)))


if __name__ == "__main__":
    main()
