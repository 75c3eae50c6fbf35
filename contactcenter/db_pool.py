"""The PostgreSQL connection budget: Django's own connection pool (psycopg_pool), sized by
environment variables, and a clean 503 when a process has waited too long for a connection.

Without a pool, every thread that touched the ORM keeps its own connection (with
``CONN_MAX_AGE``) or opens one per request; an ASGI process runs each request's synchronous code
in a thread of its own, so the number of connections follows the traffic and a peak ends in
PostgreSQL's "sorry, too many clients already". With the pool a process never holds more than
``DB_POOL_MAX_SIZE`` connections: a request takes one when it starts and gives it back when it
ends (``request_finished``), socket consumers take one per database call
(``database_sync_to_async``), and whoever finds the pool empty waits for a connection, at most
``DB_POOL_TIMEOUT`` seconds, then gets a 503 (docs/operations.md, "Database connections").

Celery workers and beat take no pool: a prefork child runs one task at a time, Celery's Django
fixup closes the connection after each task and would close a pool with it. They use one
connection per child process. Nor do one-shot management commands (``check``, ``migrate``,
``load_demo``…): they run one query at a time, and a pool would open ``DB_POOL_MIN_SIZE``
connections for them, and, with an unreachable database (``check --deploy`` in CI, whose schema
check reads the topics), retry in background threads for ``DB_POOL_TIMEOUT`` seconds and log each
failure instead of failing at once. Only the commands that serve requests at once
(``POOLED_COMMANDS``) take one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed

logger = logging.getLogger("contactcenter.db_pool")

# Management commands that serve concurrent requests (a development web process, the calls of
# the voice server): a pool, like uvicorn.
POOLED_COMMANDS = frozenset({"runserver", "voice_server"})
DEFAULT_MIN_SIZE = 2
DEFAULT_MAX_SIZE = 10
DEFAULT_TIMEOUT = 10.0
RETRY_AFTER_SECONDS = 5


def celery_command(argv: Sequence[str]) -> bool:
    """Whether this process is the ``celery`` command (a worker, beat, or the CLI)."""
    if not argv:
        return False
    program = Path(argv[0])
    return program.name == "celery" or (
        program.name == "__main__.py" and program.parent.name == "celery"
    )


def management_command(argv: Sequence[str]) -> str | None:
    """The command's name when this process is ``manage.py <command>`` (or ``django-admin``,
    ``python -m django``), else None."""
    if not argv:
        return None
    program = Path(argv[0])
    if program.name in {"manage.py", "django-admin"} or (
        program.name == "__main__.py" and program.parent.name == "django"
    ):
        return argv[1] if len(argv) > 1 else ""
    return None


def wants_pool(argv: Sequence[str]) -> bool:
    """``DB_POOL=auto``: a pool for the processes that serve requests at once (uvicorn, tests,
    ``runserver``, ``voice_server``), none for Celery or the one-shot management commands."""
    if celery_command(argv):
        return False
    command = management_command(argv)
    return command is None or command in POOLED_COMMANDS


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    value = environ.get(name, "").strip()
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number (got {value!r}).") from None


def pool_options(environ: Mapping[str, str], argv: Sequence[str]) -> dict[str, Any] | None:
    """``DATABASES[...]["OPTIONS"]["pool"]`` for PostgreSQL, or None for no pool.

    ``DB_POOL``: ``auto`` (default: a pool, except in the ``celery`` command and the one-shot
    management commands: ``wants_pool``), ``1`` or ``0``.
    ``DB_POOL_MIN_SIZE`` (2), ``DB_POOL_MAX_SIZE`` (10), ``DB_POOL_TIMEOUT`` (10 s): psycopg_pool's
    ``min_size``, ``max_size`` and ``timeout`` (the longest wait for a connection)."""
    choice = environ.get("DB_POOL", "auto").strip().lower() or "auto"
    if choice not in {"auto", "1", "true", "yes", "on", "0", "false", "no", "off"}:
        raise ImproperlyConfigured(f'DB_POOL must be "auto", "1" or "0" (got {choice!r}).')
    if choice in {"0", "false", "no", "off"} or (choice == "auto" and not wants_pool(argv)):
        return None
    min_size = int(_number(environ, "DB_POOL_MIN_SIZE", DEFAULT_MIN_SIZE))
    max_size = int(_number(environ, "DB_POOL_MAX_SIZE", DEFAULT_MAX_SIZE))
    timeout = _number(environ, "DB_POOL_TIMEOUT", DEFAULT_TIMEOUT)
    if not 0 <= min_size <= max_size or max_size < 1 or timeout <= 0:
        raise ImproperlyConfigured(
            "The connection pool needs 0 <= DB_POOL_MIN_SIZE <= DB_POOL_MAX_SIZE, "
            f"DB_POOL_MAX_SIZE >= 1 and DB_POOL_TIMEOUT > 0 (got {min_size}, {max_size}, "
            f"{timeout})."
        )
    if int(environ.get("DB_CONN_MAX_AGE") or 0) != 0:
        raise ImproperlyConfigured(
            "DB_CONN_MAX_AGE (persistent connections) and the connection pool exclude each "
            "other: unset DB_CONN_MAX_AGE, or set DB_POOL=0."
        )
    return {"min_size": min_size, "max_size": max_size, "timeout": timeout, "name": "guichet"}


def is_pool_timeout(exc: BaseException | None) -> bool:
    """Whether ``exc`` (Django wraps psycopg's errors) is a wait for a pooled connection that
    ran out of time."""
    from psycopg_pool import PoolTimeout

    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, PoolTimeout):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def pool_exhausted_response(request):
    """503 with ``Retry-After``: JSON for the API, the error page elsewhere (rendered without
    the request's context processors, which would ask the database again)."""
    from django.http import HttpResponse, JsonResponse
    from django.utils.translation import gettext

    from .errors import render_error

    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"detail": gettext("Le service est momentanément surchargé. Réessayez.")}, status=503
        )
    else:
        response = render_error(request, "503.html", 503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabasePoolMiddleware:
    """With a pool: take the request's connection before anything else asks for it (sessions,
    the user, the view). A request that cannot have one within ``DB_POOL_TIMEOUT`` gets a 503
    and a warning in the log, not a 500 and a traceback. The connection is the request's until
    it ends: Django gives it back to the pool on ``request_finished``."""

    def __init__(self, get_response):
        from django.db import connections

        if not connections["default"].settings_dict.get("OPTIONS", {}).get("pool"):
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        from django.db import OperationalError, connection

        try:
            connection.ensure_connection()
        except OperationalError as exc:
            if not is_pool_timeout(exc):
                raise
            return self._exhausted(request)
        return self.get_response(request)

    def process_exception(self, request, exception):
        # A view that asked for a connection from another thread (e.g. thread_sensitive=False).
        if is_pool_timeout(exception):
            return self._exhausted(request)
        return None

    def _exhausted(self, request):
        logger.warning(
            "no database connection free within the pool's timeout: 503 for %s", request.path
        )
        return pool_exhausted_response(request)
