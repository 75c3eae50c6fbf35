#!/usr/bin/env python
"""Whole-platform peak test: a realistic mix through HAProxy at 1, 2 and 3 web processes.

The script starts everything itself, on loopback, and cleans up after itself:

1. a scratch PostgreSQL database (``<name>_peak_bench``), migrated, with the demo (FAQ,
   chatbot knowledge, topics, a supervisor) and bench/chat_load.py's bulk seed: N citizens in
   active chats with N/10 agents; ``--login-citizens`` of them get a password;
2. one real Celery worker (Redis broker, acks late) and, for each process count of
   ``--processes`` (default 1,2,3), that many uvicorn processes of ``contactcenter.asgi``
   (production settings) behind HAProxy running ``deploy/haproxy.cfg``
   (tests/topology/harness.py renders it for loopback);
3. for ``--duration`` seconds (default 600) per process count, an asyncio generator:
   - citizens (``--users``) who log in with their password, then repeatedly read the FAQ (list
     and an article), ask the chatbot (``POST /api/chatbot/messages``), write a request with a
     PDF attachment (the Celery worker sends its acknowledgement) and look at their space,
     each after a random think time (``--think`` seconds on average);
   - chats: bench/chat_load.py's client, 2 sockets per chat (the citizen's page, the agent's
     panel), ``--chat-rate`` messages/s alternately from the citizen and the agent (agents
     answering); delivery latency, losses and duplicates by client id and sequence number;
   - supervisors on the dashboard (``--supervisors``, one page every 5 s each).

Printed per process count: requests/s, p50/p95/p99 and errors per kind; chat messages/s,
delivery p50/p95/p99, lost and duplicated; CPU per process (each web process, HAProxy, the
Celery worker, this client) as a share of one core; server memory per idle chat socket (RSS of
the web processes, once idle, before and after opening the chat sockets, after a warm-up of
``--warm-chats`` chats on each process, checked by ``X-Guichet-Process``, so that one-off
imports and connection pools are not counted per socket); and the cost
(web CPU ms per request or message). Then the cost curve over the process counts and the ratio
to a bare ``websockets`` relay (bench/common.py's) running the same chat load in the same run.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/guichet \\
    REDIS_URL="redis://127.0.0.1:6379/0?max_connections=2000" \\
        .venv/bin/python bench/peak.py [--duration 600] [--processes 1,2,3] [--users 40] \\
        [--chats 200] [--chat-rate 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import chat_load  # noqa: E402  (the chat client, seed and server environment)
from common import (  # noqa: E402  (what the benchmarks share)
    drop_database,
    free_port,
    migrate,
    percentile,
    quiet_rss_kib,
    recreate_database,
    server_env,
    start_process,
    stop_process,
    tree_cpu_seconds,
)

from tests.topology.harness import (  # noqa: E402
    WS_OPTIONS,
    get,
    haproxy_binary,
    render_haproxy_config,
    wait_until,
)

PASSWORD = "Charge-de-pointe-2026!"
QUESTIONS = [
    "Comment déclarer mon changement d'adresse ?",
    "Je n'ai pas reçu mon avis d'impôt",
    "Comment obtenir une attestation de droits ?",
    "Quand vais-je recevoir mon remboursement ?",
]
# Weights of a citizen's next action (FAQ reading dominates, as in the seeds' figures).
ACTIONS = {"faq": 5, "chatbot": 3, "space": 2, "request": 1}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument("--duration", type=float, default=600.0, help="seconds per process count")
    parser.add_argument("--processes", default="1,2,3", help="web process counts to run")
    parser.add_argument("--users", type=int, default=40, help="citizens browsing at once")
    parser.add_argument("--think", type=float, default=2.0, help="mean think time (s)")
    parser.add_argument("--supervisors", type=int, default=2)
    parser.add_argument("--chats", type=int, default=200, help="active chats (2 sockets each)")
    parser.add_argument("--chat-rate", type=float, default=50.0, help="chat messages/s")
    parser.add_argument(
        "--warm-chats",
        type=int,
        default=10,
        help="chats opened and used on each web process before the memory baseline",
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the database (for --reuse)")
    parser.add_argument(
        "--reuse",
        default="",
        metavar="FILE",
        help="keep the database and write its logins to FILE; a later run with the same FILE "
        "skips the set-up",
    )
    args = parser.parse_args(argv)
    args.layer = "pubsub"  # chat_load.server_env's channel layer: the production default
    return args


# --- set-up --------------------------------------------------------------------------------------


def prepare(args, env: dict) -> tuple[list[dict], list[dict], list[str]]:
    """Migrate, load the demo, seed chats; returns (chats, login citizens, staff sessions)."""
    migrate(env)
    result = subprocess.run(
        [sys.executable, "manage.py", "load_demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        sys.exit(f"load_demo failed:\n{result.stderr[-3000:]}")
    # The measured chats first, then the warm-up's (--warm-chats per process, at most).
    most = max(int(c) for c in args.processes.split(",") if c.strip())
    chats = chat_load.seed(env, args.chats + args.warm_chats * most, 10)
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore

    from contactcenter.models import User

    # Citizens who log in with a password, apart from the chatting ones (whose sessions hold a
    # hash of their password). One hash for all, the production hasher's: each login still
    # checks it at full cost. 200 of them, so that a --reuse run may ask for more --users.
    password = make_password(PASSWORD)
    visitors = User.objects.bulk_create(
        User(
            username=f"visiteur{i}@bench.example.fr",
            email=f"visiteur{i}@bench.example.fr",
            first_name=f"Visiteur{i}",
            last_name="Charge",
            role=User.Role.CITIZEN,
            password=password,
        )
        for i in range(max(200, args.users))
    )
    citizens = [(user.pk, user.email) for user in visitors]
    supervisors = []
    for user in User.objects.filter(role=User.Role.SUPERVISOR).order_by("pk")[:1]:
        for _ in range(args.supervisors):
            session = SessionStore()
            session[SESSION_KEY] = str(user.pk)
            session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.create()
            assert session.session_key is not None  # create() sets it
            supervisors.append(session.session_key)
    if not supervisors:
        sys.exit("the demo has no supervisor")
    return chats, [{"email": email} for _, email in citizens], supervisors


def sample_pdf(env: dict) -> bytes:
    """A valid one-page PDF, the demo's (the upload checks a PDF's structure, not its name)."""
    code = (
        "import sys, django; django.setup(); from messaging.demo import simple_pdf; "
        "sys.stdout.buffer.write(simple_pdf(['Avis d impot 2025', 'Revenu fiscal de reference']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, timeout=300
    )
    if result.returncode != 0 or not result.stdout.startswith(b"%PDF-"):
        sys.exit(f"no sample PDF:\n{result.stderr.decode()[-2000:]}")
    return result.stdout


def start_web(env: dict, count: int, logs: Path) -> tuple[dict[str, subprocess.Popen], str]:
    """``count`` uvicorn processes behind HAProxy; returns them and the balancer's URL."""
    web, ports = {}, {}
    for index in range(1, count + 1):
        name, port = f"web{index}", free_port()
        web[name] = start_process(
            [sys.executable, "-m", "uvicorn", "contactcenter.asgi:application"]
            + ["--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop"]
            + ["--http", "httptools", *WS_OPTIONS, "--log-level", "warning"]
            + ["--no-access-log", "--backlog", "4096"],
            {**env, "GUICHET_PROCESS_NAME": name},
            port,
            logs / f"{name}-of-{count}.log",
        )
        ports[name] = port
    port = free_port()
    config = logs / f"haproxy-{count}.cfg"
    # Production's health-check timing: the tests' 500 ms checks would mark a saturated
    # process down, sending new connections elsewhere while it catches up.
    config.write_text(render_haproxy_config(port, ports, fast_checks=False))
    binary = haproxy_binary()
    if binary is None:
        sys.exit("HAProxy is needed (bin/setup --test installs it)")
    web["haproxy"] = start_process(
        [binary, "-db", "-f", str(config)], env, port, logs / f"haproxy-{count}.log"
    )
    url = f"http://127.0.0.1:{port}"
    seen: set[str] = set()

    def all_up() -> bool:  # each process answers through the balancer (health-checked up)
        status, process = get(f"{url}/health/ready")
        if status == 200:
            seen.add(process)
        return seen >= set(ports)

    try:
        wait_until(all_up, 120, "every web process behind HAProxy")
    except BaseException:
        for process in web.values():
            stop_process(process)
        raise
    return web, url


# --- the HTTP users ------------------------------------------------------------------------------


@dataclass
class Kind:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    samples: list[str] = field(default_factory=list)

    def add(self, seconds: float, ok: bool, what: str = "") -> None:
        self.latencies.append(seconds)
        if not ok:
            self.errors += 1
            if len(self.samples) < 3:
                self.samples.append(what)


class Mix:
    def __init__(self, url: str, deadline: float, think: float, pdf: bytes):
        self.url, self.deadline, self.think, self.pdf = url, deadline, think, pdf
        self.kinds: dict[str, Kind] = defaultdict(Kind)
        self.articles: list[str] = []

    async def timed(self, kind: str, call, ok_statuses=(200,)):
        started = time.perf_counter()
        try:
            response = await call()
        except Exception as error:  # a timeout or a reset is an error of this kind
            self.kinds[kind].add(time.perf_counter() - started, False, repr(error))
            return None
        ok = response.status_code in ok_statuses
        what = f"{response.status_code} {response.request.url}"
        self.kinds[kind].add(time.perf_counter() - started, ok, what)
        return response if ok else None

    async def pause(self) -> bool:
        await asyncio.sleep(random.expovariate(1 / self.think))
        return time.monotonic() < self.deadline

    @staticmethod
    def csrf(client) -> str:
        return client.cookies.get("csrftoken", "")

    @staticmethod
    def client(**options):
        """An HTTP client that sends back the production's ``Secure`` cookies over the plain
        HTTP of loopback (TLS ends before the balancer in production)."""
        import httpx

        client = httpx.AsyncClient(**options)

        async def keep(response) -> None:
            fresh = dict(response.cookies.items())
            for cookie in list(client.cookies.jar):
                if cookie.name in fresh:
                    client.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
            for name, value in fresh.items():
                client.cookies.set(name, value)

        client.event_hooks["response"] = [keep]
        return client

    async def citizen(self, person: dict) -> None:
        async with self.client(base_url=self.url, timeout=30) as client:
            # Arrivals spread over the first third of the run (at most 60 s), not a burst of
            # password checks at once.
            await asyncio.sleep(
                random.uniform(0, min(60.0, (self.deadline - time.monotonic()) / 3))
            )
            await self.timed("login page", lambda: client.get("/connexion/"))
            form = {"username": person["email"], "password": PASSWORD}
            form["csrfmiddlewaretoken"] = self.csrf(client)
            if not await self.timed("login", lambda: client.post("/connexion/", data=form), (302,)):
                return
            kinds, weights = list(ACTIONS), list(ACTIONS.values())
            while await self.pause():
                action = random.choices(kinds, weights)[0]
                await getattr(self, f"do_{action}")(client)

    async def do_faq(self, client) -> None:
        """A search of the FAQ, then one of the articles found (or read before)."""
        query = {"q": random.choice(QUESTIONS)}
        page = await self.timed("faq search", lambda: client.get("/faq/", params=query))
        if page is not None:
            found = re.findall(r'href="(/faq/articles/[^"/]+/)"', page.text)
            self.articles = sorted(set(self.articles) | set(found))
        if self.articles:
            article = random.choice(self.articles)
            await self.timed("faq article", lambda: client.get(article))

    async def do_chatbot(self, client) -> None:
        headers = {"X-CSRFToken": self.csrf(client), "Referer": f"{self.url}/assistant/"}
        question = {"message": random.choice(QUESTIONS)}
        await self.timed(
            "chatbot",
            lambda: client.post("/api/chatbot/messages", json=question, headers=headers),
            (200, 201),
        )

    async def do_space(self, client) -> None:
        await self.timed("space", lambda: client.get("/espace/"))

    async def do_request(self, client) -> None:
        path = "/espace/demandes/nouvelle/?topic=impots&kind=question"
        if await self.timed("request form", lambda: client.get(path)) is None:
            return
        data = {
            "csrfmiddlewaretoken": self.csrf(client),
            "topic": "impots",
            "kind": "question",
            "subject": "Avis d'imposition",
            "body": f"Bonjour, je joins mon avis, merci de le vérifier. ({uuid.uuid4().hex[:8]})",
        }
        files = {"files": ("avis.pdf", self.pdf, "application/pdf")}
        await self.timed(
            "request + file",
            lambda: client.post("/espace/demandes/nouvelle/", data=data, files=files),
            (302,),
        )

    async def supervisor(self, session_key: str) -> None:
        cookies = {"sessionid": session_key}
        async with self.client(base_url=self.url, timeout=30, cookies=cookies) as client:
            while time.monotonic() < self.deadline:
                await self.timed("dashboard", lambda: client.get("/supervision/tableau-de-bord/"))
                await asyncio.sleep(5)


# --- one process count ---------------------------------------------------------------------------


class ConnectionSampler:
    """The database's connections in pg_stat_activity (all clients: web, Celery), every 0.5 s in
    a thread of its own; ``peak`` is the most seen."""

    def __init__(self, database_url: str) -> None:
        parsed = urlparse(database_url)
        self.admin = parsed._replace(path="/postgres").geturl()
        self.name = parsed.path.lstrip("/")
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            while not self.stop.wait(0.5):
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [self.name]
                ).fetchone()
                self.peak = max(self.peak, row[0] if row else 0)

    def __enter__(self) -> ConnectionSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def too_many_clients(logs: Path, count: int) -> int:
    """PostgreSQL's refusals ("too many clients") in the logs of this process count's run."""
    files = [logs / f"web{i}-of-{count}.log" for i in range(1, count + 1)] + [logs / "celery.log"]
    texts = [path.read_text(errors="replace") for path in files if path.exists()]
    return sum(text.count("too many clients") for text in texts)


async def warm_up(args, ws_url: str, url: str, chats, names: list[str], run: str):
    """Open and use ``--warm-chats`` chats per web process, all at once, before the memory
    baseline: each process then has imported the consumers, filled its database pool and
    thread pool and opened its Redis connections, one-off costs not to count per socket. The
    balancer spreads the sockets (leastconn); ``X-Guichet-Process`` says where each landed, and
    every process must have held its share (at least half of it)."""
    warm = chat_load.Load(ws_url, url, chats[args.chats :][: args.warm_chats * len(names)], False)
    warm.prefix = f"w{run}-"
    await warm.open_all()
    await warm.run_step(2 * len(warm.conversations), 2.0)
    held = dict.fromkeys(names, 0)
    for process in warm.process.values():
        held[process] = held.get(process, 0) + 1
    print(f"warm-up sockets per process: {held}", flush=True)
    short = [name for name in names if held[name] < args.warm_chats]  # 2 sockets per chat
    if short:
        raise RuntimeError(f"warm-up missed process(es) {short}: {held}")
    return warm


async def run_mix(args, url: str, web: dict, worker_pid: int, chats, citizens, supervisors):
    """Warm up, open the chat sockets (memory per socket), run the mix for --duration."""
    pids = {name: process.pid for name, process in web.items()}
    web_pids = [pid for name, pid in pids.items() if name.startswith("web")]
    ws_url = url.replace("http://", "ws://")
    # Client ids unique to this run and process count: the same id in a conversation would be
    # (rightly) taken by the server as a resend of an earlier message and stored once.
    run = f"{os.getpid()}x{len(web_pids)}"
    warm = await warm_up(args, ws_url, url, chats, [n for n in pids if n.startswith("web")], run)
    rss_before = await quiet_rss_kib(web_pids)
    load = chat_load.Load(ws_url, url, chats[: args.chats], False, web_pids[0])
    load.prefix = f"b{run}-"
    await load.open_all()
    rss_after = await quiet_rss_kib(web_pids)
    per_socket = (rss_after - rss_before) / max(len(load.sockets), 1)

    watched = {**pids, "celery": worker_pid, "client": os.getpid()}
    cpu_before = {name: tree_cpu_seconds(pid) for name, pid in watched.items()}
    started = time.monotonic()
    mix = Mix(url, started + args.duration, args.think, args.pdf)
    tasks = [asyncio.create_task(mix.citizen(person)) for person in citizens[: args.users]]
    tasks += [asyncio.create_task(mix.supervisor(key)) for key in supervisors]
    step = await load.run_step(args.chat_rate, args.duration)
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - started
    cpu = {name: (tree_cpu_seconds(pid) - cpu_before[name]) for name, pid in watched.items()}
    await load.settle([step])
    await load.close()
    await warm.close()
    return {
        "mix": mix,
        "chat": step,
        "elapsed": elapsed,
        "cpu": cpu,
        "per_socket_kib": per_socket,
        "sockets": len(load.sockets),
        "rss_mib": rss_after / 1024,
    }


def report(count: int, result: dict) -> dict:
    mix, chat, elapsed = result["mix"], result["chat"], result["elapsed"]
    print(f"\n== {count} web process(es) behind HAProxy, {elapsed:.0f} s ==")
    print("kind               req/s    p50    p95    p99   errors  (ms)")
    requests = errors = 0
    page_p95 = []
    for name, kind in sorted(mix.kinds.items()):
        lat = [v * 1000 for v in kind.latencies]
        requests += len(lat)
        errors += kind.errors
        page_p95.append(percentile(lat, 95))
        print(
            f"{name:16s} {len(lat) / elapsed:7.2f} {percentile(lat, 50):6.0f} "
            f"{percentile(lat, 95):6.0f} {percentile(lat, 99):6.0f} {kind.errors:8d}"
            + (f"  e.g. {kind.samples[0]}" if kind.samples else "")
        )
    print(
        f"chat messages    {chat.delivered_rate:7.2f} {chat.latency(0.5):6.0f} "
        f"{chat.latency(0.95):6.0f} {chat.p99:6.0f} {chat.errors:8d}  "
        f"lost {chat.lost}, duplicated {chat.duplicates}, late {chat.late} "
        f"({result['sockets']} chat sockets)"
    )
    web_cpu = sum(v for k, v in result["cpu"].items() if k.startswith("web"))
    shares = ", ".join(f"{k} {v / elapsed * 100:.0f} %" for k, v in result["cpu"].items())
    print(f"CPU (share of one core): {shares}")
    work = requests + chat.sent
    cost = web_cpu / work * 1000 if work else float("nan")
    print(
        f"memory per idle chat socket: {result['per_socket_kib']:.1f} KiB "
        f"(web RSS {result['rss_mib']:.0f} MiB); web CPU {cost:.2f} ms per request or message; "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    return {
        "count": count,
        "rps": requests / elapsed,
        "errors": errors,
        "page_p95": max(page_p95) if page_p95 else float("nan"),
        "chat_rate": chat.delivered_rate,
        "chat_p99": chat.p99,
        "lost": chat.lost,
        "dups": chat.duplicates,
        "web_cpu_share": web_cpu / elapsed,
        "cost_ms": cost,
    }


async def relay_ratio(args, chats, relay_port: int, relay_pid: int) -> chat_load.Step:
    base = f"ws://127.0.0.1:{relay_port}"
    load = chat_load.Load(base, f"http://127.0.0.1:{relay_port}", chats, True, relay_pid)
    await load.open_all()
    step = await load.run_step(args.chat_rate, min(args.duration, 60.0))
    await load.settle([step])
    await load.close()
    return step


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("This benchmark needs PostgreSQL: set DATABASE_URL or --database-url.")
    if not args.redis_url.startswith("redis://"):
        sys.exit("This benchmark needs Redis: set REDIS_URL or --redis-url.")
    parsed = urlparse(args.database_url)
    database_url = parsed._replace(path=f"/{parsed.path.lstrip('/') or 'guichet'}_peak_bench")
    database_url = database_url.geturl()
    prefix = f"bench-peak-{os.getpid()}"
    env = server_env(args, database_url, prefix)
    # A real worker sends the acknowledgements; no quiet hours (SMS held until 8:00).
    env.update(CELERY_TASK_ALWAYS_EAGER="0", GUICHET_SMS_QUIET_START="0", GUICHET_SMS_QUIET_END="0")
    env.update(PROCESS_HEADER="1", AXES_FAILURE_LIMIT="1000", GUICHET_CHATBOT_THROTTLE="600/min")
    env["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    # Kombu refuses redis-py's pool options (``?max_connections=``) in the broker URL.
    env["CELERY_BROKER_URL"] = args.redis_url.split("?", 1)[0]
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"guichet-peak-{os.getpid()}"
    logs.mkdir(parents=True, exist_ok=True)
    counts = [int(c) for c in args.processes.split(",") if c.strip()]
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; logs {logs}\n"
        f"mix: {args.users} citizens (think {args.think} s), {args.supervisors} supervisors, "
        f"{args.chats} chats at {args.chat_rate:.0f} msg/s, {args.duration:.0f} s per "
        f"process count {counts}",
        flush=True,
    )
    reuse = Path(args.reuse) if args.reuse else None
    if reuse and reuse.exists():
        env["SECRET_KEY"] = json.loads(reuse.read_text())["secret_key"]
    else:
        recreate_database(database_url)
    processes: list[subprocess.Popen] = []
    rows = []
    try:
        if reuse and reuse.exists():
            saved = json.loads(reuse.read_text())
            chats, citizens, supervisors = saved["chats"], saved["citizens"], saved["supervisors"]
        else:
            chats, citizens, supervisors = prepare(args, env)
        if reuse and not reuse.exists():
            saved = {"chats": chats, "citizens": citizens, "supervisors": supervisors}
            reuse.write_text(json.dumps({**saved, "secret_key": env["SECRET_KEY"]}))
        args.pdf = sample_pdf(env)
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "contactcenter", "worker"]
            + ["--concurrency", "1", "--loglevel", "warning", "--hostname", f"peak{os.getpid()}@%h"]
            + ["--without-gossip", "--without-mingle"],
            cwd=ROOT,
            env=env,
            stdout=(logs / "celery.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append(worker)
        with contextlib.suppress(ImportError):
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        refused_before = 0  # the Celery worker's log covers every process count
        for count in counts:
            web, url = start_web(env, count, logs)
            try:
                with ConnectionSampler(database_url) as connections:
                    result = asyncio.run(
                        run_mix(args, url, web, worker.pid, chats, citizens, supervisors)
                    )
            finally:
                for process in web.values():
                    stop_process(process)
            rows.append(report(count, result))
            refused = too_many_clients(logs, count) - refused_before
            refused_before += refused
            print(
                f"PostgreSQL connections to the database: at most {connections.peak} (sampled "
                f"every 0.5 s); refused as too many clients: {refused}",
                flush=True,
            )
        relay_port = free_port()
        relay = start_process(
            [
                sys.executable,
                str(ROOT / "bench" / "chat_load.py"),
                "--serve-relay",
                str(relay_port),
            ],
            env,
            relay_port,
            logs / "relay.log",
        )
        processes.append(relay)
        cpu_start = tree_cpu_seconds(relay.pid)
        bare = asyncio.run(relay_ratio(args, chats[: args.chats], relay_port, relay.pid))
        bare_cpu_ms = (tree_cpu_seconds(relay.pid) - cpu_start) / max(bare.sent, 1) * 1000
        summary(rows, bare, bare_cpu_ms)
    finally:
        for process in processes:
            stop_process(process)
        if not (args.keep_db or args.reuse):
            drop_database(database_url)
        with contextlib.suppress(Exception):
            import redis

            client = redis.from_url(args.redis_url)
            for key in client.scan_iter(f"{prefix}*"):
                client.delete(key)
    return 0


def summary(rows: list[dict], bare: chat_load.Step, bare_cpu_ms: float) -> None:
    print("\n== cost curve (same mix) ==")
    print("web processes  req/s  errors  worst page p95  chat msg/s  chat p99  lost  dups  web CPU")
    for row in rows:
        print(
            f"{row['count']:13d} {row['rps']:6.1f} {row['errors']:7d} {row['page_p95']:12.0f} ms"
            f" {row['chat_rate']:10.1f} {row['chat_p99']:7.0f} ms {row['lost']:5d} "
            f"{row['dups']:5d} {row['web_cpu_share'] * 100:5.0f} % ({row['cost_ms']:.2f} ms/op)"
        )
    print(
        f"bare websockets relay, same chats and rate: {bare.delivered_rate:.1f} msg/s, "
        f"p99 {bare.p99:.1f} ms, CPU {bare_cpu_ms:.3f} ms per message, lost {bare.lost}"
    )
    for row in rows:
        ratio = row["chat_p99"] / bare.p99 if bare.p99 > 0 else float("nan")
        print(f"  {row['count']} process(es): chat p99 x{ratio:.1f} the bare relay's")


if __name__ == "__main__":
    sys.exit(main())
