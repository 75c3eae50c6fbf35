"""Reactions to core signals (connected in MessagingConfig.ready)."""

from __future__ import annotations

from django.db import transaction


def on_citizen_notification(sender, citizen_id, case_id, kind, key="", params=None, **kwargs):
    """Write the outbox rows, then queue their sending once they are committed.

    ``notify_citizen`` sends this signal after the triggering transaction committed.
    """
    from . import notifications
    from .tasks import send_notification

    with transaction.atomic():
        rows = notifications.queue_for_citizen(citizen_id, case_id, kind, key=key, params=params)
        for row in rows:
            send_notification.delay_on_commit(row.pk)
    return [row.pk for row in rows]


def on_citizen_code_sms(sender, citizen_id, text, key, **kwargs):
    """Write the SMS of a one-time code to the outbox and queue its sending."""
    from . import notifications
    from .tasks import send_notification

    with transaction.atomic():
        row = notifications.queue_code_sms(citizen_id, text, key)
        if row is not None:
            send_notification.delay_on_commit(row.pk)
    return row.pk if row is not None else None


def on_demo_loaded(sender, people=None, **kwargs):
    from .demo import load_demo_attachments

    load_demo_attachments()
