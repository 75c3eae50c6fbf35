"""Reminders of booked callbacks: the day before and one hour before the slot, through the
outbox (``callback_reminder`` alert: service, date and time of the slot, never the request).

Celery beat runs ``messaging.tasks.send_callback_reminders`` every 5 minutes. A reminder is due
once the slot starts within its lead time (24 h, 1 h); the outbox's idempotency key (case, slot,
which reminder) makes each one go out once, whatever the number of sweeps. A callback booked
less than a day ahead gets no "day before" reminder, and when the day-before one is only due
within the last hour, the hour-before one replaces it. Cancelled or done callbacks get none.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from routing.models import CallbackRequest

from . import notifications

REMINDERS = (("day", timedelta(days=1)), ("hour", timedelta(hours=1)))


def due_callback_reminders(now: datetime) -> list[tuple[int, int, datetime, str]]:
    """(case id, citizen id, slot start, "day" or "hour") of the reminders due at ``now``."""
    hour = dict(REMINDERS)["hour"]
    rows = CallbackRequest.objects.filter(
        status=CallbackRequest.Status.SCHEDULED,
        slot_start__gt=now,
        slot_start__lte=now + REMINDERS[0][1],
    ).values_list("case_id", "case__citizen_id", "slot_start", "created_at")
    due = []
    for case_id, citizen_id, slot_start, created_at in rows:
        for label, lead in REMINDERS:
            if slot_start - lead < created_at:
                continue  # booked after the time of this reminder
            if slot_start - now > lead:
                continue  # not yet
            if label == "day" and slot_start - now <= hour:
                continue  # the hour-before reminder is the one now
            due.append((case_id, citizen_id, slot_start, label))
    return due


def send_callback_reminders(now: datetime | None = None) -> int:
    """Queue the due reminders (once each: the key names the slot and the reminder) and their
    sending after commit. Returns the count of outbox rows written."""
    from .tasks import send_notification

    now = now or timezone.now()
    count = 0
    for case_id, citizen_id, slot_start, label in due_callback_reminders(now):
        key = f"callback-reminder:{case_id}:{slot_start.timestamp():.0f}:{label}"
        with transaction.atomic():
            rows = notifications.queue_for_citizen(
                citizen_id, case_id, "callback_reminder", key=key
            )
            for row in rows:
                send_notification.delay_on_commit(row.pk)
        count += len(rows)
    return count
