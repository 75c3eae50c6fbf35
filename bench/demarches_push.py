"""Benchmark of the démarches API: status pushes from concurrent business systems.

Starts uvicorn (``--workers``) on a throw-away PostgreSQL database (created on the server of
DATABASE_URL, dropped afterwards), creates one démarche type, citizens, and one API client per
pushing system (scope ``demarches:write``), then ``--clients`` processes each get a token and
send their share of ``--pushes`` through the real API: ``POST /api/demarches/{type}/{ref}/step/``
with a fresh ``Idempotency-Key``, each moving one of its démarches to its next step (so every
push changes something and writes one history row and one notification to the outbox).

Measured in the same run, same clients and connections:
- baseline: ``GET /api/demarches/{type}/{ref}/`` (token check, throttle, one read): what the
  API stack costs without a write;
- pushes: pushes/s and latency p50/p95/p99/max;
- replays: a sample of pushes sent again with the same key must be replayed
  (``Idempotent-Replayed: true``) and write nothing;
- duplicates: history rows written beyond one per accepted push (must be 0);
- webhooks: each client subscribes one endpoint to ``demarche.step_changed``, on a receiver
  process on loopback that checks every signature (``tests/api/webhook_receiver.py``). With
  ``--redis-url`` a real Celery worker (``--celery-concurrency``) delivers them, and the run
  waits until every delivery is done: webhooks delivered/s (first push to last delivery),
  signatures refused and webhooks received twice (must be 0). Without Redis, deliveries run
  eagerly inside each push (their cost is then in the push latency).

``--batch N`` sends the pushes N at a time through ``POST /api/demarches/batch/`` (one step
operation per push, each with its own idempotency key; a replay re-sends the whole batch and
every operation must come back replayed): the latency is printed per request and per push (a
push's latency is its request's), the CPU per push. Run it right after a run without
``--batch`` to compare the two on the same machine.

``--inflight N`` gives each client N threads (N requests in flight), ``--db-pool N`` the
server's PostgreSQL pool per worker (``DB_POOL_MAX_SIZE``, default 10; 0: none), and
``--deliver-after`` starts the Celery worker only once the pushes are done (pushes/s without
deliveries competing for the CPUs, then deliveries/s alone and the worker's CPU per webhook).
The uvicorn workers' CPU time per read and per push is read from ``/proc``: it does not depend
on what else the machine runs.

The machine's load average (and CPU count) is printed before and after each phase: figures
of a shared machine compare only through their ratio to the in-run baseline.

Target (issue 24): >= 500 pushes/s with p95 < 50 ms on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/guichet REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python bench/demarches_push.py --pushes 100000 --clients 4
    # a quick check that it runs:
    .venv/bin/python bench/demarches_push.py --pushes 400 --demarches 20
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import free_port, percentile  # noqa: E402  (what the benchmarks share)

TYPE = "bench-passeport"
STEPS = ["depot", "piece-manquante", "instruction", "production", "disponible"]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument("--pushes", type=int, default=100_000, help="status pushes in all")
    parser.add_argument("--clients", type=int, default=4, help="concurrent business systems")
    parser.add_argument("--demarches", type=int, default=1000, help="démarches per client")
    parser.add_argument("--baseline", type=int, default=0, help="baseline reads (pushes/10)")
    parser.add_argument(
        "--replays", type=float, default=0.01, help="share of requests sent again (a batch whole)"
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    parser.add_argument(
        "--inflight", type=int, default=1, help="requests in flight per client (threads)"
    )
    parser.add_argument(
        "--db-pool",
        type=int,
        default=10,
        help="server's DB_POOL_MAX_SIZE per worker (0: no pool, DB_POOL=0)",
    )
    parser.add_argument(
        "--deliver-after",
        action="store_true",
        help="start the Celery worker once the pushes are done (no delivery competing for CPU)",
    )
    parser.add_argument(
        "--celery-concurrency", type=int, default=2, help="Celery worker processes (with Redis)"
    )
    parser.add_argument(
        "--webhook-wait", type=float, default=600, help="seconds to wait for the deliveries"
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=0,
        help="pushes per request through POST /api/demarches/batch/ (0: one push a request)",
    )
    parser.add_argument("--setup", help=argparse.SUPPRESS)  # internal: create the data set
    return parser.parse_args(argv)


# --- Data set (run inside Django, in a subprocess with the server's environment) -------------


def setup_data(clients: int, demarches: int, receiver_url: str, secret: str) -> list[dict]:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from accounts import webhooks
    from accounts.api_clients import create_api_client
    from accounts.models import ApiClient, WebhookEndpoint
    from contactcenter.models import Service, User
    from demarches.models import DemarcheType, DemarcheTypeStep
    from demarches.services import create_demarche

    service = Service.objects.create(code="bench", name="Service de test")
    demarche_type = DemarcheType.objects.create(service=service, code=TYPE, name="Passeport")
    for position, code in enumerate(STEPS):
        DemarcheTypeStep.objects.create(
            type=demarche_type, position=position, code=code, label=code.title()
        )
    citizens = User.objects.bulk_create(
        User(
            username=f"bench-{i}",
            email=f"bench-{i}@example.fr",
            role=User.Role.CITIZEN,
            tax_number=f"{i:013d}",
            notify_email=True,
        )
        for i in range(max(10, demarches))
    )
    out = []
    for index in range(clients):
        scopes = [ApiClient.Scope.DEMARCHES_WRITE, ApiClient.Scope.WEBHOOKS]
        credentials = create_api_client(f"SI {index}", [service], scopes)
        endpoint, _secret = webhooks.create_endpoint(
            credentials.client, receiver_url, [WebhookEndpoint.EventType.DEMARCHE_STEP_CHANGED]
        )
        # The receiver was started with the secret: every endpoint signs with it.
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=secret)
        references = []
        for number in range(demarches):
            reference = f"C{index}-{number:06d}"
            create_demarche(credentials.client, citizens[number % len(citizens)], TYPE, reference)
            references.append(reference)
        out.append(
            {
                "client_id": credentials.client_id,
                "secret": credentials.client_secret,
                "references": references,
            }
        )
    return out


def count_rows() -> dict:
    import django

    django.setup()
    from django.db.models import Count, Max, Min, Q

    from accounts.models import WebhookDelivery
    from demarches.models import DemarcheStep
    from messaging.models import Notification

    Status = WebhookDelivery.Status
    hooks = WebhookDelivery.objects.aggregate(
        total=Count("id"),
        delivered=Count("id", filter=Q(status=Status.DELIVERED)),
        failed=Count("id", filter=Q(status=Status.FAILED)),
        first=Min("created_at"),
        last=Max("delivered_at"),
    )
    span = (hooks["last"] - hooks["first"]).total_seconds() if hooks["last"] else 0.0
    return {
        "steps": DemarcheStep.objects.filter(kind=DemarcheStep.Kind.STEP).count(),
        "notifications": Notification.objects.filter(kind="demarche_step").count(),
        "webhooks": hooks["total"],
        "delivered": hooks["delivered"],
        "failed": hooks["failed"],
        "webhook_span": span,
        "last_delivery": hooks["last"].timestamp() if hooks["last"] else 0.0,
    }


# --- Clients --------------------------------------------------------------------------------


def _token(conn: http.client.HTTPConnection, client: dict) -> str:
    basic = base64.b64encode(f"{client['client_id']}:{client['secret']}".encode()).decode()
    conn.request(
        "POST",
        "/api/oauth/token/",
        body=urlencode({"grant_type": "client_credentials"}),
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"token: {response.status} {body[:300]!r}")
    return json.loads(body)["access_token"]


def run_client(
    port: int,
    client: dict,
    reads: int,
    pushes: int,
    replays: float,
    inflight: int,
    batch: int,
    queue,
) -> None:
    """One business system: ``inflight`` threads, each with its own connection and its own
    share of the démarches (so each démarche's steps still follow one another)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    token = _token(conn, client)
    conn.close()
    shares = [client["references"][i::inflight] for i in range(inflight)]
    results: list[dict] = []
    threads = [
        threading.Thread(
            target=lambda refs=refs, n=n: results.append(
                _send(port, token, refs, reads // inflight, n, replays, batch)
            )
        )
        for refs, n in zip(shares, [pushes // inflight] * inflight, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(
        {
            "read_ms": [v for r in results for v in r["read_ms"]],
            "push_ms": [v for r in results for v in r["push_ms"]],
            "request_ms": [v for r in results for v in r["request_ms"]],
            "accepted": sum(r["accepted"] for r in results),
            "replayed": sum(r["replayed"] for r in results),
            "replay_errors": sum(r["replay_errors"] for r in results),
            "errors": {
                k: sum(r["errors"].get(k, 0) for r in results) for r in results for k in r["errors"]
            },
            "elapsed": max(r["elapsed"] for r in results),
            "read_elapsed": max(r["read_elapsed"] for r in results),
        }
    )


def _send(
    port: int, token: str, references: list, reads: int, pushes: int, replays: float, batch: int
):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    auth = {"Authorization": f"Bearer {token}"}
    read_ms: list[float] = []
    errors: dict[str, int] = {}
    read_started = time.perf_counter()
    for i in range(reads):
        started = time.perf_counter()
        conn.request(
            "GET", f"/api/demarches/{TYPE}/{references[i % len(references)]}/", headers=auth
        )
        response = conn.getresponse()
        response.read()
        read_ms.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            errors[f"GET {response.status}"] = errors.get(f"GET {response.status}", 0) + 1
    read_elapsed = time.perf_counter() - read_started
    position = dict.fromkeys(references, 0)
    counts = {"accepted": 0, "replayed": 0, "replay_errors": 0}
    request_ms: list[float] = []  # one per request
    push_ms: list[float] = []  # one per push: its request's latency
    every = int(1 / replays) if replays > 0 else 0
    size = max(batch, 1)
    started_all = time.perf_counter()
    for number, first in enumerate(range(0, pushes, size)):
        moves = []
        for i in range(first, min(first + size, pushes)):
            reference = references[i % len(references)]
            position[reference] = (position[reference] + 1) % len(STEPS)
            moves.append((reference, STEPS[position[reference]], uuid.uuid4().hex))
        send = _post_batch if batch else _post_one
        started = time.perf_counter()
        ok = send(conn, auth, moves, replay=False)
        elapsed_ms = (time.perf_counter() - started) * 1000
        request_ms.append(elapsed_ms)
        push_ms += [elapsed_ms] * len(moves)
        counts["accepted"] += ok
        if ok != len(moves):
            label = "POST batch items" if batch else "POST"
            errors[label] = errors.get(label, 0) + len(moves) - ok
        if every and number % every == 0:  # a share of the requests, sent again
            again = send(conn, auth, moves, replay=True)
            counts["replayed"] += again
            counts["replay_errors"] += len(moves) - again
    elapsed = time.perf_counter() - started_all
    conn.close()
    return {
        "read_ms": read_ms,
        "push_ms": push_ms,
        "request_ms": request_ms,
        **counts,
        "errors": errors,
        "elapsed": elapsed,
        "read_elapsed": read_elapsed,
    }


def _post_one(conn, auth: dict, moves: list, replay: bool) -> int:
    """One push a request: 1 when accepted (or, for a replay, replayed)."""
    ((reference, step, key),) = moves
    headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": key}
    body = json.dumps({"step": step})
    conn.request("POST", f"/api/demarches/{TYPE}/{reference}/step/", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    if replay:
        return int(response.status == 200 and response.getheader("Idempotent-Replayed") == "true")
    return int(response.status == 200)


def _post_batch(conn, auth: dict, moves: list, replay: bool) -> int:
    """The pushes in one batch request: how many were accepted (or, for a replay, replayed)."""
    operations = [
        {"op": "step", "idempotency_key": key, "type": TYPE, "reference": reference, "step": step}
        for reference, step, key in moves
    ]
    body = json.dumps({"operations": operations})
    headers = {**auth, "Content-Type": "application/json"}
    conn.request("POST", "/api/demarches/batch/", body=body, headers=headers)
    response = conn.getresponse()
    answer = response.read()
    if response.status != 200:
        return 0
    results = json.loads(answer)["results"]
    return sum(r["status"] == 200 and r["replayed"] == replay for r in results)


def pool_env(size: int) -> dict[str, str]:
    """The server's connection pool (contactcenter/db_pool.py): ``size`` connections per
    worker, or none (``DB_POOL=0``)."""
    return {"DB_POOL_MAX_SIZE": str(size)} if size > 0 else {"DB_POOL": "0"}


def describe(label: str, values: list[float], seconds: float) -> str:
    rate = len(values) / seconds if seconds else 0.0
    return (
        f"{label:<10} n={len(values):<7} {rate:8.1f} req/s  p50={percentile(values, 50):6.1f} ms"
        f"  p95={percentile(values, 95):6.1f} ms  p99={percentile(values, 99):6.1f} ms"
        f"  max={max(values or [0]):7.1f} ms"
    )


def measure(
    port: int,
    clients: list[dict],
    reads: int,
    pushes: int,
    replays: float,
    inflight: int,
    batch: int = 0,
) -> list:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    share = pushes // len(clients)
    processes = [
        multiprocessing.Process(
            target=run_client,
            args=(port, client, reads // len(clients), share, replays, inflight, batch, queue),
        )
        for client in clients
    ]
    for process in processes:
        process.start()
    results = [queue.get(timeout=3600) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    return results


# --- Webhooks -------------------------------------------------------------------------------

RECEIVER = ROOT / "tests" / "api" / "webhook_receiver.py"


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its descendants still running (Linux /proc):
    what the server's workers spent, whatever else runs on the machine."""
    total, todo = 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


def load() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load {one:.1f} / {five:.1f} on {os.cpu_count()} CPUs"


def start_worker(env: dict, log_path: Path, concurrency: int) -> subprocess.Popen:
    """A real Celery worker on the run's Redis database: it delivers the webhooks."""
    log = log_path.open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "contactcenter", "worker",
         f"--concurrency={concurrency}", "--loglevel=WARNING", "--without-gossip",
         "--without-mingle", "--without-heartbeat", "-n", f"bench-push-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    time.sleep(3)
    if worker.poll() is not None:
        raise SystemExit("Celery worker: " + log_path.read_text()[-3000:])
    return worker


def wait_for_webhooks(env: dict, timeout: float) -> dict:
    """The rows once every delivery is done (delivered or failed), or at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        counted = subprocess.run(
            [sys.executable, __file__, "--setup", "0,0"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        if counted.returncode:
            # A shared PostgreSQL may refuse a connection for a while ("too many clients").
            if time.monotonic() > deadline:
                raise SystemExit(counted.stderr[-3000:])
            time.sleep(2)
            continue
        rows = json.loads(counted.stdout.strip().splitlines()[-1])
        if rows["delivered"] + rows["failed"] >= rows["webhooks"] or time.monotonic() > deadline:
            return rows
        time.sleep(2)


# --- Main -----------------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    if args.setup:
        clients, demarches = (int(x) for x in args.setup.split(","))
        if clients == 0:
            print(json.dumps(count_rows()))
        else:
            hook = os.environ["BENCH_RECEIVER_URL"], os.environ["BENCH_WEBHOOK_SECRET"]
            print(json.dumps(setup_data(clients, demarches, *hook)))
        return 0
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("This benchmark needs PostgreSQL: set DATABASE_URL or --database-url.")
    import psycopg

    parsed = urlparse(args.database_url)
    name = f"{parsed.path.lstrip('/') or 'guichet'}_bench_push_{os.getpid()}"
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}"')
        db.execute(f'CREATE DATABASE "{name}"')
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="bench-demarches-"))
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    received_log = tmp / "received.jsonl"
    received_log.touch()
    receiver = subprocess.Popen(
        [sys.executable, str(RECEIVER), secret, str(received_log), "200"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert receiver.stdout is not None
    receiver_url = f"http://127.0.0.1:{int(receiver.stdout.readline())}/hooks/guichet"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "contactcenter.settings",
        "DATABASE_URL": parsed._replace(path=f"/{name}").geturl(),
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "MEDIA_ROOT": str(tmp / "private"),
        "CELERY_TASK_ALWAYS_EAGER": "0" if args.redis_url else "1",
        "BENCH_RECEIVER_URL": receiver_url,
        "BENCH_WEBHOOK_SECRET": secret,
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "GUICHET_API_CLIENT_THROTTLE": "100000000/min",
        "CACHE_PREFIX": f"bench-demarches-{os.getpid()}",
        "LOG_LEVEL": "WARNING",
    }
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    env.pop("TEST_DB_NAME", None)
    server: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    try:
        print(f"- database {name}: migrate, {args.clients} clients x {args.demarches} démarches")
        setup = subprocess.run(
            [sys.executable, __file__, "--setup", f"{args.clients},{args.demarches}"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600,
        )  # fmt: skip
        if setup.returncode:
            raise SystemExit(setup.stderr[-3000:])
        clients = json.loads(setup.stdout.strip().splitlines()[-1])
        log = (tmp / "server.log").open("w")
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "contactcenter.asgi:application",
             "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
             "--log-level", "warning"],
            cwd=ROOT, env={**env, **pool_env(args.db_pool)},
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit((tmp / "server.log").read_text()[-3000:])
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        if args.redis_url:
            import redis

            redis.Redis.from_url(args.redis_url).flushdb()  # no task left by an earlier run
            if not args.deliver_after:
                worker = start_worker(env, tmp / "worker.log", args.celery_concurrency)
        reads = args.baseline or max(args.clients * 50, args.pushes // 10)
        print(
            f"- uvicorn {args.workers} workers on :{port} (DB pool {args.db_pool or 'off'}); "
            f"{args.inflight} in flight per client; baseline {reads} reads; {load()}"
        )
        cpu_start = cpu_seconds(server.pid)
        base = measure(port, clients, reads, 0, 0, args.inflight)
        cpu_reads = cpu_seconds(server.pid) - cpu_start
        print(
            f"- {args.pushes} pushes from {args.clients} clients (replays {args.replays:.0%}), "
            + (f"batches of {args.batch}" if args.batch else "one push a request")
        )
        print(f"  before: {load()}")
        cpu_start = cpu_seconds(server.pid)
        pushed = measure(port, clients, 0, args.pushes, args.replays, args.inflight, args.batch)
        cpu_pushes = cpu_seconds(server.pid) - cpu_start
        print(f"  after:  {load()}")
        delivery_start = 0.0
        if args.redis_url and args.deliver_after:
            print("- Celery worker started after the pushes: deliveries alone")
            delivery_start = time.time()
            worker = start_worker(env, tmp / "worker.log", args.celery_concurrency)
        print(
            describe(
                "baseline",
                [v for r in base for v in r["read_ms"]],
                max(r["read_elapsed"] for r in base),
            )
        )
        push_seconds = max(r["elapsed"] for r in pushed)
        if args.batch:
            request_ms = [v for r in pushed for v in r["request_ms"]]
            print(describe("requests", request_ms, push_seconds) + f"  ({args.batch} pushes each)")
        print(describe("pushes", [v for r in pushed for v in r["push_ms"]], push_seconds))
        # Every push sent, its replays included (each costs the server a check of its key).
        sent = sum(len(r["push_ms"]) + r["replayed"] + r["replay_errors"] for r in pushed)
        print(
            f"server CPU (uvicorn workers): {cpu_reads / max(reads, 1) * 1000:.1f} ms per read, "
            f"{cpu_pushes / max(sent, 1) * 1000:.2f} ms per push"
        )
        rows = wait_for_webhooks(env, args.webhook_wait)
        # Started after the pushes: all its CPU went to the deliveries (and its start).
        worker_cpu = cpu_seconds(worker.pid) if worker is not None else 0.0
    finally:
        for process in (server, worker, receiver):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    read_ms = [v for r in base for v in r["read_ms"]]
    push_ms = [v for r in pushed for v in r["push_ms"]]
    read_s = max(r["read_elapsed"] for r in base)
    push_s = max(r["elapsed"] for r in pushed)
    accepted = sum(r["accepted"] for r in pushed)
    errors: dict[str, int] = {}
    for r in [*base, *pushed]:
        for key, count in r["errors"].items():
            errors[key] = errors.get(key, 0) + count
    duplicates = rows["steps"] - accepted
    print(
        f"accepted {accepted}/{len(push_ms)}, errors {errors or 0}, "
        f"replayed {sum(r['replayed'] for r in pushed)} "
        f"(wrong: {sum(r['replay_errors'] for r in pushed)}), "
        f"history rows {rows['steps']}, duplicates {duplicates}, "
        f"notifications queued {rows['notifications']}"
    )
    received = [json.loads(line) for line in received_log.read_text().splitlines()]
    ids = [entry["id"] for entry in received]
    if delivery_start:  # from the worker's start to the last delivery
        rows["webhook_span"] = max(rows["last_delivery"] - delivery_start, 0.0)
    hook_rate = rows["delivered"] / rows["webhook_span"] if rows["webhook_span"] else 0.0
    print(
        f"webhooks   {rows['delivered']}/{rows['webhooks']} delivered "
        f"({'Celery worker' if args.redis_url else 'eager, inside the pushes'}"
        f"{', after the pushes' if delivery_start else ''}) "
        f"{hook_rate:8.1f} /s over {rows['webhook_span']:.1f} s, failed {rows['failed']}, "
        f"received {len(received)}, bad signatures {sum(not e['valid'] for e in received)}, "
        f"received twice {len(ids) - len(set(ids))}"
    )
    if args.deliver_after and rows["delivered"]:
        print(f"Celery worker CPU: {worker_cpu / rows['delivered'] * 1000:.1f} ms per webhook")
    rate = len(push_ms) / push_s if push_s else 0
    p95 = percentile(push_ms, 95)
    read_rate = len(read_ms) / read_s if read_s else 0
    print(
        f"ratios to the baseline reads: pushes/s {rate / read_rate if read_rate else 0:.2f}, "
        f"push p95 {p95 / percentile(read_ms, 95) if read_ms else 0:.2f}x, "
        f"webhooks/s {hook_rate / read_rate if read_rate else 0:.2f}"
    )
    print(
        f"target >= 500 pushes/s and p95 < 50 ms "
        f"({f'batches of {args.batch}' if args.batch else 'one push a request'}): "
        f"{rate:.0f}/s, p95 {p95:.1f} ms -> "
        f"{'met' if rate >= 500 and p95 < 50 else 'missed'}"
    )
    met = rate >= 500 and p95 < 50
    hooks_bad = rows["delivered"] != rows["webhooks"] or len(ids) != len(set(ids))
    return 1 if duplicates or errors or hooks_bad or not met else 0


if __name__ == "__main__":
    sys.exit(main())
