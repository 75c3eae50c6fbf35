"""Idempotency keys: a creating request sent twice (double click, retry, two tabs) acts once.

Forms carry a hidden ``idempotency_key`` field (``{% idempotency_field form %}``, a fresh UUID
each time the form is rendered, the same one when it is rendered again after a validation
error); API clients send an ``Idempotency-Key`` header (htmx may send either). Views opt in
with ``@idempotent`` (Django views) or ``@idempotent_api`` (DRF methods).

How one key acts once (``run_once``):

1. *Claim and run*: in one transaction, INSERT the (user, scope, key) row as "in progress",
   run the view, then mark the row done with the result (or delete it on a failure). One
   commit for the key and the view's writes. A parallel duplicate's INSERT waits on the
   unique index until that transaction ends: after a commit it finds the row done and
   replays it; after a rollback its own INSERT goes through and it runs the view.
2. If the row exists already, a row marked done with the same fingerprint is a *replay*: the
   stored result (status, redirect, body or JSON, flash messages) is returned and the view
   does not run. A different fingerprint (same key, other path or body) is refused (422):
   nothing is done.
3. A row that exists but is not done (left "in progress" by a crashed request or an older
   version, or expired) is locked (``SELECT ... FOR UPDATE NOWAIT``) and the view runs in that
   same transaction. A parallel request holding that lock makes the duplicate poll until it
   commits, then replay its result. The owner stores a successful result (2xx or 3xx) as
   done; a failure (4xx, or a form shown again with its key, see ``KEPT_ATTR``) deletes the
   row, so the user can correct the form and send it again with the same key; an exception
   rolls everything back.
4. A duplicate polling for a locked row waits at most ``WAIT_SECONDS``, then gets a 409 (a
   duplicate whose INSERT waits on a new key waits for the first request's end). Rows older
   than ``TTL`` no longer count and are purged by Celery beat
   (``contactcenter.tasks.purge_idempotency_keys``).

Requests without a key behave as before (no replay protection).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.messages.storage.base import BaseStorage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, OperationalError, transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status as http_status
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from .models import IdempotencyKey

FIELD = "idempotency_key"
HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces
TTL = timedelta(hours=24)
WAIT_SECONDS = 30.0
POLL_SECONDS = 0.05
MAX_BODY_CHARS = 512 * 1024
# Set on the request by {% idempotency_field %} when it shows a form again with the key just
# posted: that response, whatever its status (htmx error fragments are often 200), is a failed
# submission, and the key stays free for the corrected form.
KEPT_ATTR = "idempotency_key_kept"
# Not part of what the user sent: left out of the fingerprint.
IGNORED_FIELDS = frozenset({FIELD, "csrfmiddlewaretoken"})
# Response headers a replay gives back (redirects, htmx instructions).
REPLAYED_HEADERS = (
    "Location",
    "Content-Type",
    "HX-Redirect",
    "HX-Location",
    "HX-Refresh",
    "HX-Trigger",
    "HX-Retarget",
    "HX-Reswap",
)

IDEMPOTENCY_HEADER = OpenApiParameter(
    name=HEADER,
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Clé unique choisie par le client (par exemple un UUID, 255 caractères ASCII "
        "imprimables au plus). Une requête répétée avec la même clé ne crée rien : elle "
        "renvoie le premier résultat, avec l'en-tête « Idempotent-Replayed: true ». La même "
        "clé avec un autre contenu est refusée (422) ; pendant que la première requête est en "
        "cours, une requête identique attend sa fin, puis reçoit 409 au-delà de 30 s. Une "
        "requête refusée (4xx) ne consomme pas la clé. Clés conservées 24 heures."
    ),
)


@dataclass
class IdempotencyError(Exception):
    """A request refused by the key logic (bad key, key reused, duplicate still running)."""

    status: int
    code: str
    message: str


def new_key() -> str:
    return str(uuid.uuid4())


def valid_key(value: str | None) -> bool:
    if not value:
        return False
    return KEY_PATTERN.fullmatch(value) is not None


def check_key(value: str) -> str:
    if not valid_key(value):
        raise IdempotencyError(
            http_status.HTTP_400_BAD_REQUEST,
            "idempotency_key_invalid",
            _(
                "Clé d'idempotence invalide : 1 à 255 caractères ASCII imprimables, sans "
                "espace (par exemple un UUID)."
            ),
        )
    return value


def fingerprint(path: str, data: Any, files: Any = None) -> str:
    """Digest of what was sent: the path, the fields (in order of name) and the files' bytes."""
    digest = hashlib.sha256(path.encode())
    if hasattr(data, "lists"):  # QueryDict (forms, multipart)
        items = sorted(
            (name, values) for name, values in data.lists() if name not in IGNORED_FIELDS
        )
        for name, values in items:
            digest.update(b"\0f" + name.encode())
            for value in values:
                digest.update(b"\0v" + _value_digest(value))
    else:  # JSON body
        body = dict(data) if isinstance(data, dict) else data
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k not in IGNORED_FIELDS}
        digest.update(b"\0j" + json.dumps(body, sort_keys=True, cls=DjangoJSONEncoder).encode())
    if files is not None:
        for name, uploads in sorted(files.lists()):
            digest.update(b"\0u" + name.encode())
            for upload in uploads:
                digest.update(b"\0v" + _value_digest(upload))
    return digest.hexdigest()


def _value_digest(value: Any) -> bytes:
    if hasattr(value, "chunks"):  # an uploaded file: its name and bytes
        file_digest = hashlib.sha256(str(getattr(value, "name", "")).encode() + b"\0")
        for chunk in value.chunks():
            file_digest.update(chunk)
        value.seek(0)
        return file_digest.digest()
    return str(value).encode()


def _expired(record: IdempotencyKey) -> bool:
    return record.created_at < timezone.now() - TTL


_BUSY = object()


def _lock(record: IdempotencyKey):
    """The row locked for this transaction, None if deleted, _BUSY if another request holds it.

    Needs an open transaction (the caller's ``atomic``)."""
    try:
        with transaction.atomic():
            return (
                IdempotencyKey.objects.select_for_update(nowait=True).filter(pk=record.pk).first()
            )
    except OperationalError:
        return _BUSY


def _finished(record: IdempotencyKey, fp: str) -> IdempotencyKey:
    if record.fingerprint != fp:
        raise IdempotencyError(
            http_status.HTTP_422_UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            _(
                "Cette clé d'idempotence a déjà servi pour une autre requête : rien n'a été "
                "enregistré. Rechargez le formulaire (ou utilisez une nouvelle clé) pour "
                "envoyer une nouvelle demande."
            ),
        )
    return record


def run_once(
    user,
    scope: str,
    key: str,
    fp: str,
    *,
    call: Callable[[], Any],
    store: Callable[[Any], dict | None],
    replay: Callable[[dict], Any],
):
    """Run ``call`` once for (user, scope, key); replay its stored result to any duplicate.

    ``store(response)`` gives the JSON-able result to keep, or None for a failure (the key is
    then released). Runs ``call`` inside the transaction that inserts the key's row (or holds
    the lock of a row left unfinished): a parallel duplicate waits for it. Raises
    IdempotencyError for a reused key or a duplicate still running after ``WAIT_SECONDS``.
    """
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        ran = _run_new(user, scope, key, fp, call, store)
        if ran is not _TAKEN:
            return ran
        record = IdempotencyKey.objects.filter(user=user, scope=scope, key=key).first()
        if record is None:
            continue  # released by a failed first attempt between our INSERT and SELECT
        if record.status == IdempotencyKey.Status.DONE and not _expired(record):
            return replay(_finished(record, fp).response)
        with transaction.atomic():
            locked = _lock(record)
            if locked is not None and locked is not _BUSY:
                if locked.status == IdempotencyKey.Status.DONE and not _expired(locked):
                    done = _finished(locked, fp)
                else:
                    # Ours: left by a crashed request, or expired. Run the view.
                    locked.fingerprint = fp
                    locked.status = IdempotencyKey.Status.IN_PROGRESS
                    locked.created_at = timezone.now()
                    locked.response = {}
                    return _run(locked, call, store)
        if locked is None:
            continue
        if locked is not _BUSY:
            return replay(done.response)
        if time.monotonic() >= deadline:
            raise IdempotencyError(
                http_status.HTTP_409_CONFLICT,
                "idempotency_key_in_progress",
                _(
                    "Une requête identique est encore en cours de traitement : patientez "
                    "quelques instants puis rechargez la page."
                ),
            )
        time.sleep(POLL_SECONDS)


_TAKEN = object()


class _KeyTaken(Exception):
    """The key's row exists (or was just committed by a parallel duplicate)."""


def _run_new(user, scope: str, key: str, fp: str, call, store):
    """A new key: its row inserted and the view run in one transaction; ``_TAKEN`` (nothing
    done) when the row exists. A parallel duplicate's INSERT waits here until the first
    request's transaction ends."""
    try:
        with transaction.atomic():
            try:
                record = IdempotencyKey.objects.create(
                    user=user, scope=scope, key=key, fingerprint=fp
                )
            except IntegrityError:
                raise _KeyTaken from None
            return _run(record, call, store)
    except _KeyTaken:
        return _TAKEN


def _run(record: IdempotencyKey, call, store):
    """Run the view in the caller's transaction and keep its result on the key's row (or
    free the key after a failure)."""
    response = call()
    result = store(response)
    if result is None:
        record.delete()
    else:
        record.status = IdempotencyKey.Status.DONE
        record.response = result
        record.save()
    return response


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


# --- Django views (forms, htmx) -------------------------------------------------------------


def _current_messages(request) -> list:
    """The flash messages pending on this request, read without marking them as shown."""
    storage = messages.get_messages(request)
    used = getattr(storage, "used", None)
    current = list(storage)
    if used is not None and isinstance(storage, BaseStorage):
        storage.used = used  # only read here: whoever shows them marks them
    return current


def _store_http(request, response: HttpResponse, added: list) -> dict | None:
    if response.status_code >= 400 or response.streaming or getattr(request, KEPT_ATTR, False):
        return None
    body = response.content.decode(response.charset or "utf-8", errors="replace")
    if len(body) > MAX_BODY_CHARS:
        return None
    return {
        "status": response.status_code,
        "headers": {name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)},
        "body": body,
        "messages": [[m.level, str(m.message), m.extra_tags] for m in added],
    }


def _replay_http(request, data: dict) -> HttpResponse:
    pending = {(m.level, str(m.message)) for m in _current_messages(request)}
    for level, text, tags in data.get("messages", []):
        if (level, text) not in pending:  # the first response may have delivered it already
            messages.add_message(request, level, text, extra_tags=tags, fail_silently=True)
    headers = dict(data.get("headers", {}))
    response: HttpResponse
    if 300 <= data["status"] < 400 and "Location" in headers:
        response = HttpResponseRedirect(headers.pop("Location"), data.get("body", ""))
        response.status_code = data["status"]
    else:
        response = HttpResponse(data.get("body", ""), status=data["status"])
    for name, value in headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def error_page(request, error: IdempotencyError) -> HttpResponse:
    """The refusal, as a page (or its alert alone for htmx)."""
    template = (
        "partials/_idempotency_error.html"
        if getattr(request, "htmx", False)
        else "partials/idempotency_error.html"
    )
    return render(request, template, {"idempotency_error": error}, status=error.status)


def idempotent(view):
    """Decorator of a Django view that creates something: a POST with a key acts once.

    Put it under the permission decorators (it needs ``request.user``). The view runs in a
    transaction holding the key's lock (see ``run_once``): it must not publish anything
    before commit other than through ``transaction.on_commit``.
    """
    scope = f"{view.__module__}.{view.__qualname__}"

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method != "POST" or not request.user.is_authenticated:
            return view(request, *args, **kwargs)
        key = request.POST.get(FIELD) or request.headers.get(HEADER)
        if not key:
            return view(request, *args, **kwargs)
        added: list = []

        def call():
            before = len(_current_messages(request))
            response = view(request, *args, **kwargs)
            added.extend(_current_messages(request)[before:])
            return response

        try:
            check_key(key)
            fp = fingerprint(request.path, request.POST, request.FILES)
            return run_once(
                request.user,
                scope,
                key,
                fp,
                call=call,
                store=lambda response: _store_http(request, response, added),
                replay=lambda data: _replay_http(request, data),
            )
        except IdempotencyError as error:
            return error_page(request, error)

    return wrapper


# --- DRF (API) --------------------------------------------------------------------------------


class IdempotencyRefused(APIException):
    status_code: int = http_status.HTTP_409_CONFLICT
    default_code = "idempotency"


def api_error(error: IdempotencyError) -> APIException:
    """The one place where a key refusal becomes an API error (rendered by the handler)."""
    exc = IdempotencyRefused(detail=error.message, code=error.code)
    exc.status_code = error.status
    return exc


def _store_api(response) -> dict | None:
    if response.status_code >= 400 or not isinstance(response, Response):
        return None
    headers = {name: response[name] for name in ("Location",) if response.has_header(name)}
    return {"status": response.status_code, "data": _json(response.data), "headers": headers}


def _replay_api(data: dict) -> Response:
    headers = {**data.get("headers", {}), REPLAYED_HEADER: "true"}
    return Response(data.get("data"), status=data["status"], headers=headers)


def _key_owner(user):
    """Whose keys: the person, or an API client's technical account (its token authenticates
    as a ``ServicePrincipal``, not a ``User``)."""
    from .permissions import ServicePrincipal

    return user.account if isinstance(user, ServicePrincipal) else user


def idempotent_api(method):
    """Decorator of a DRF view method that creates something: honours ``Idempotency-Key``.

    Document the header on the endpoint with ``parameters=[IDEMPOTENCY_HEADER]``.
    """
    scope = f"{method.__module__}.{method.__qualname__}"

    @functools.wraps(method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None or not request.user.is_authenticated:
            return method(self, request, *args, **kwargs)
        try:
            check_key(key)
            fp = fingerprint(request.path, request.data)
            return run_once(
                _key_owner(request.user),
                scope,
                key,
                fp,
                call=lambda: method(self, request, *args, **kwargs),
                store=_store_api,
                replay=_replay_api,
            )
        except IdempotencyError as error:
            raise api_error(error) from None

    return wrapper


# --- housekeeping ---------------------------------------------------------------------------


def purge_expired(now=None) -> int:
    """Delete the keys older than ``TTL`` (they no longer count). Returns how many."""
    limit = (now or timezone.now()) - TTL
    deleted, _by_model = IdempotencyKey.objects.filter(created_at__lt=limit).delete()
    return deleted
