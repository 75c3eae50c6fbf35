"""Celery tasks of the e-mail channel (thin: the work is in mail.imap and mail.services)."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from contactcenter.celery import Task

from .models import Mailbox

logger = logging.getLogger("mail")

LEASE = dt.timedelta(minutes=10)


@shared_task(name="mail.tasks.poll_mailboxes", ignore_result=True)
def poll_mailboxes() -> int:
    """Beat: queue a poll of each enabled mailbox whose interval has elapsed."""
    now = timezone.now()
    queued = 0
    for mailbox in Mailbox.objects.filter(enabled=True):
        due = mailbox.last_polled_at is None or (
            mailbox.last_polled_at + dt.timedelta(seconds=mailbox.poll_interval) <= now
        )
        if due:
            poll_mailbox.delay(mailbox.pk)
            queued += 1
    return queued


@shared_task(name="mail.tasks.poll_mailbox", ignore_result=True)
def poll_mailbox(mailbox_id: int) -> str:
    """Read one mailbox; a lease keeps two workers from reading it at the same time."""
    from .imap import poll

    now = timezone.now()
    claimed = (
        Mailbox.objects.filter(pk=mailbox_id, enabled=True)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + LEASE)
    )
    if not claimed:
        return "busy"
    mailbox = Mailbox.objects.select_related("service", "default_topic").get(pk=mailbox_id)
    error = ""
    try:
        report = poll(mailbox)
        logger.info("mailbox %s: %s fetched %s", mailbox, report.fetched, report.outcomes)
    except Exception as exc:  # noqa: BLE001 - recorded on the mailbox, retried next poll
        logger.exception("polling %s failed", mailbox)
        error = f"{type(exc).__name__}: {exc}"[:2000]
    Mailbox.objects.filter(pk=mailbox_id).update(
        lease_until=None, last_polled_at=timezone.now(), last_error=error
    )
    return "error" if error else "ok"


@shared_task(base=Task, name="mail.tasks.send_mail_message", acks_late=True, ignore_result=True)
def send_mail_message(message_id: int) -> str:
    from .outbound import send_message

    return send_message(message_id)


@shared_task(name="mail.tasks.flush_outbound", ignore_result=True)
def flush_outbound() -> int:
    """Beat: send what was not sent (broker down at commit time, a retry due)."""
    from .outbound import due_outbound

    ids = due_outbound()
    for message_id in ids:
        send_mail_message.delay(message_id)
    return len(ids)
