"""Retention of personal data (CNIL): every kind of data has a duration, after which the nightly
purge deletes or anonymises it (docs/operations.md, "Retention").

contactcenter names no other app: each app declares its kinds in its own ``retention.py``
module (found by ``autodiscover_modules``) with ``register(Kind(...))``. A kind gives:

- ``candidates(cutoff)``: the rows past their duration **and not purged yet** (an anonymised row
  must leave this queryset, so that a second run finds nothing: the purge is idempotent);
- ``purge(queryset)``: deletes or anonymises those rows (called inside a transaction, one batch
  at a time, each batch committed: a crash loses at most the batch in flight, which the next
  run purges again);
- ``describe(row)``: what the dry run prints for a row, without personal data (a reference, an
  id, a date).

Statistics survive: rows that the dashboard counts (cases, timeline events, chats, calls,
visios, appointments) are anonymised in place (their text, addresses and files go, their
dates, channels, services and statuses stay), never deleted. Durations are in
``settings.GUICHET_RETENTION_DAYS`` (``GUICHET_RETENTION_<KIND>_DAYS``); 0 keeps a kind forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

logger = logging.getLogger("guichet.retention")

DELETE = "delete"
ANONYMISE = "anonymise"


@dataclass(frozen=True)
class Kind:
    name: str  # key of settings.GUICHET_RETENTION_DAYS
    label: str  # what it is, for the dry run and the docs
    action: str  # DELETE or ANONYMISE
    candidates: Callable[[datetime], QuerySet]
    purge: Callable[[QuerySet], object]
    describe: Callable[[Any], str] = field(default=lambda row: f"#{row.pk}")


@dataclass
class Outcome:
    kind: Kind
    days: int
    cutoff: datetime | None
    count: int = 0
    rows: list[str] = field(default_factory=list)


_registry: dict[str, Kind] = {}
_discovered = False


def register(kind: Kind) -> Kind:
    if kind.name not in settings.GUICHET_RETENTION_DAYS:
        raise ImproperlyConfigured(
            f"retention kind {kind.name!r}: add its default to GUICHET_RETENTION_DAYS"
        )
    _registry[kind.name] = kind
    return kind


def kinds() -> list[Kind]:
    global _discovered
    if not _discovered:
        autodiscover_modules("retention")
        _discovered = True
    return [_registry[name] for name in sorted(_registry)]


def duration_days(kind: Kind) -> int:
    return int(settings.GUICHET_RETENTION_DAYS[kind.name])


def purge_expired(
    *,
    dry_run: bool = False,
    only: Iterable[str] | None = None,
    now: datetime | None = None,
    batch: int | None = None,
    list_limit: int = 1000,
) -> list[Outcome]:
    """Purge (or, with ``dry_run``, list) every registered kind past its duration."""
    now = now or timezone.now()
    batch = batch or settings.GUICHET_RETENTION_BATCH
    wanted = set(only) if only else None
    outcomes = []
    for kind in kinds():
        if wanted is not None and kind.name not in wanted:
            continue
        days = duration_days(kind)
        if days <= 0:
            outcomes.append(Outcome(kind, days, None))
            continue
        cutoff = now - timedelta(days=days)
        outcome = Outcome(kind, days, cutoff)
        if dry_run:
            queryset = kind.candidates(cutoff).order_by("pk")
            outcome.count = queryset.count()
            outcome.rows = [kind.describe(row) for row in queryset[:list_limit]]
        else:
            outcome.count = _purge_kind(kind, cutoff, batch)
            if outcome.count:
                logger.info(
                    "retention purge",
                    extra={"kind": kind.name, "action": kind.action, "rows": outcome.count},
                )
        outcomes.append(outcome)
    return outcomes


def _purge_kind(kind: Kind, cutoff: datetime, batch: int) -> int:
    done = 0
    previous: list = []
    while True:
        ids = list(kind.candidates(cutoff).order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            return done
        if ids == previous:  # the purge left them candidates: a bug in the kind, not a loop
            logger.error("retention purge made no progress", extra={"kind": kind.name})
            return done - len(ids)
        previous = ids
        with transaction.atomic():
            # Read again inside the transaction: another run may have purged them meanwhile.
            kind.purge(kind.candidates(cutoff).filter(pk__in=ids))
        done += len(ids)


def delete_files(queryset: QuerySet, field_name: str = "file") -> None:
    """Delete the stored files of ``queryset``'s rows (before the rows: a crash in between
    leaves rows without files, which the next run deletes; never files without rows)."""
    model = queryset.model
    storage = model._meta.get_field(field_name).storage
    for name in queryset.values_list(field_name, flat=True):
        if name:
            storage.delete(name)


def closed_before(cutoff: datetime, prefix: str = "") -> Q:
    """Rows whose case is closed since before ``cutoff`` (``prefix``: the path to the case)."""
    return Q(**{f"{prefix}status": "closed", f"{prefix}closed_at__lt": cutoff})


# --- Core kinds -------------------------------------------------------------------------------

# Payload keys of timeline events that may hold what a person wrote or sent (file names,
# summaries, captions); the rest (ids, counts, durations, codes) stays for the statistics.
TEXT_PAYLOAD_KEYS = ("attachments", "summary", "text", "comment", "transcript", "captions", "phone")


def _case_candidates(cutoff: datetime) -> QuerySet:
    from .models import Case, Event, Satisfaction

    written = Event.objects.filter(case=OuterRef("pk")).exclude(body="")
    commented = Satisfaction.objects.filter(case=OuterRef("pk")).exclude(comment="")
    return Case.objects.filter(closed_before(cutoff)).filter(
        ~Q(subject="") | Exists(written) | Exists(commented)
    )


def _purge_cases(cases: QuerySet) -> None:
    from .models import Event, Satisfaction, Transfer

    events = Event.objects.filter(case__in=cases)
    for event in events.exclude(payload={}).only("pk", "payload"):
        kept = {k: v for k, v in event.payload.items() if k not in TEXT_PAYLOAD_KEYS}
        if kept != event.payload:
            Event.objects.filter(pk=event.pk).update(payload=kept)
    events.exclude(body="").update(body="")
    Satisfaction.objects.filter(case__in=cases).exclude(comment="").update(comment="")
    Transfer.objects.filter(case__in=cases).exclude(reason="").update(reason="")
    cases.update(subject="")


def _audit_candidates(cutoff: datetime) -> QuerySet:
    from .models import AuditLog

    return AuditLog.objects.filter(created_at__lt=cutoff)


register(
    Kind(
        name="case_messages",
        label="Messages des demandes clôturées (objet, textes, avis écrits, motifs de transfert)",
        action=ANONYMISE,
        candidates=_case_candidates,
        purge=_purge_cases,
        describe=lambda case: f"{case.reference} (clôturée le {case.closed_at:%Y-%m-%d})",
    )
)
register(
    Kind(
        name="audit_log",
        label="Journal des consultations de dossiers",
        action=DELETE,
        candidates=_audit_candidates,
        purge=lambda rows: rows.delete(),
        describe=lambda row: f"#{row.pk} {row.action} {row.created_at:%Y-%m-%d}",
    )
)
