"""docker-compose.yml and deploy/haproxy.cfg describe the documented topology: N stateless web
processes behind HAProxy (health-checked on /health/ready, websockets), scalable workers, one
beat. Docker is not needed: the YAML is parsed; ``haproxy -c`` and ``docker compose config``
check the files too where those commands exist."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_web_is_scalable_behind_the_balancer(services):
    web = services["web"]
    assert "ports" not in web, "replicas cannot share a host port: only lb publishes one"
    assert web["expose"] == ["8000"]
    assert str(web["deploy"]["replicas"]).startswith("${WEB_REPLICAS")
    env = web["environment"]
    assert env["WEB_CONCURRENCY"] == 1
    assert env["SERVE_MIGRATE"] == 0, "migrations run once, in the migrate service"
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "/health/live" in " ".join(web["healthcheck"]["test"])
    # Shared state lives in PostgreSQL, Redis and the private-files volume, never a replica.
    assert env["DATABASE_URL"].startswith("postgres://")
    assert env["REDIS_URL"].startswith("redis://")
    assert "private-files:/data/private" in web["volumes"]


def test_only_the_balancer_is_published(services):
    lb = services["lb"]
    assert lb["image"].startswith("haproxy:")
    assert "./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in lb["volumes"]
    assert [p.split(":")[-1] for p in lb["ports"]] == ["8080"]
    published = {name for name, svc in services.items() if svc.get("ports")}
    assert published == {"lb", "voice"}  # voice: SIP and RTP over UDP, its own profile


def test_workers_scale_and_beat_is_alone(services):
    worker, beat = services["worker"], services["beat"]
    assert "worker" in worker["command"]
    assert str(worker["deploy"]["replicas"]).startswith("${WORKER_REPLICAS")
    assert "beat" in beat["command"]
    assert beat["deploy"]["replicas"] == 1
    assert sum("beat" in (svc.get("command") or []) for svc in services.values()) == 1


def default(value: str | int) -> int:
    """The default of a ``${NAME:-default}`` value, or the value itself."""
    match = re.fullmatch(r"\$\{\w+:-(\d+)\}", str(value))
    return int(match.group(1) if match else value)


def test_the_default_topology_fits_postgres_connection_budget(services):
    """docs/operations.md, "Database connections": every pooled process (web replicas, voice)
    at its pool's maximum, every Celery child with its connection, beat and migrate, under
    PostgreSQL's 100 connections minus the 3 kept for superusers, with room for a rolling
    deployment's second set of web replicas."""
    web, worker = services["web"], services["worker"]
    pool = default(web["environment"]["DB_POOL_MAX_SIZE"])
    assert web["environment"]["DB_POOL_TIMEOUT"]
    command = worker["command"]
    concurrency = int(command[command.index("--concurrency") + 1])
    web_connections = default(web["deploy"]["replicas"]) * pool
    budget = web_connections + pool + default(worker["deploy"]["replicas"]) * concurrency + 1 + 2
    assert budget == 51
    assert budget + web_connections <= 100 - 3
    # Celery takes no pool (DB_POOL=auto sees the celery command); nobody forces one on it.
    assert "DB_POOL" not in worker.get("environment", {})
    assert "DB_CONN_MAX_AGE" not in web["environment"]


def test_haproxy_checks_readiness_and_reaches_every_replica(services):
    cfg = HAPROXY_CFG.read_text()
    assert re.search(r"http-check send meth GET uri /health/ready\b", cfg)
    assert "http-check expect status 200" in cfg
    assert "timeout tunnel" in cfg  # websockets outlive the HTTP timeouts
    assert "option redispatch" in cfg
    servers = re.search(
        r"^\s*server-template web \S+ (\S+):(\d+) .*# topology: servers$", cfg, re.M
    )
    assert servers, "the servers line the topology test replaces"
    host, port = servers.groups()
    assert host == "web" and port in services["web"]["expose"]
    bind = re.search(r"^\s*bind :(\d+) # topology: bind$", cfg, re.M)
    assert bind and services["lb"]["ports"][0].endswith(":" + bind.group(1))


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy not installed")
def test_haproxy_accepts_the_file():
    result = subprocess.run(
        ["haproxy", "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _compose_available() -> bool:
    if not shutil.which("docker"):
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _compose_available(), reason="docker compose not installed")
def test_docker_compose_accepts_the_file():
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SECRET_KEY": "compose-config-check"},
    )
    assert result.returncode == 0, result.stderr


def test_web_serves_websockets_without_per_message_deflate(services):
    """The web replicas start with the image's command, bin/serve, which runs uvicorn's
    Sans-I/O websockets implementation and turns permessage-deflate off (memory per socket:
    bench/RESULTS.md); the servers started by hand as in production (topology tests,
    benchmarks) pass the same options. tests/contactcenter/test_serve.py checks a real
    handshake, tests/topology/test_websocket_server.py the sockets' behaviour."""
    from tests.topology.harness import WS_OPTIONS

    assert "command" not in services["web"], "the web replicas run the image's bin/serve"
    assert re.search(r'^CMD \["bin/serve"\]', (ROOT / "Dockerfile").read_text(), re.M)
    serve = (ROOT / "bin" / "serve").read_text()
    options = " ".join(WS_OPTIONS)
    assert options == "--ws websockets-sansio --ws-per-message-deflate false"
    assert re.search(rf"^\s*--workers .*{options}\)", serve, re.M)
    assert "*WS_OPTIONS" in (ROOT / "bench" / "peak.py").read_text()
    chat_load = (ROOT / "bench" / "chat_load.py").read_text()
    for option, default in zip(WS_OPTIONS[::2], WS_OPTIONS[1::2], strict=True):
        # chat_load.py compares implementations and options: production's are its defaults.
        assert re.search(rf'"{option}",\n(.*\n)*?\s*default="{default}"', chat_load), option
