"""What the outboxes share (messaging's citizen notifications, the accounts app's webhooks):
rows with a ``status`` (``pending`` -> ``sending`` -> a final state), ``next_attempt_at``,
``claimed_at`` and ``attempts``. A worker sends a row only after claiming it with a checked
conditional update; a beat sweep makes rows left "sending" by a dead worker due again and
queues the due ones. Each function takes the outbox's rows (``Model.objects.all()``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, QuerySet
from django.utils import timezone

PENDING, SENDING = "pending", "sending"


def claim(rows: QuerySet[Any], pk: int, now: datetime) -> bool:
    """Take a due row for sending (one more attempt). False: sent, being sent by another
    worker, or not due yet."""
    claimed = rows.filter(pk=pk, status=PENDING, next_attempt_at__lte=now).update(
        status=SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    return claimed == 1


def release_stale_claims(rows: QuerySet[Any], lease: timedelta, now: datetime | None = None) -> int:
    """Rows left "sending" past the lease belonged to a worker that died: due again."""
    now = now or timezone.now()
    return rows.filter(status=SENDING, claimed_at__lt=now - lease).update(
        status=PENDING, next_attempt_at=now, claimed_at=None
    )


def due_ids(rows: QuerySet[Any], now: datetime | None = None, limit: int = 500) -> list[int]:
    now = now or timezone.now()
    return list(
        rows.filter(status=PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
