"""Celery tasks of the messaging app (thin: ids in, services do the work)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from contactcenter.celery import Task

from . import notifications
from .models import Attachment

DRAFT_ATTACHMENT_TTL = timedelta(days=1)


# base=Task: the app's task class already (task_cls), named so the type checker sees
# delay_on_commit.
@shared_task(
    base=Task, name="messaging.tasks.send_notification", acks_late=True, ignore_result=True
)
def send_notification(outbox_id: int) -> str:
    """Send one outbox row. Idempotent: a second run (or a concurrent one) sends nothing."""
    outcome = notifications.deliver(outbox_id)
    if outcome.status == "retry" and outcome.retry_in:
        # The row is due again at next_attempt_at; this call only speeds things up (if it is lost,
        # flush_outbox picks the row up).
        send_notification.apply_async((outbox_id,), countdown=outcome.retry_in)
    return outcome.status


@shared_task(
    base=Task, name="messaging.tasks.send_notifications", acks_late=True, ignore_result=True
)
def send_notifications(outbox_ids: list[int]) -> list[str]:
    """Send several outbox rows (the alerts of one batch) in one task: one message and one
    database connection for all of them, each row claimed and retried as by
    ``send_notification``."""
    return [send_notification(outbox_id) for outbox_id in outbox_ids]


@shared_task(name="messaging.tasks.flush_outbox", ignore_result=True)
def flush_outbox() -> int:
    """Beat sweep: release claims of dead workers, queue every due row. Returns the count queued."""
    notifications.release_stale_claims()
    ids = notifications.due_ids()
    for outbox_id in ids:
        send_notification.delay(outbox_id)
    purge_draft_attachments()
    return len(ids)


def purge_draft_attachments() -> int:
    """Delete API uploads never sent with a message (older than a day), files included."""
    cutoff = timezone.now() - DRAFT_ATTACHMENT_TTL
    count = 0
    for draft in Attachment.objects.filter(event__isnull=True, created_at__lt=cutoff)[:500]:
        draft.file.delete(save=False)
        draft.delete()
        count += 1
    return count


@shared_task(name="messaging.tasks.send_callback_reminders", ignore_result=True)
def send_callback_reminders() -> int:
    """Beat: the day-before and hour-before reminders of booked callbacks (idempotent)."""
    from .reminders import send_callback_reminders as send

    return send()
