#!/usr/bin/env python
"""Measure one co-browsing session on a typical personal-space page, end to end.

A real Chromium plays the citizen (the real page, the real rrweb recorder); a Python websocket
client plays the agent's console, so that every byte leaving the citizen's page for the agent is
counted exactly. The session is set up the way users do it: the citizen asks for a code in the
« Aide à distance » modal, the agent enters it, the citizen clicks « Accepter ».

Figures printed:
- full snapshot size (the first page description the agent receives);
- bytes per second citizen -> agent at rest, and while the citizen scrolls;
- pointer latency agent -> citizen (agent socket -> server -> channel layer -> citizen socket ->
  the page drawing the pointer), p50/p95/p99/max over N samples, loopback.
Targets (issue): pointer p99 < 100 ms, idle stream < 2 KB/s.

By default the benchmark starts its own server (uvicorn) on a throw-away database loaded with
the demo: a temporary SQLite file, or, when DATABASE_URL points at PostgreSQL, a temporary
database created on that server and dropped afterwards. REDIS_URL, if set, gives the server the
Redis channel layer and cache. Nothing else is touched.

    .venv/bin/python bench/cobrowse_session.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/guichet REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/cobrowse_session.py --samples 500
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import common  # noqa: E402  (what the benchmarks share)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "Guichet-Demo-2026!"
CITIZEN = "camille.martin@example.fr"
AGENT = "alice.durand@guichet.example.fr"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark one co-browsing session (bytes citizen->agent, pointer latency).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--page", default="/espace/", help="citizen page to share (/espace/)")
    parser.add_argument("--idle-seconds", type=float, default=20.0, help="rest period (20)")
    parser.add_argument("--scroll-seconds", type=float, default=10.0, help="scrolling (10)")
    parser.add_argument("--samples", type=int, default=300, help="pointer messages (300)")
    parser.add_argument(
        "--pointer-rate", type=float, default=25.0, help="pointer messages per second (25)"
    )
    parser.add_argument(
        "--settings",
        default="contactcenter.settings",
        help="Django settings module of the server started here (contactcenter.settings)",
    )
    parser.add_argument(
        "--base-url",
        help="use this running server (with the demo loaded) instead of starting one",
    )
    return parser.parse_args()


# --- A throw-away server ----------------------------------------------------------------------
class Server:
    def __init__(self, settings_module: str = "contactcenter.settings"):
        self.tmp = Path(tempfile.mkdtemp(prefix="guichet-bench-cobrowse-"))
        self.database_url, self.pg_name = self._database()
        self.port = common.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DATABASE_URL": self.database_url,
            "DEBUG": "0",
            "SECRET_KEY": "bench-" + uuid.uuid4().hex,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SITE_URL": self.url,
            "MEDIA_ROOT": str(self.tmp / "private"),
            "CELERY_TASK_ALWAYS_EAGER": "1",
            "CACHE_PREFIX": f"bench-cobrowse-{os.getpid()}",
            "LOG_LEVEL": "WARNING",
        }
        self.env.pop("TEST_DB_NAME", None)
        self.process: subprocess.Popen[bytes] | None = None

    def _database(self) -> tuple[str, str | None]:
        url = os.environ.get("DATABASE_URL", "")
        if not url.startswith(("postgres://", "postgresql://")):
            return f"sqlite:///{self.tmp / 'bench.sqlite3'}", None
        import psycopg

        parsed = urlparse(url)
        name = f"guichet_bench_cobrowse_{os.getpid()}"
        with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}"')
            db.execute(f'CREATE DATABASE "{name}"')
        return parsed._replace(path=f"/{name}").geturl(), name

    def manage(self, *args: str) -> None:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode:
            raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")

    def start(self) -> None:
        print(
            f"- database: {'PostgreSQL' if self.pg_name else 'SQLite'}; "
            f"channel layer: {'Redis' if os.environ.get('REDIS_URL') else 'in-memory'}"
        )
        print("- migrate + load_demo...", flush=True)
        self.manage("migrate", "--noinput")
        self.manage("load_demo")
        self.log = (self.tmp / "server.log").open("w")
        self.process = process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "contactcenter.asgi:application",
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit((self.tmp / "server.log").read_text()[-3000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("the server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.pg_name:
            import psycopg

            parsed = urlparse(self.database_url)
            with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as db:
                db.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')


# --- The agent's console, as a plain websocket client ------------------------------------------
class AgentSocket:
    """Counts every frame received (bytes on the wire) and sends pointer messages."""

    def __init__(self, url: str, cookie: str, origin: str):
        from websockets.sync.client import connect
        from websockets.typing import Origin

        self.ws = connect(
            url,
            origin=Origin(origin),
            additional_headers={"Cookie": cookie},
            max_size=None,
            compression=None,
        )
        self.frames: list[tuple[float, int, str]] = []
        # Node ids change whenever the page is recorded afresh (new page, reconnection):
        # point at the <h1> of the latest full snapshot, as the agent's replay would.
        self.target: int | None = None
        self.snapshots = 0
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._receive, daemon=True)
        self.thread.start()

    def _receive(self) -> None:
        try:
            for message in self.ws:
                text = message if isinstance(message, str) else message.decode()
                if '"type":2,' in text and '"rrweb"' in text:
                    for event in json.loads(text)["events"]:
                        if event["type"] == 2:
                            self.target = find_node_id(event["data"]["node"], "h1")
                            self.snapshots += 1
                with self.lock:
                    self.frames.append((time.monotonic(), len(text.encode()), text))
        except Exception:  # noqa: BLE001 - the socket closed: stop counting
            pass
        self.closed.set()

    def bytes_between(self, start: float, end: float, kind: str = "rrweb") -> tuple[int, int]:
        with self.lock:
            chosen = [f for f in self.frames if start <= f[0] < end and f'"type":"{kind}"' in f[2]]
        return sum(f[1] for f in chosen), len(chosen)

    def wait_for(self, predicate, timeout: float = 15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for frame in self.frames:
                    if predicate(frame[2]):
                        return frame
            time.sleep(0.02)
        raise SystemExit("expected frame not received")

    def send(self, message: dict) -> None:
        self.ws.send(json.dumps(message))

    def close(self) -> None:
        self.ws.close()


def find_node_id(node: dict, tag: str) -> int | None:
    stack = [node]
    while stack:
        current = stack.pop()
        if current.get("type") == 2 and current.get("tagName") == tag:
            return current["id"]
        stack.extend(reversed(current.get("childNodes") or []))
    return None


def login(page, email: str) -> None:
    page.goto("/connexion/")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state("domcontentloaded")


def run(base_url: str, args: argparse.Namespace) -> dict:
    from playwright.sync_api import sync_playwright

    results: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        citizen_ctx = browser.new_context(
            base_url=base_url, locale="fr-FR", viewport={"width": 1280, "height": 800}
        )
        citizen = citizen_ctx.new_page()
        login(citizen, CITIZEN)
        citizen.goto(args.page)
        citizen.get_by_role("button", name="Aide à distance").click()
        citizen.get_by_role("button", name=re.compile("Obtenir un code")).click()
        code = citizen.locator("[data-cobrowse-code]").inner_text().replace(" ", "")

        agent_ctx = browser.new_context(base_url=base_url, locale="fr-FR")
        agent_page = agent_ctx.new_page()
        login(agent_page, AGENT)
        agent_page.goto("/aide-a-distance/agent/")
        token = agent_page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
        response = agent_ctx.request.post(
            "/aide-a-distance/agent/",
            form={"code": code, "csrfmiddlewaretoken": token},
            headers={"Referer": base_url + "/aide-a-distance/agent/"},
            max_redirects=0,
        )
        location = response.headers.get("location", "")
        match = re.search(r"/session/([0-9a-f-]{36})/", location)
        if not match:
            raise SystemExit(f"code refused ({response.status})")
        session_id = match.group(1)
        agent_page.close()  # the Python client below is the console
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in agent_ctx.cookies())
        ws_url = base_url.replace("http", "ws", 1) + f"/ws/cobrowse/agent/{session_id}/"
        agent = AgentSocket(ws_url, cookie, base_url)
        agent.wait_for(lambda text: '"type":"waiting"' in text)

        citizen.get_by_role("dialog", name="Partager votre écran ?").get_by_role(
            "button", name="Accepter"
        ).click()
        _at, size, text = agent.wait_for(lambda text: '"type":2,' in text and '"rrweb"' in text)
        snapshot = next(e for e in json.loads(text)["events"] if e["type"] == 2)
        results["snapshot_bytes"] = size
        results["snapshot_nodes"] = text.count('"id":')
        assert find_node_id(snapshot["data"]["node"], "h1") is not None

        # At rest.
        time.sleep(1.0)
        start = time.monotonic()
        time.sleep(args.idle_seconds)
        end = time.monotonic()
        total, count = agent.bytes_between(start, end)
        results["idle_bytes_per_s"] = total / (end - start)
        results["idle_frames"] = count

        # Scrolling: the wheel, down then up, like someone reading the page.
        citizen.mouse.move(640, 400)
        start = time.monotonic()
        direction = 1
        while time.monotonic() - start < args.scroll_seconds:
            at_end = citizen.evaluate(
                "() => [window.scrollY, document.documentElement.scrollHeight - innerHeight]"
            )
            if (direction > 0 and at_end[0] >= at_end[1] - 5) or (direction < 0 and at_end[0] <= 5):
                direction = -direction
            citizen.mouse.wheel(0, 120 * direction)
            citizen.wait_for_timeout(50)
        end = time.monotonic()
        time.sleep(0.5)  # the last batch
        total, count = agent.bytes_between(start, end + 0.5)
        results["scroll_bytes_per_s"] = total / (end - start)
        results["scroll_frames"] = count

        # Pointer latency, agent -> the citizen's page drawing it.
        citizen.evaluate(
            "() => { window.__pointerAt = {};"
            " document.addEventListener('cobrowse:pointer', (e) => {"
            "  window.__pointerAt[Math.round(e.detail.x * 1000)] ="
            "   performance.timeOrigin + performance.now(); }); }"
        )
        sent: dict[int, float] = {}
        interval = 1.0 / args.pointer_rate
        for i in range(args.samples):
            key = i % 1000
            sent[key] = time.time() * 1000
            agent.send({"type": "pointer", "node": agent.target, "x": key / 1000, "y": 0.5})
            time.sleep(interval)
        time.sleep(0.5)
        received = citizen.evaluate("() => window.__pointerAt")
        if not received:
            with agent.lock:
                kinds = [json.loads(f[2]).get("type") for f in agent.frames[-10:]]
            banner = citizen.locator("#cobrowse-banner").is_visible()
            raise SystemExit(
                f"no pointer reached the citizen's page (agent's last frames: {kinds}, "
                f"citizen's banner visible: {banner})"
            )
        latencies = [received[str(k)] - t for k, t in sent.items() if str(k) in received]
        results["pointer_samples"] = len(latencies)
        results["pointer_lost"] = len(sent) - len(latencies)
        results["pointer_ms"] = latencies
        results["snapshots"] = agent.snapshots

        agent.send({"type": "end"})
        agent.closed.wait(5)
        agent.close()
        browser.close()
    return results


def report(results: dict) -> None:
    latencies = results["pointer_ms"]
    p50, p95, p99 = (common.percentile(latencies, q) for q in (50, 95, 99))
    idle_kb = results["idle_bytes_per_s"] / 1024
    print()
    print("Co-browsing session benchmark")
    print(
        f"  full snapshot            {results['snapshot_bytes'] / 1024:8.1f} KB "
        f"({results['snapshot_bytes']} bytes, ~{results['snapshot_nodes']} nodes)"
    )
    print(
        f"  citizen->agent at rest   {idle_kb:8.3f} KB/s ({results['idle_frames']} frames)"
        f"   target < 2 KB/s: {'OK' if idle_kb < 2 else 'MISSED'}"
    )
    print(
        f"  citizen->agent scrolling {results['scroll_bytes_per_s'] / 1024:8.2f} KB/s "
        f"({results['scroll_frames']} frames)"
    )
    print(
        f"  pointer agent->citizen   p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   "
        f"p99 {p99:6.1f} ms   max {max(latencies):6.1f} ms   "
        f"(n={results['pointer_samples']}, lost {results['pointer_lost']})"
        f"   target p99 < 100 ms: {'OK' if p99 < 100 else 'MISSED'}"
    )
    print(f"  mean pointer latency     {statistics.mean(latencies):6.1f} ms")  # fmt: skip
    if results["snapshots"] > 1:
        print(f"  note: the page was sent whole {results['snapshots']} times "
              "(the citizen's socket reconnected and the session resumed)")  # fmt: skip


def main() -> None:
    args = parse_args()
    if args.base_url:
        report(run(args.base_url.rstrip("/"), args))
        return
    server = Server(args.settings)
    try:
        server.start()
        report(run(server.url, args))
    except SystemExit:
        print((server.tmp / "server.log").read_text()[-5000:])
        raise
    finally:
        server.stop()


if __name__ == "__main__":
    main()
