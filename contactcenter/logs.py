"""Structured logs (docs/operations.md, "Logs"): one JSON object per line in production, each
with the request id of the HTTP request, websocket or Celery task it belongs to, and no
personal data.

- ``request_id``: a context variable set by ``RequestIdMiddleware`` (HTTP: the ``X-Request-ID``
  header when it is well formed, a new id otherwise; echoed in the response), by
  ``websocket_request_id`` (a websocket: the handshake's ``X-Request-ID`` or a new id, for every
  message the socket handles) and by the Celery signals below (a task runs under the id of the
  request that queued it, carried in the message's headers; a task queued by beat gets its own).
  Context variables follow ``sync_to_async``/``database_sync_to_async`` and asyncio tasks, so
  the id reaches every log line of the work, whatever thread runs it.
- ``JsonFormatter``: time, level, logger, message, request id, process, exception, and the
  ``extra`` fields given to the call.
- masking (production): the formatters replace e-mail addresses and phone numbers in every
  line, whatever the library that wrote it (a login failure's username, an SMS outbox line).
  The rule stays: never log what a person wrote or who they are; log ids and references.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from celery.signals import before_task_publish, task_postrun, task_prerun

HEADER = "X-Request-ID"
request_id: ContextVar[str] = ContextVar("request_id", default="")

# What a client may send as its id (a balancer's unique id, a UUID); anything else is replaced.
VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def new_id() -> str:
    return uuid.uuid4().hex


def accepted_id(value: str | None) -> str:
    return value if value and VALID_ID.match(value) else new_id()


def current() -> str:
    return request_id.get()


class RequestIdMiddleware:
    """Give each HTTP request an id (the client's ``X-Request-ID`` when well formed), for every
    log line of the request and the tasks it queues, and return it in the response. Sync and
    async, so that it adds no thread hop under ASGI."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        value = request.request_id = accepted_id(request.headers.get(HEADER))
        token = request_id.set(value)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response[HEADER] = value
        return response

    async def _acall(self, request):
        value = request.request_id = accepted_id(request.headers.get(HEADER))
        token = request_id.set(value)
        try:
            response = await self.get_response(request)
        finally:
            request_id.reset(token)
        response[HEADER] = value
        return response


def websocket_request_id(app):
    """ASGI middleware: a websocket's handshake ``X-Request-ID`` (or a new id) for everything
    its consumer does, each message it receives or is sent through the channel layer."""

    async def wrapped(scope, receive, send):
        if scope.get("type") != "websocket":
            return await app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        value = accepted_id(headers.get(HEADER.lower().encode(), b"").decode("latin-1"))
        token = request_id.set(value)
        try:
            return await app(scope, receive, send)
        finally:
            request_id.reset(token)

    return wrapped


# --- Celery: the id travels in the task message's headers -------------------------------------


@before_task_publish.connect(weak=False)
def _publish(headers: dict | None = None, **kwargs: Any) -> None:
    value = request_id.get()
    if value and headers is not None:
        headers.setdefault("request_id", value)


_task_tokens: dict[str, Any] = {}


@task_prerun.connect(weak=False)
def _prerun(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    request = getattr(task, "request", None)
    value = getattr(request, "request_id", None) or (
        None if getattr(request, "is_eager", False) else task_id
    )
    if value is None:  # an eager task runs inside the request that called it: same id
        return
    if task_id:
        _task_tokens[task_id] = request_id.set(str(value))


@task_postrun.connect(weak=False)
def _postrun(task_id: str | None = None, **kwargs: Any) -> None:
    token = _task_tokens.pop(task_id or "", None)
    if token is not None:
        try:
            request_id.reset(token)
        except ValueError:  # set in another context (a thread pool): clear it instead
            request_id.set("")


# --- Formatting --------------------------------------------------------------------------------

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# International (+33 6 12 34 56 78) or French national (06 12 34 56 78, 0612345678) numbers.
PHONE = re.compile(r"(?<![\w])(?:\+\d{1,3}[ .-]?|0)\d(?:[ .-]?\d{2}){4}(?![\w])")

# Not written as fields: the record's own attributes, and Django's ``request`` (its text holds
# the query string; its id is read from it).
STANDARD = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "request_id",
    "request",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


def record_request_id(record: logging.LogRecord) -> str:
    """The id of the work that logged: the context's, or (Django's own lines about a request,
    written once the middleware has returned) the one the middleware gave the request."""
    return request_id.get() or getattr(getattr(record, "request", None), "request_id", "")


def mask(text: str) -> str:
    return PHONE.sub("[téléphone]", EMAIL.sub("[courriel]", text))


def _masked(value: Any) -> Any:
    return mask(value) if isinstance(value, str) else value


class JsonFormatter(logging.Formatter):
    """One JSON object per line. With ``mask`` (production), e-mail addresses and phone
    numbers are replaced in the message, the extra fields and the traceback. The record itself
    is left alone (other handlers, such as the tests' log capture, see it unchanged)."""

    def __init__(self, *args: Any, mask: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mask = mask

    def format(self, record: logging.LogRecord) -> str:
        clean = _masked if self.mask else (lambda value: value)
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: the template only
            message = str(record.msg)
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": clean(message),
            "request_id": record_request_id(record) or None,
            "process": record.process,
        }
        for key, value in vars(record).items():
            if key not in STANDARD and key not in entry:
                plain = value is None or isinstance(value, int | float | bool)
                entry[key] = value if plain else clean(str(value))
        if record.exc_info:
            entry["exception"] = clean(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """One readable line, with the request id when there is one; masked like ``JsonFormatter``
    with ``mask`` (development leaves it off: the SMS outbox's log shows whom it wrote to)."""

    def __init__(self, *args: Any, mask: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mask = mask

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = record_request_id(record) or "-"
        line = super().format(record)
        return mask(line) if self.mask else line


def logging_config(*, json_logs: bool, level: str, mask_personal_data: bool) -> dict[str, Any]:
    """The ``LOGGING`` setting: JSON lines (production) or plain lines, e-mail addresses and
    phone numbers masked with ``mask_personal_data`` (on in production)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "contactcenter.logs.JsonFormatter", "mask": mask_personal_data},
            "plain": {
                "()": "contactcenter.logs.PlainFormatter",
                "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
                "mask": mask_personal_data,
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if json_logs else "plain",
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # uvicorn configured its own plain handlers before Django started: through ours
            # instead. Its access log (client address, path and query string of every request)
            # is off: the balancer logs requests, /metrics counts them per view.
            "uvicorn": {"handlers": ["console"], "level": "INFO", "propagate": False},
            # Django's default handlers (a second plain console line with DEBUG, e-mails to
            # ADMINS) off: its lines reach the root handler only.
            "django": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": ["console"], "level": "WARNING", "propagate": False},
            "django.channels.server": {"level": "WARNING"},
            "daphne": {"level": "WARNING"},
            "axes": {"level": "WARNING"},
        },
    }
