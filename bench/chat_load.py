#!/usr/bin/env python
"""Live chat load test: an asyncio websocket client against the production setup, on loopback.

The script starts everything itself and cleans up after itself:

1. a dedicated PostgreSQL database (``<name>_chat_bench``, dropped and recreated, migrated) with
   N citizens in active chats with N/10 agents (each agent holds 10 chats), and their sessions;
2. the ASGI server as in production: uvicorn (``--workers``, uvloop, httptools) on
   ``contactcenter.asgi`` with ``GUICHET_ENV=production``, the Redis channel layer (own prefix)
   and PostgreSQL (persistent connections);
3. 2 x N websockets (each citizen's page and each agent's chat panel) opened with the real
   origin check and session cookies, held during the whole run;
4. rate steps (``--rates``): messages are posted at the target rate over all conversations,
   alternately by the citizen and the agent, for ``--step-seconds`` each; the delivery latency
   is measured from the sender's ``send`` to the other side's receipt (both in this process,
   same clock). A step is "sustained" when at least 95 % of the target rate was delivered, with
   no error, loss or duplicate. The ramp stops after the first step whose p99 passes 100 ms;
5. the same client and topology against a bare ``websockets`` relay server (one process, no
   database, no channel layer: a message is echoed to its sender and relayed to the peer), for
   the ratio.

Printed per step: target and delivered messages/s, p50/p95/p99/max delivery latency (a message
not delivered within 3 s counts as infinitely late), sender acknowledgement p99 (stored and
committed), errors, late and duplicated messages, server CPU per message, the machine's load;
then lost messages (never delivered), the server's memory per connection (RSS of the uvicorn
processes before and after opening the sockets, the "before" taken after ``--warm-chats`` chats
were opened and used, so that one-off imports and connection pools are not counted per socket);
messages persisted in PostgreSQL versus sent; the highest sustained rate with p99 <= 100 ms;
and the chat/bare ratios. Targets (issue #5): 2,000 sockets held, 200 msg/s at p99 < 50 ms,
>= 1,000 msg/s before p99 passes 100 ms, 0 lost or duplicated.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/guichet \\
    REDIS_URL="redis://127.0.0.1:6379/0?max_connections=2000" \\
        .venv/bin/python bench/chat_load.py [--citizens 1000] [--rates 200,300,400,700,1000] \\
        [--layer list]

``max_connections``: redis-py's pools hold 100 connections by default and fail beyond, which
2,000 sockets opening at once exceed. ``--layer`` picks the production settings' channel layer
(``CHANNEL_LAYER``: ``pubsub``, the default, or channels_redis' list-based ``list``); figures of
both in ``bench/RESULTS.md``.

Bounded in time (``--max-seconds``, default 600): the run stops at the limit whatever the step.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import memtrace  # noqa: E402
from common import (  # noqa: E402  (what the benchmarks share)
    count_persisted,
    drop_database,
    free_port,
    migrate,
    quiet_rss_kib,
    recreate_database,
    serve_relay,
    server_env,
    settled_cpu,
    start_process,
    stop_process,
    tree_cpu_seconds,
    tree_rss_kib,
)

BODY = "Bonjour, je voudrais savoir où en est mon dossier, merci de votre aide."
SUSTAINED_SHARE = 0.95
P99_LIMIT_MS = 100.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument("--citizens", type=int, default=1000, help="N chats (2 x N sockets)")
    parser.add_argument("--chats-per-agent", type=int, default=10)
    parser.add_argument(
        "--rates", default="200,500,1000,1500,2000,3000", help="message rates (msg/s) to step"
    )
    parser.add_argument("--step-seconds", type=float, default=15.0)
    parser.add_argument("--warmup-seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--warm-chats",
        type=int,
        default=10,
        help="chats opened (and used) before the memory baseline, kept open idle",
    )
    parser.add_argument("--max-seconds", type=float, default=600.0, help="hard time limit")
    parser.add_argument("--skip-echo", action="store_true", help="do not run the bare relay")
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="run every rate step even after p99 passed 100 ms (CPU per message on a busy "
        "machine, where the latency is the machine's)",
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the benchmark database")
    parser.add_argument(
        "--layer",
        choices=["pubsub", "list"],
        default="pubsub",
        help="channel layer (the settings' CHANNEL_LAYER): channels_redis' Pub/Sub layer "
        "(production default) or its list-based layer",
    )
    parser.add_argument(
        "--ws",
        choices=["websockets", "websockets-sansio", "wsproto"],
        default="websockets-sansio",
        help="uvicorn's websocket implementation (production, bin/serve: websockets-sansio; "
        "websockets is the legacy one, four tasks per socket)",
    )
    parser.add_argument(
        "--ws-per-message-deflate",
        choices=["true", "false"],
        default="false",
        help="uvicorn's option (the client offers the extension, as browsers do); production "
        "(bin/serve) turns it off: each socket would hold zlib contexts",
    )
    parser.add_argument(
        "--profile-server",
        default="",
        metavar="FILE",
        help="run one uvicorn worker under cProfile and write its profile to FILE",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="run one uvicorn worker under tracemalloc (bench/memtrace.py) and print the "
        "allocation sites that grow with the sockets (slower: no latency figures to keep)",
    )
    parser.add_argument("--serve-relay", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- setup: database, data, server ---------------------------------------------------------------


def bench_database_url(args) -> str:
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("This benchmark needs PostgreSQL: set DATABASE_URL or --database-url.")
    if not args.redis_url.startswith("redis://"):
        sys.exit("This benchmark needs Redis: set REDIS_URL or --redis-url.")
    parsed = urlparse(args.database_url)
    name = f"{parsed.path.lstrip('/') or 'guichet'}_chat_bench"
    return parsed._replace(path=f"/{name}").geturl()


def seed(env: dict, citizens: int, per_agent: int) -> list[dict]:
    """Users, active chat cases and sessions, in bulk. Returns one dict per conversation."""
    for key in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        os.environ[key] = env[key]
    os.environ["DJANGO_SETTINGS_MODULE"] = "contactcenter.settings"
    os.environ["GUICHET_ENV"] = "development"  # the seeding process only; the server is prod
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import transaction
    from django.utils import timezone

    from chat.models import ChatMessage, Conversation
    from contactcenter.models import AgentProfile, Case, Service, Skill, Topic, User

    password = make_password(None)
    now = timezone.now()
    agents_count = max(1, citizens // per_agent)
    with transaction.atomic():
        service = Service.objects.create(code="bench", name="Service de test de charge")
        skill = Skill.objects.create(code="bench", name="Charge")
        topic = Topic.objects.create(slug="bench", title="Charge", service=service, skill=skill)
        agents = User.objects.bulk_create(
            User(
                username=f"agent{i}@bench.example.fr",
                email=f"agent{i}@bench.example.fr",
                first_name=f"Agent{i}",
                last_name="Charge",
                role=User.Role.AGENT,
                password=password,
            )
            for i in range(agents_count)
        )
        profiles = AgentProfile.objects.bulk_create(AgentProfile(user=a) for a in agents)
        AgentProfile.services.through.objects.bulk_create(
            AgentProfile.services.through(agentprofile=p, service=service) for p in profiles
        )
        people = User.objects.bulk_create(
            User(
                username=f"usager{i}@bench.example.fr",
                email=f"usager{i}@bench.example.fr",
                first_name=f"Usager{i}",
                last_name="Charge",
                role=User.Role.CITIZEN,
                password=password,
            )
            for i in range(citizens)
        )
        cases = Case.objects.bulk_create(
            Case(
                reference=f"BENCH-{i:06d}",
                citizen=person,
                topic=topic,
                service=service,
                kind=Case.Kind.QUESTION,
                channel="chat",
                status=Case.Status.IN_PROGRESS,
                subject="Tchat : Charge",
                assigned_to=agents[i // per_agent % agents_count],
                assigned_at=now,
            )
            for i, person in enumerate(people)
        )
        conversations = Conversation.objects.bulk_create(
            Conversation(
                case=case,
                citizen_id=case.citizen_id,
                agent_id=case.assigned_to_id,
                status=Conversation.Status.ACTIVE,
                last_seq=1,
            )
            for case in cases
        )
        ChatMessage.objects.bulk_create(
            ChatMessage(
                conversation=conv,
                seq=1,
                client_id=f"start-{conv.pk}",
                kind="citizen",
                sender_id=conv.citizen_id,
                body="Bonjour",
            )
            for conv in conversations
        )
        keys: dict[int | None, str] = {}  # every seeded conversation has its agent
        sessions = []
        expire = now + timedelta(hours=4)
        for user in list(agents) + list(people):
            key = uuid.uuid4().hex
            data = SessionStore().encode(
                {
                    SESSION_KEY: str(user.pk),
                    BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                    HASH_SESSION_KEY: user.get_session_auth_hash(),
                }
            )
            sessions.append(Session(session_key=key, session_data=data, expire_date=expire))
            keys[user.pk] = key
        Session.objects.bulk_create(sessions, batch_size=1000)
    return [
        {
            "id": conv.pk,
            "citizen_key": keys[conv.citizen_id],
            "agent_key": keys[conv.agent_id],
        }
        for conv in conversations
    ]


# --- the client ----------------------------------------------------------------------------------


@dataclass
class Step:
    rate: float
    seconds: float
    sent: int = 0
    delivered: int = 0
    latencies: list[float] = field(default_factory=list)
    acks: list[float] = field(default_factory=list)
    errors: int = 0
    duplicates: int = 0
    late: int = 0  # not delivered within the drain time (counted as infinite latency)
    lost: int = 0  # never delivered, even after the final wait
    missing: list = field(default_factory=list)
    server_cpu: float = float("nan")
    load: float = float("nan")  # 1-minute load average of the machine at the end of the step

    @property
    def cpu_ms_per_message(self) -> float:
        return self.server_cpu / self.sent * 1000 if self.sent else float("nan")

    @property
    def delivered_rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0

    def pct(self, values: list[float], q: float, late: int = 0) -> float:
        if not values and not late:
            return float("nan")
        ordered = sorted(values) + [float("inf")] * late
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def latency(self, q: float) -> float:
        return self.pct(self.latencies, q, self.late)

    @property
    def p99(self) -> float:
        return self.latency(0.99)

    @property
    def sustained(self) -> bool:
        return (
            self.delivered_rate >= SUSTAINED_SHARE * self.rate
            and self.errors == 0
            and self.late == 0
            and self.duplicates == 0
        )


class Load:
    """2 x N sockets; measures delivery to the peer socket of every message sent."""

    def __init__(
        self,
        base_url: str,
        origin: str,
        conversations: list[dict],
        relay: bool,
        server_pid: int | None = None,
    ):
        self.server_pid = server_pid
        self.base_url = base_url
        self.origin = origin
        self.conversations = conversations
        self.relay = relay
        self.sockets: dict[tuple[int, str], ClientConnection] = {}
        self.pending: dict[str, tuple[float, tuple[int, str], Step]] = {}
        self.seen: dict[tuple[int, str], set[str]] = {}
        self.acked: set[str] = set()
        self.step: Step | None = None
        self.errors = 0
        self.closed = 0
        self.failed = 0  # sockets that could not open (open_all's tolerate)
        self.readers: list[asyncio.Task] = []
        # The process that accepted each socket (X-Guichet-Process, PROCESS_HEADER on).
        self.process: dict[tuple[int, str], str] = {}
        self.counter = 0
        self.prefix = "b-"  # client ids; count_persisted counts the measured Load's

    async def open_all(self, concurrency: int = 64, tolerate: bool = False) -> None:
        """Open every socket; ``tolerate``: a socket that cannot open after 5 attempts is left
        out (counted in ``failed``) instead of ending the run (tracemalloc's slow server)."""
        from websockets.asyncio.client import connect
        from websockets.typing import Origin

        gate = asyncio.Semaphore(concurrency)

        async def open_one(conv: dict, role: str):
            key = conv["agent_key"] if role == "agent" else conv["citizen_key"]
            path = f"/ws/tchat/{conv['id']}/"
            if self.relay:
                path += f"?role={role}"
            async with gate:
                for attempt in range(5):
                    try:
                        ws = await connect(
                            self.base_url + path,
                            origin=Origin(self.origin),
                            additional_headers={"Cookie": f"sessionid={key}"},
                            # Offered as browsers do; the server decides (uvicorn's
                            # --ws-per-message-deflate, off in production: bin/serve).
                            compression="deflate",
                            ping_interval=None,
                            open_timeout=30,
                            max_queue=None,
                            proxy=None,
                        )
                        break
                    except (OSError, TimeoutError, Exception):
                        if attempt == 4:
                            if tolerate:
                                self.failed += 1
                                return
                            raise
                        await asyncio.sleep(0.5 * (attempt + 1))
                state = json.loads(await ws.recv())
                if state.get("type") != "state":
                    raise RuntimeError(f"unexpected first frame: {state}")
            self.sockets[(conv["id"], role)] = ws
            if ws.response is not None:
                self.process[(conv["id"], role)] = ws.response.headers.get("X-Guichet-Process", "")
            self.seen[(conv["id"], role)] = set()
            self.readers.append(asyncio.create_task(self.read(ws, (conv["id"], role))))

        await asyncio.gather(
            *(open_one(conv, role) for conv in self.conversations for role in ("citizen", "agent"))
        )

    async def read(self, ws, who: tuple[int, str]) -> None:
        try:
            async for raw in ws:
                now = time.perf_counter()
                data = json.loads(raw)
                kind = data.get("type")
                if kind == "message":
                    cid = data["message"]["client_id"]
                    entry = self.pending.get(cid)
                    if entry is None:
                        continue
                    sent_at, sender, step = entry
                    if who == sender:
                        if cid not in self.acked:
                            self.acked.add(cid)
                            step.acks.append(now - sent_at)
                        continue
                    seen = self.seen[who]
                    if cid in seen:
                        step.duplicates += 1
                        continue
                    seen.add(cid)
                    step.delivered += 1
                    step.latencies.append(now - sent_at)
                elif kind == "error":
                    self.errors += 1
                    if self.step:
                        self.step.errors += 1
        except Exception:
            self.closed += 1

    async def run_step(self, rate: float, seconds: float) -> Step:
        step = Step(rate=rate, seconds=seconds)
        self.step = step
        cpu_start = tree_cpu_seconds(self.server_pid) if self.server_pid else None
        conversations = self.conversations
        n = len(conversations)
        start = time.perf_counter()
        index = 0
        sent_ids: list[tuple[str, tuple[int, str]]] = []
        while True:
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
            due = int(rate * elapsed) - step.sent
            for _ in range(due):
                conv = conversations[index % n]
                # Alternate the sender per conversation: citizen, agent, citizen...
                role = "citizen" if (index // n) % 2 == 0 else "agent"
                index += 1
                self.counter += 1
                cid = f"{self.prefix}{self.counter:09d}"
                who = (conv["id"], role)
                ws = self.sockets[who]
                self.pending[cid] = (time.perf_counter(), who, step)
                sent_ids.append((cid, who))
                step.sent += 1
                try:
                    await ws.send(json.dumps({"type": "message", "client_id": cid, "body": BODY}))
                except Exception:
                    step.errors += 1
            await asyncio.sleep(0.005)
        await asyncio.sleep(3.0)  # drain
        if cpu_start is not None and self.server_pid:
            step.server_cpu = tree_cpu_seconds(self.server_pid) - cpu_start
        step.load = os.getloadavg()[0]
        peer = {"citizen": "agent", "agent": "citizen"}
        for cid, (conv_id, role) in sent_ids:
            if cid in self.seen[(conv_id, peer[role])]:
                self.pending.pop(cid, None)
            else:
                step.missing.append((cid, (conv_id, peer[role])))
        step.late = len(step.missing)
        self.step = None
        return step

    async def settle(self, steps: list[Step], patience: float = 30.0) -> None:
        """Wait for late messages (up to ``patience`` s, or 10 s without progress); what never
        arrives is lost."""
        deadline = time.monotonic() + patience
        last_progress, remaining = time.monotonic(), None
        while time.monotonic() < deadline:
            count = sum(1 for s in steps for cid, who in s.missing if cid not in self.seen[who])
            if count == 0:
                break
            if count != remaining:
                remaining, last_progress = count, time.monotonic()
            elif time.monotonic() - last_progress > 10:
                break
            await asyncio.sleep(0.5)
        for step in steps:
            step.lost = sum(1 for cid, who in step.missing if cid not in self.seen[who])

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.sockets.values()), return_exceptions=True)


def describe(step: Step) -> str:
    def fmt(value: float) -> str:
        if value != value:
            return "   n/a"
        return " >3000" if value == float("inf") else f"{value:6.1f}"

    return (
        f"{step.rate:7.0f} {step.delivered_rate:9.1f} {fmt(step.latency(0.5))} "
        f"{fmt(step.latency(0.95))} {fmt(step.p99)} "
        f"{fmt(step.latency(1.0))} {fmt(step.pct(step.acks, 0.99))} "
        f"{step.errors:6d} {step.late:6d} {step.duplicates:5d} {fmt(step.cpu_ms_per_message)} "
        f"{step.load:5.1f}  "
        f"{'yes' if step.sustained and step.p99 <= P99_LIMIT_MS else 'no'}"
    )


HEADER = (
    " target  delivered    p50    p95    p99    max  ack99 errors   late  dups    cpu  load"
    "  sustained\n"
    "  msg/s      msg/s     ms     ms     ms     ms     ms                      ms/msg"
)


async def drive(label: str, load: Load, rates: list[float], args, deadline: float) -> list[Step]:
    print(f"\n== {label}: {len(load.sockets)} sockets held ==", flush=True)
    await load.run_step(min(rates), args.warmup_seconds)
    print(HEADER, flush=True)
    steps = []
    cpu_start = tree_cpu_seconds(load.server_pid) if load.server_pid else None
    for rate in rates:
        if time.monotonic() + args.step_seconds + 5 > deadline:
            print("(time limit reached)")
            break
        step = await load.run_step(rate, args.step_seconds)
        steps.append(step)
        print(describe(step), flush=True)
        if not args.keep_going and (step.p99 > P99_LIMIT_MS or step.errors > step.sent * 0.01):
            break
    await load.settle(steps)
    sent = sum(s.sent for s in steps)
    if cpu_start is not None and load.server_pid and sent:
        # Per step, the CPU is divided by the messages sent during the step: a server that
        # falls behind does the rest of the work later. Over the whole ramp, until the server
        # is idle again (below 5 % of a core over a second, 120 s at most), every message
        # counts once, whatever the machine's load.
        cpu = await settled_cpu(load.server_pid, cpu_start)
        print(
            f"server CPU over the ramp, until the server was idle again: {cpu:.1f} s for "
            f"{sent} messages = {cpu / sent * 1000:.2f} ms per message",
            flush=True,
        )
    return steps


def best_rate(steps: list[Step]) -> float:
    good = [s.delivered_rate for s in steps if s.sustained and s.p99 <= P99_LIMIT_MS]
    return max(good) if good else 0.0


async def _client(args, conversations, chat_port, relay_port, server, relay_pid):
    deadline = time.monotonic() + args.max_seconds
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    results = {}

    # Warm-up: the first sockets of each worker import the consumers, open the database and
    # Redis connections and fill Django's caches (a one-off cost per process, tens of MiB);
    # counted in the "before" figure, not per connection. They stay open, idle, during the run.
    warm = Load(
        f"ws://127.0.0.1:{chat_port}",
        f"http://127.0.0.1:{chat_port}",
        conversations[: args.warm_chats],
        False,
        server.pid,
    )
    warm.prefix = "w-"
    rss_cold = tree_rss_kib(server.pid)
    if args.warm_chats:
        await warm.open_all()
        await warm.run_step(2 * args.warm_chats, 2.0)
    rss_before = await quiet_rss_kib([server.pid])
    if args.tracemalloc:
        await memtrace.heap_snapshot(server.pid, 1)
    print(
        f"warm-up: {len(warm.sockets)} sockets and {warm.counter} messages took the server "
        f"from {rss_cold / 1024:.0f} MiB to {rss_before / 1024:.0f} MiB",
        flush=True,
    )
    chat = Load(
        f"ws://127.0.0.1:{chat_port}",
        f"http://127.0.0.1:{chat_port}",
        conversations[args.warm_chats :],
        False,
        server.pid,
    )
    opened = time.perf_counter()
    # Under tracemalloc a handshake costs ~10x the CPU: 64 at once pass websockets' 10 s
    # opening timeout on the server and are dropped.
    await chat.open_all(concurrency=4 if args.tracemalloc else 64, tolerate=args.tracemalloc)
    if chat.failed:
        print(f"{chat.failed} sockets could not open (left out)", flush=True)
    open_seconds = time.perf_counter() - opened
    rss_after = await quiet_rss_kib([server.pid])
    if args.tracemalloc:
        await memtrace.heap_snapshot(server.pid, 2)
        for line in memtrace.compare(
            *(memtrace.snapshot_path(n) for n in (1, 2)), len(chat.sockets)
        ):
            print(line, flush=True)
    idle_start = tree_cpu_seconds(server.pid)
    await asyncio.sleep(5)
    idle_cpu = (tree_cpu_seconds(server.pid) - idle_start) / 5 * 100
    print(f"server CPU with every socket idle: {idle_cpu:.1f} % of one core", flush=True)
    sockets = len(chat.sockets)
    print(
        f"\nopened {sockets} authenticated sockets in {open_seconds:.1f} s; server RSS "
        f"{rss_before / 1024:.0f} MiB -> {rss_after / 1024:.0f} MiB = "
        f"{(rss_after - rss_before) / max(sockets, 1):.1f} KiB per connection",
        flush=True,
    )
    label = f"chat (uvicorn x{args.workers} + Redis {args.layer} layer + PostgreSQL)"
    results["chat"] = await drive(label, chat, rates, args, deadline)
    results["chat_closed"] = chat.closed
    results["sent_total"] = chat.counter
    await chat.close()
    await warm.close()
    results["sockets"] = sockets
    results["kib_per_conn"] = (rss_after - rss_before) / max(sockets, 1)

    if relay_port:
        relay = Load(
            f"ws://127.0.0.1:{relay_port}",
            f"http://127.0.0.1:{relay_port}",
            conversations,
            True,
            relay_pid,
        )
        await relay.open_all()
        results["relay"] = await drive("bare websockets relay", relay, rates, args, deadline)
        await relay.close()
    return results


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.serve_relay:
        serve_relay(args.serve_relay)
        return 0
    database_url = bench_database_url(args)
    prefix = f"bench-chat-{os.getpid()}"
    env = server_env(args, database_url, prefix)
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"guichet-chat-bench-{os.getpid()}"
    logs.mkdir(parents=True, exist_ok=True)
    print(f"database {urlparse(database_url).path[1:]}, channel layer prefix {prefix}, logs {logs}")
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
        "(other processes compete with the server, PostgreSQL, Redis and this client)"
    )
    recreate_database(database_url)
    processes: list[subprocess.Popen] = []
    try:
        migrate(env)
        started = time.perf_counter()
        conversations = seed(env, args.citizens, args.chats_per_agent)
        print(
            f"seeded {len(conversations)} active chats with "
            f"{max(1, args.citizens // args.chats_per_agent)} agents "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        chat_port = free_port()
        profile = ["-m", "cProfile", "-o", args.profile_server] if args.profile_server else []
        server_module = ["-m", "uvicorn"]
        if args.tracemalloc:
            os.environ["MEMTRACE_DIR"] = env["MEMTRACE_DIR"] = str(logs)
            server_module = [str(ROOT / "bench" / "memtrace.py")]
        server = start_process(
            [
                sys.executable,
                *profile,
                *server_module,
                "contactcenter.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(chat_port),
                "--workers",
                str(1 if args.profile_server or args.tracemalloc else args.workers),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--ws",
                args.ws,
                "--ws-per-message-deflate",
                args.ws_per_message_deflate,
                "--log-level",
                "warning",
                "--no-access-log",
                "--backlog",
                "4096",
            ],
            env,
            chat_port,
            logs / "uvicorn.log",
            timeout=120,  # a loaded machine (tracemalloc starts later: bench/memtrace.py)
        )
        processes.append(server)
        relay_port = relay_pid = None
        if not args.skip_echo:
            relay_port = free_port()
            relay = start_process(
                [sys.executable, __file__, "--serve-relay", str(relay_port)],
                env,
                relay_port,
                logs / "relay.log",
            )
            processes.append(relay)
            relay_pid = relay.pid
        with contextlib.suppress(ImportError):
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        results = asyncio.run(
            _client(args, conversations, chat_port, relay_port, server, relay_pid)
        )
        report(results, count_persisted(database_url))
    finally:
        for process in processes:
            # SIGINT: a graceful exit, so that cProfile writes its file.
            stop_process(process, signal.SIGINT if args.profile_server else signal.SIGTERM)
        if not args.keep_db:
            drop_database(database_url)
        with contextlib.suppress(Exception):
            import redis

            client = redis.from_url(args.redis_url)
            for key in client.scan_iter(f"{prefix}*"):
                client.delete(key)
    return 0


def report(results: dict, persisted: int) -> None:
    chat = results["chat"]
    relay = results.get("relay") or []
    print("\n== summary ==")
    print(
        f"sockets held: {results['sockets']}; server memory per connection: "
        f"{results['kib_per_conn']:.1f} KiB; sockets dropped during the run: "
        f"{results['chat_closed']}"
    )
    print(
        f"messages sent to the chat server {results['sent_total']} (warm-up included), "
        f"persisted in PostgreSQL {persisted}"
    )
    lost = sum(s.lost for s in chat)
    late = sum(s.late for s in chat)
    dups = sum(s.duplicates for s in chat)
    errors = sum(s.errors for s in chat)
    print(
        f"lost {lost} (never delivered), late {late} (delivered after the 3 s drain, counted "
        f"as infinite latency), duplicated {dups}, errors {errors}"
    )
    first = chat[0] if chat else None
    if first:
        print(f"at {first.rate:.0f} msg/s: p50 {first.latency(0.5):.1f} ms, p99 {first.p99:.1f} ms")
    best_chat, best_relay = best_rate(chat), best_rate(relay)
    print(
        f"highest sustained rate with p99 <= {P99_LIMIT_MS:.0f} ms: chat {best_chat:.0f} msg/s"
        + (f", bare relay {best_relay:.0f} msg/s" if relay else "")
    )
    if relay and chat:
        pairs = [(c, r) for c in chat for r in relay if c.rate == r.rate]
        for c, r in pairs:
            ratio = c.p99 / r.p99 if r.p99 == r.p99 and r.p99 > 0 else float("nan")
            print(
                f"  at {c.rate:.0f} msg/s: p99 chat {c.p99:.1f} ms vs bare {r.p99:.1f} ms "
                f"(x{ratio:.1f})"
            )
        if best_relay:
            print(f"sustained-rate ratio chat/bare: {best_chat / best_relay:.2f}")
    print(
        "(every message is stored with its sequence number before delivery; the ack column is "
        "the sender's confirmation after commit)"
    )


if __name__ == "__main__":
    sys.exit(main())
