"""Batches of pushes: up to ``MAX_OPERATIONS`` step changes and ends of démarches in one
request, for the business systems that feed statuses in bulk (docs/demarches.md, "Lots").

Each operation acts as its single call would (``services.move_to_step``,
``services.close_demarche``): same checks, same history row under the client's technical
account, same webhook events and citizen's alerts, same answers. They are done *validated
first*, in one transaction:

1. the operations' idempotency keys are claimed together (one INSERT of the new ones, then the
   rows locked in key order): a key already done replays its stored answer, a key reused with
   another content is refused (422), as ``contactcenter.idempotency.run_once`` does for one;
2. the démarches named are read and locked in one statement (in id order, so that two batches
   never wait on each other in a circle), with the steps of their types in another;
3. the operations are checked and applied **in memory, in order** (a démarche named twice
   moves twice): an operation refused (unknown démarche or step, ended démarche, note too
   long) changes nothing and the next ones go on;
4. the changes are written with bulk statements: one UPDATE of the démarches, one INSERT of the
   history, one of the webhook outbox rows (one task after commit for all), one of the alerts'
   outbox rows (one task), one UPDATE of the keys with their answers (the refused operations'
   keys are released, as a refused single call's is).

A bad operation never loses the good ones and never half-writes: nothing of an operation is
written before all of it has been checked. The keys of batch operations are their own: a key
of a single call and one of a batch do not replay each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import webhooks
from accounts.models import ApiClient
from contactcenter.exceptions import DomainError, InvalidState, NotFound
from contactcenter.idempotency import TTL, IdempotencyError
from contactcenter.models import IdempotencyKey

from . import services
from .models import Demarche, DemarcheStep, DemarcheTypeStep

MAX_OPERATIONS = 100
KEY_SCOPE = "demarches.batch"
STEP, CLOSE = "step", "close"


@dataclass
class Operation:
    """One operation of a batch, its fields already checked for shape (``fingerprint``: the
    digest of what it asks, for its key)."""

    index: int
    op: str
    key: str
    type_code: str
    reference: str
    step: str
    note: str
    fingerprint: str
    # The outcome: an HTTP status and the answer (the démarche, or an error body).
    status: int = 0
    body: dict[str, Any] | None = None
    replayed: bool = False
    record: IdempotencyKey | None = field(default=None, repr=False)


# What the caller renders: the démarche after an operation (with the history entry it wrote,
# if any), and an operation's error as (status, error body).
Render = Callable[[Demarche, DemarcheStep | None], dict[str, Any]]
RenderError = Callable[[Exception], tuple[int, dict[str, Any]]]


@dataclass
class _Change:
    """An operation applied in memory, written at the end."""

    operation: Operation
    demarche: Demarche
    entry: DemarcheStep
    previous: DemarcheTypeStep
    state: dict[str, Any]


def run(
    client: ApiClient, operations: list[Operation], render: Render, render_error: RenderError
) -> list[Operation]:
    """Do the operations not already answered (``status`` 0), in one transaction; each ends
    with its ``status`` and ``body``. Takes row locks (keys, then démarches)."""
    todo = [operation for operation in operations if not operation.status]
    if not todo:
        return operations
    with transaction.atomic():
        _claim_keys(client, todo, render_error)
        todo = [operation for operation in todo if not operation.status]
        changes = _apply(client, todo, render, render_error)
        _write(client, changes)
        _store_keys(todo)
    return operations


def _claim_keys(client: ApiClient, operations: list[Operation], render_error: RenderError):
    """Claim the operations' keys: new ones inserted as in progress (a parallel batch's INSERT
    of the same key waits for this transaction), then every row locked in key order. Sets the
    answer of the replayed and refused operations."""
    owner, now, mark = client.account, timezone.now(), {"batch": uuid.uuid4().hex}
    IdempotencyKey.objects.bulk_create(
        [
            IdempotencyKey(
                user=owner,
                scope=KEY_SCOPE,
                key=operation.key,
                fingerprint=operation.fingerprint,
                response=mark,
                created_at=now,
            )
            for operation in sorted(operations, key=lambda operation: operation.key)
        ],
        ignore_conflicts=True,
    )
    records = {
        record.key: record
        for record in IdempotencyKey.objects.select_for_update()
        .filter(user=owner, scope=KEY_SCOPE, key__in=[operation.key for operation in operations])
        .order_by("key")
    }
    for operation in operations:
        record = records.get(operation.key)
        if record is None:  # purged between the INSERT and the SELECT: ask for a retry
            operation.status, operation.body = render_error(
                IdempotencyError(
                    409,
                    "idempotency_key_in_progress",
                    _("Cette opération était en cours ailleurs : renvoyez-la."),
                )
            )
        elif record.response == mark:
            operation.record = record  # ours, new
        elif record.status == IdempotencyKey.Status.DONE and record.created_at >= now - TTL:
            if record.fingerprint != operation.fingerprint:
                operation.status, operation.body = render_error(
                    IdempotencyError(
                        422,
                        "idempotency_key_reused",
                        _(
                            "Cette clé d'idempotence a déjà servi pour une autre opération : "
                            "rien n'a été enregistré pour celle-ci."
                        ),
                    )
                )
            else:
                operation.status = record.response["status"]
                operation.body = record.response["data"]
                operation.replayed = True
        else:  # left in progress by a crashed request, or expired: ours now (locked)
            record.fingerprint, record.created_at = operation.fingerprint, now
            operation.record = record


def _apply(
    client: ApiClient, operations: list[Operation], render: Render, render_error: RenderError
) -> list[_Change]:
    """Check and apply each operation in memory, in order."""
    if not operations:
        return []
    names = {(operation.type_code, operation.reference) for operation in operations}
    found = (
        Demarche.objects.select_for_update(of=("self",))
        .select_related("type__service", "current_step")
        .filter(
            reduce(or_, (Q(type__code=code, external_reference=ref) for code, ref in names)),
            client=client,
        )
        .order_by("pk")
    )
    demarches = {(d.type.code, d.external_reference): d for d in found}
    steps: dict[int, list[DemarcheTypeStep]] = {}
    for step in DemarcheTypeStep.objects.filter(
        type__in={d.type_id for d in demarches.values()}
    ).order_by("type", "position", "id"):
        steps.setdefault(step.type_id, []).append(step)
    changes = []
    for operation in operations:
        demarche = demarches.get((operation.type_code, operation.reference))
        try:
            change = _check(client, operation, demarche, steps)
        except (DomainError, ValidationError) as exc:
            operation.status, operation.body = render_error(exc)
            continue
        assert demarche is not None  # _check refuses a missing one
        operation.status = 200
        operation.body = render(demarche, change.entry if change else None)
        if change is not None:
            change.state = services.demarche_data(change.demarche)
            changes.append(change)
    return changes


def _check(
    client: ApiClient,
    operation: Operation,
    demarche: Demarche | None,
    steps: dict[int, list[DemarcheTypeStep]],
) -> _Change | None:
    """Check one operation against the démarche as the earlier ones left it, then apply it in
    memory (None: nothing to change). Raises the single call's refusal."""
    if demarche is None:
        raise NotFound(_("Démarche introuvable."))
    note = services.check_note(operation.note)
    target = demarche.current_step
    if operation.step:
        of_type = steps.get(demarche.type_id, [])
        named = [step for step in of_type if step.code == operation.step]
        if not named:
            raise services.unknown_step(demarche.type.code, operation.step, of_type)
        target = named[0]
    closing = operation.op == CLOSE
    if demarche.is_closed:
        raise InvalidState(
            _("Cette démarche est déjà terminée.") if closing else _("Cette démarche est terminée.")
        )
    if not closing and target.pk == demarche.current_step_id:
        return None  # already there: nothing written, as for a single push
    previous, now = demarche.current_step, timezone.now()
    services.apply_step(demarche, target, now, closing=closing)
    entry = DemarcheStep(
        demarche=demarche,
        kind=DemarcheStep.Kind.CLOSED if closing else DemarcheStep.Kind.STEP,
        step=target,
        actor=client.account,
        note=note,
        created_at=now,
    )
    return _Change(operation, demarche, entry, previous, {})


def _write(client: ApiClient, changes: list[_Change]) -> None:
    """The changes applied in memory, in bulk: the démarches, their history, the webhooks'
    and the alerts' outbox rows."""
    if not changes:
        return
    moved = list({change.demarche.pk: change.demarche for change in changes}.values())
    Demarche.objects.bulk_update(
        moved,
        ["current_step", "updated_at", "closed_at", "step_reached_at", "action_reminders_sent"],
    )
    DemarcheStep.objects.bulk_create([change.entry for change in changes])
    webhooks.enqueue_events(
        [
            services.webhook_event(change.demarche, change.entry, change.previous, change.state)
            for change in changes
        ]
    )
    services.notify([services.notice(change.demarche, change.entry) for change in changes])


def _store_keys(operations: list[Operation]) -> None:
    """Keep each done operation's answer on its key; release the refused operations' keys."""
    done, refused = [], []
    for operation in operations:
        record = operation.record
        if record is None:
            continue
        if operation.status < 400:
            record.status = IdempotencyKey.Status.DONE
            record.response = {"status": operation.status, "data": operation.body}
            done.append(record)
        else:
            refused.append(record.pk)
    if done:
        IdempotencyKey.objects.bulk_update(
            done, ["status", "response", "fingerprint", "created_at"]
        )
    if refused:
        IdempotencyKey.objects.filter(pk__in=refused).delete()
