"""Health endpoints for load balancers and orchestrators (docs/operations.md, "Health").

``/health/live``: the process answers (no check of anything else: a balancer or an orchestrator
restarts a process that stops answering, not one whose database is away).
``/health/ready``: this process can serve: the database answers, the cache and the channel layer
(Redis in production) accept a write, the Celery broker accepts a connection, every migration
the code knows is applied and the chatbot's engine is not being built at start-up
(``KNOWLEDGE_WARM_UP``). 200 ``{"status": "ok", "failed": []}`` or 503 with the names of the
checks that failed; never an error message, a host name or any data.

``HealthMiddleware`` answers both paths before every other middleware: no session, no
authentication, no HTTPS redirect and no host check (a balancer probes each back end by its
address, over plain HTTP). Each check runs in its own thread with a deadline, so that a database
or Redis that hangs makes the answer a 503 within ``HEALTH_CHECK_TIMEOUT`` seconds instead of
holding the probe (and this process's thread for synchronous code) until it gives up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import markcoroutinefunction, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse

from contactcenter import metrics as exporter

logger = logging.getLogger("guichet.health")

LIVE_PATH = "/health/live"
READY_PATH = "/health/ready"
METRICS_PATH = "/metrics"  # contactcenter/metrics.py
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
DEFAULT_TIMEOUT = 3.0

# Once every migration is applied it stays so for the life of this code: checked once.
_migrations_applied = False


def process_name() -> str:
    """This process in a topology: ``GUICHET_PROCESS_NAME``, or host name and pid."""
    return os.environ.get("GUICHET_PROCESS_NAME") or f"{socket.gethostname()}:{os.getpid()}"


def check_database() -> None:
    connection = connections["default"]
    try:
        connection.ensure_connection()
        if not connection.is_usable():
            raise ConnectionError("database connection not usable")
    finally:
        connection.close()


def check_migrations() -> None:
    global _migrations_applied
    if _migrations_applied:
        return
    connection = connections["default"]
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    finally:
        connection.close()
    if plan:
        raise RuntimeError(f"{len(plan)} migration(s) not applied")
    _migrations_applied = True


def check_cache() -> None:
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    try:
        if cache.get(key) != "1":
            raise RuntimeError("cache did not return what was written")
    finally:
        cache.delete(key)


def check_broker() -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return  # tasks run in the process: no broker to reach
    from contactcenter.celery import app

    with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=max(1, round(_timeout())))


async def check_channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer")
    # A publish to a group nobody joins: it reaches Redis (pub/sub or the list layer's script)
    # and delivers nothing.
    await layer.group_send("health-check", {"type": "health.ping"})


def check_knowledge() -> None:
    from knowledge.warm_up import warming_up

    if warming_up():
        raise RuntimeError("the knowledge engine is being built (start-up warm-up)")


SYNC_CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "migrations": check_migrations,
    "cache": check_cache,
    "broker": check_broker,
    "knowledge": check_knowledge,
}
ASYNC_CHECKS: dict[str, Callable[[], Awaitable[None]]] = {"channel_layer": check_channel_layer}


def _timeout() -> float:
    return float(getattr(settings, "HEALTH_CHECK_TIMEOUT", DEFAULT_TIMEOUT))


async def _run(name: str, check: Callable[[], Awaitable[None]]) -> str | None:
    try:
        await asyncio.wait_for(check(), timeout=_timeout())
    except Exception as exc:  # noqa: BLE001 - any failure makes the process not ready
        logger.warning("health: %s check failed: %s", name, type(exc).__name__)
        return name
    return None


async def failed_checks() -> list[str]:
    """Names of the readiness checks that fail, all run at once."""
    runs = [
        # Own threads (not the process's single thread for synchronous code): a hung check
        # must not hold the requests of everyone else.
        _run(name, sync_to_async(check, thread_sensitive=False))
        for name, check in SYNC_CHECKS.items()
    ]
    runs += [_run(name, check) for name, check in ASYNC_CHECKS.items()]
    return [name for name in await asyncio.gather(*runs) if name]


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


async def live() -> HttpResponse:
    return _no_store(JsonResponse({"status": "ok"}))


async def ready() -> HttpResponse:
    failed = await failed_checks()
    return _no_store(
        JsonResponse(
            {"status": "fail" if failed else "ok", "failed": failed}, status=503 if failed else 200
        )
    )


async def metrics(request: HttpRequest) -> HttpResponse:
    if not exporter.token_accepted(request.headers.get("Authorization", "")):
        # No token configured, or a wrong one: nothing says the endpoint exists.
        return _no_store(HttpResponse(status=404))
    body = await sync_to_async(exporter.exposition)()
    return _no_store(HttpResponse(body, content_type=exporter.CONTENT_TYPE))


class HealthMiddleware:
    """First middleware: answers the health paths and the metrics itself; with
    ``PROCESS_HEADER`` on (topology tests, debugging a balancer) names the process that served
    every other response in ``X-Guichet-Process``."""

    async_capable = True
    sync_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], Awaitable[HttpResponse]]):
        self.get_response = get_response
        self.header = process_name() if getattr(settings, "PROCESS_HEADER", False) else ""
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path in (LIVE_PATH, READY_PATH, METRICS_PATH):
            if request.method not in ("GET", "HEAD"):
                return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
            if request.path == METRICS_PATH:
                response = await metrics(request)
            else:
                response = await (live() if request.path == LIVE_PATH else ready())
        else:
            started = time.perf_counter()
            response = await self.get_response(request)
            match = getattr(request, "resolver_match", None)
            exporter.observe_request(
                match.view_name if match else "unresolved",
                request.method if request.method in KNOWN_METHODS else "other",
                response.status_code,
                time.perf_counter() - started,
            )
        if self.header:
            response["X-Guichet-Process"] = self.header
        return response


def process_header_app(app: Any) -> Any:
    """ASGI wrapper (``PROCESS_HEADER`` on): the websocket handshake's answer names the process
    too, in ``X-Guichet-Process`` (HTTP responses get it from ``HealthMiddleware``)."""
    name = process_name().encode()

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        async def send_named(message: Any) -> None:
            if message.get("type") == "websocket.accept":
                headers = list(message.get("headers") or [])
                headers.append((b"x-guichet-process", name))
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_named)

    return wrapped
