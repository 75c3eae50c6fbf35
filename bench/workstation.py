#!/usr/bin/env python
"""Agent workstation benchmark (/console/poste/) on PostgreSQL.

Loads the messaging benchmark's data set with its bulk loader (bench/messaging_bench.py, COPY
through psycopg; by default 1,000,000 timeline events over 100,000 cases and 20,000 citizens),
with the secondary indexes built once at the end (bench/console_synthesis.py's helpers). Then
gives one agent a realistic desk: 15 secure messages, 2 live chats (with their conversations
and messages) and a callback, assigned to them. It measures the server time of what the
workstation loads:

- the first load of the page ``/console/poste/`` (header, load per channel, the work list);
- the partials: the work list (``poste/liste/``, refreshed over the socket), the service
  queues (``poste/file/``), and the switch between two open items: each item's tab
  (``poste/demandes/<ref>/``, a case; ``/tchat/agent/<id>/panneau/``, a chat) and its citizen
  panel (``poste/demandes/<ref>/usager/``), alternating between two items as an agent does;

over N requests each (default 200) through Django's test Client (middleware, view, queries,
audit record inserts, template rendering), and prints p50 / p95 / max and the query count.
Targets: p95 < 50 ms and at most 10 queries per partial.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/guichet REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/workstation.py [--events 1000000] [--reuse]

The data goes to its own database (``<name>_workstation_bench`` by default, ``--db-name``),
created and migrated here; ``--reuse`` skips the load when that database is already filled.
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

TARGET_MS = 50.0
MAX_QUERIES = 10


def parse_args():
    parser = common.bulk_parser(
        __doc__, citizens=20_000, cases=100_000, events=1_000_000, requests=200
    )
    return common.parse_bulk_args(parser, "workstation_bench")


def load(args) -> None:
    from django.db import connection

    from contactcenter.models import Case, Event

    if args.reuse and Case.objects.exists():
        events, cases = Event.objects.count(), Case.objects.count()
        print(f"Reusing the data set: {events:,} events, {cases:,} cases.")
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        definitions = common.defer_indexes(cursor)
    print(f"Loading {args.events:,} events, {args.cases:,} cases, {args.citizens:,} citizens:")
    loader.load(args)
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = DEFAULT")
        print("  rebuilding indexes:")
        common.rebuild_indexes(cursor, definitions)
        cursor.execute("ANALYZE")
    print(
        f"Loaded {Event.objects.count():,} events, {Case.objects.count():,} cases in "
        f"{time.perf_counter() - started:.1f} s."
    )


def desk(agent) -> tuple[list, list]:
    """Give ``agent`` 15 secure messages, 2 live chats and a callback (idempotent: the same
    cases each run). Returns (case references, chat conversation ids)."""
    from django.utils import timezone

    from chat.models import ChatMessage, Conversation
    from contactcenter.models import Case

    service_id = agent.agent_profile.services.values_list("id", flat=True).first()
    mine = list(
        Case.objects.filter(service_id=service_id, channel="web")
        .order_by("id")
        .values_list("id", flat=True)[:18]
    )
    now = timezone.now()
    Case.objects.filter(pk__in=mine).update(
        assigned_to=agent, status="in_progress", assigned_at=now, last_activity_at=now
    )
    chats, callback = mine[15:17], mine[17]
    Case.objects.filter(pk__in=chats).update(channel="chat")
    Case.objects.filter(pk=callback).update(channel="callback")
    conversations = []
    for case in Case.objects.filter(pk__in=chats).order_by("id"):
        conversation, created = Conversation.objects.get_or_create(
            case=case,
            defaults={"citizen_id": case.citizen_id, "agent": agent, "status": "active"},
        )
        if created:
            for seq in range(1, 31):
                ChatMessage.objects.create(
                    conversation=conversation,
                    seq=seq,
                    client_id=f"bench-{case.pk}-{seq}",
                    kind="citizen" if seq % 2 else "agent",
                    sender_id=case.citizen_id if seq % 2 else agent.pk,
                    body=loader.BODIES[seq % len(loader.BODIES)],
                    created_at=now - timedelta(minutes=31 - seq),
                )
            Conversation.objects.filter(pk=conversation.pk).update(last_seq=30, agent_read_seq=26)
        conversations.append(conversation.pk)
    references = list(
        Case.objects.filter(pk__in=mine).order_by("id").values_list("reference", flat=True)
    )
    return references, conversations


def main():
    args = parse_args()
    url = loader.prepare_database(args)
    print(f"Database: {urlparse(url).path[1:]}")
    loader.setup_django(url)
    load(args)

    from django.db import connection
    from django.test import Client

    from contactcenter.models import Event, User

    agent = (
        User.objects.filter(role="agent", agent_profile__services__code="fiscalite")
        .order_by("id")
        .first()
    )
    if agent is None:
        raise SystemExit("No agent of the fiscalite service in the data set.")
    references, conversations = desk(agent)
    first, second = references[0], references[1]
    client = Client()
    client.force_login(agent)
    hx = {"HX-Request": "true"}
    print(
        f"Data set: {Event.objects.count():,} events; agent {agent.email} holds "
        f"{len(references)} contacts ({len(conversations)} chats, 1 callback)."
    )

    def get(label: str, target: str, headers) -> None:
        response = client.get(target, headers=headers or {})
        if response.status_code != 200:
            raise SystemExit(f"{label}: {target} answered {response.status_code}")

    def run(label: str, targets: list[str], headers=None, *, partial: bool = True) -> dict:
        for target in targets:  # warm up
            get(label, target, headers)
        timings, cpu, queries, sql = [], [], [], []
        for i in range(args.requests):
            target = targets[i % len(targets)]
            start, start_cpu = time.perf_counter(), time.process_time()
            get(label, target, headers)
            timings.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        # Queries counted on a separate pass: the query log costs time of its own.
        for i in range(min(args.requests, 20)):
            connection.force_debug_cursor = True
            connection.queries_log.clear()
            try:
                get(label, targets[i % len(targets)], headers)
            finally:
                connection.force_debug_cursor = False
            queries.append(len(connection.queries))
            sql.append(sum(float(q["time"]) for q in connection.queries) * 1000)
        timings.sort()
        result = {
            "label": label,
            "partial": partial,
            "p50": statistics.median(timings),
            "p95": timings[max(0, int(round(0.95 * len(timings))) - 1)],
            "max": timings[-1],
            "queries": max(queries),
            "cpu": statistics.median(cpu),
            "sql": statistics.median(sql),
        }
        print(
            f"  {label:<46} p50 {result['p50']:6.1f} ms   p95 {result['p95']:6.1f} ms   "
            f"max {result['max']:6.1f} ms   {result['queries']} queries   "
            f"(p50: Django CPU {result['cpu']:.1f} ms, SQL {result['sql']:.1f} ms)"
        )
        return result

    print(
        f"Server time over {args.requests} requests each (Django test Client, DEBUG off; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):"
    )
    item = "/console/poste/demandes/{}/"
    results = [
        run("first load /console/poste/", ["/console/poste/"], partial=False),
        run("work list partial (poste/liste/)", ["/console/poste/liste/"], hx),
        run("service queues partial (poste/file/)", ["/console/poste/file/"], hx),
        run(
            "switch: case tab, two items alternately", [item.format(first), item.format(second)], hx
        ),
        run(
            "switch: citizen panel, two items alternately",
            [item.format(first) + "usager/", item.format(second) + "usager/"],
            hx,
        ),
        run(
            "switch: chat tab (chat panel), two chats",
            [f"/tchat/agent/{pk}/panneau/" for pk in conversations],
            hx,
        ),
    ]
    slow = [r["label"] for r in results if r["p95"] >= TARGET_MS]
    heavy = [r["label"] for r in results if r["partial"] and r["queries"] > MAX_QUERIES]
    print()
    print(
        f"Target p95 < {TARGET_MS:.0f} ms: "
        + ("met" if not slow else "MISSED for " + ", ".join(slow))
    )
    print(
        f"Target <= {MAX_QUERIES} queries per partial: "
        + ("met" if not heavy else "MISSED for " + ", ".join(heavy))
    )
    if slow or heavy:
        sys.exit(1)


if __name__ == "__main__":
    main()
