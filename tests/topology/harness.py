"""The production topology on loopback, without Docker: several uvicorn processes of
``contactcenter.asgi`` (production settings module, PostgreSQL and Redis) behind HAProxy running
``deploy/haproxy.cfg`` with its two "topology:" lines replaced (bind address, server list).

The processes use the test database (pytest-django's, committed data: ``transactional_db``) and a
channel-layer and cache prefix of their own on ``REDIS_URL``. Each names itself in
``X-Guichet-Process`` (``PROCESS_HEADER``), HTTP responses and websocket handshakes alike.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None
    )


# PostgreSQL and Redis, as in CI's second phase; HAProxy from bin/setup --test.
needs_postgres_redis = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        reason="needs PostgreSQL (DATABASE_URL)",
    ),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)"),
]
needs_production_stack = [
    *needs_postgres_redis,
    pytest.mark.skipif(haproxy_binary() is None, reason="needs HAProxy (bin/setup --test)"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def render_haproxy_config(
    bind_port: int, servers: dict[str, int], *, fast_checks: bool = True
) -> str:
    """deploy/haproxy.cfg for loopback: the same file, its bind and server lines replaced.
    ``fast_checks``: the tests' health-check timing (bench/peak.py keeps production's)."""
    text = HAPROXY_CFG.read_text()
    lines = [f"    server {name} 127.0.0.1:{port} check" for name, port in servers.items()]
    text, bound = re.subn(
        r"^\s*bind \S+ # topology: bind$", f"    bind 127.0.0.1:{bind_port}", text, flags=re.M
    )
    text, served = re.subn(
        r"^\s*server-template .*# topology: servers$", "\n".join(lines), text, flags=re.M
    )
    assert bound == 1 and served == 1, "deploy/haproxy.cfg lost its topology: lines"
    # The test's checks are faster than production's (a killed process is out within ~1 s), and
    # a test machine may allow fewer open files than production's connection cap needs.
    if fast_checks:
        text = text.replace("inter 2s fall 3 rise 2", "inter 500ms fall 2 rise 1")
    return re.sub(r"^(\s*)maxconn \d+$", r"\g<1>maxconn 2000", text, flags=re.M)


def database_url() -> str:
    """The test database (pytest-django's) as a URL for the server processes."""
    from django.db import connection

    conf = connection.settings_dict
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    port = f":{conf['PORT']}" if conf.get("PORT") else ""
    return f"postgres://{conf['USER']}{password}@{conf['HOST']}{port}/{conf['NAME']}"


def server_env(**extra: str) -> dict[str, str]:
    from django.conf import settings

    run = f"topo-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "contactcenter.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": os.environ["REDIS_URL"],
        # Sessions are signed: the test writes them with its own key.
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CHANNEL_LAYER_PREFIX": run,
        "CACHE_PREFIX": run,
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "PROCESS_HEADER": "1",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    env.pop("TEST_DB_NAME", None)
    return env


@dataclass
class Process:
    name: str
    port: int
    popen: subprocess.Popen
    log: Path

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no clean-up, no goodbye to the sockets (a crash, an OOM kill)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


@dataclass
class Topology:
    url: str
    port: int
    web: dict[str, Process]
    balancer: Process
    tmp: Path
    extra: list[Process] = field(default_factory=list)

    def stop(self) -> None:
        for process in [self.balancer, *self.web.values(), *self.extra]:
            process.stop()

    def logs(self) -> str:
        parts = [f"--- {p.name}\n{p.log_tail()}" for p in [self.balancer, *self.web.values()]]
        return "\n".join(parts)


def get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    """Status and ``X-Guichet-Process`` of a GET (header names are case-insensitive here:
    HAProxy sends them in lower case)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers.get("X-Guichet-Process", "")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("X-Guichet-Process", "")


def wait_until(predicate, timeout: float, what: str, logs=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout} s\n{logs()}")


# bin/serve's websocket options, for every uvicorn started as in production (these tests,
# bench/chat_load.py, bench/peak.py): websockets' Sans-I/O implementation (one task per socket)
# and no permessage-deflate, whose zlib contexts would cost each socket ~300 KiB
# (bench/RESULTS.md, chat_load.py). tests/contactcenter/test_serve.py checks that bin/serve
# refuses the extension, tests/topology/test_websocket_server.py the sockets' behaviour.
WS_OPTIONS = ("--ws", "websockets-sansio", "--ws-per-message-deflate", "false")


def start(
    count: int = 3,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
    options: tuple[str, ...] = (),
) -> Topology:
    """``count`` uvicorn processes behind HAProxy. ``env``: the processes' environment (default
    ``server_env``, on pytest-django's test database); ``PROCESS_HEADER`` is set either way.
    ``options``: more uvicorn options."""
    began = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="guichet-topology-"))
    if env is None:
        env = server_env(MEDIA_ROOT=str(tmp / "private"))
    env = {**env, "PROCESS_HEADER": "1"}
    web: dict[str, Process] = {}
    for index in range(1, count + 1):
        name, port = f"web{index}", free_port()
        log = tmp / f"{name}.log"
        popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "contactcenter.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                *WS_OPTIONS,
                *options,
                "--no-proxy-headers",
            ],
            cwd=ROOT,
            env={**env, "GUICHET_PROCESS_NAME": name},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        web[name] = Process(name, port, popen, log)
    port = free_port()
    config = tmp / "haproxy.cfg"
    config.write_text(render_haproxy_config(port, {n: p.port for n, p in web.items()}))
    log = tmp / "haproxy.log"
    binary = haproxy_binary()
    assert binary
    balancer = Process(
        "haproxy",
        port,
        subprocess.Popen(
            [binary, "-db", "-f", str(config)],
            cwd=tmp,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        ),
        log,
    )
    topology = Topology(f"http://127.0.0.1:{port}", port, web, balancer, tmp)
    try:
        for process in [*web.values(), balancer]:
            if process.popen.poll() is not None:
                raise AssertionError(f"{process.name} exited\n{process.log_tail()}")
        for process in web.values():
            wait_until(
                lambda p=process: get(f"http://127.0.0.1:{p.port}/health/ready")[0] == 200,
                timeout,
                f"{process.name} ready",
                topology.logs,
            )
        # Every back end seen up by the balancer: each answers through it.
        seen: set[str] = set()

        def all_up() -> bool:
            status, process = get(f"{topology.url}/health/ready")
            if status == 200:
                seen.add(process)
            return seen >= set(web)

        wait_until(all_up, 20, "every process behind the balancer", topology.logs)
    except BaseException:
        topology.stop()
        raise
    print(f"topology of {count} processes up in {time.monotonic() - began:.1f} s")
    return topology
