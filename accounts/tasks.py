"""Celery tasks of the accounts app."""

from __future__ import annotations

from celery import shared_task

from contactcenter.celery import Task

from . import services, webhooks


@shared_task(ignore_result=True)
def purge_unverified_accounts() -> int:
    """Nightly beat entry: delete the sign-ups never verified (safe to run twice); returns how
    many went."""
    return len(services.purge_unverified())


def _deliver(delivery_id: int) -> str:
    outcome = webhooks.deliver(delivery_id)
    if outcome.status == "retry" and outcome.retry_in:
        # The row is due again at next_attempt_at; this only speeds things up (if it is lost,
        # flush_webhooks picks the row up).
        deliver_webhook.apply_async((delivery_id,), countdown=outcome.retry_in)
    return outcome.status


# base=Task: the app's task class already (task_cls), named so the type checker sees
# delay_on_commit. acks_late: a worker killed mid-delivery leaves the message to another one
# (the row's claim decides who sends; the beat sweep releases a dead worker's claim).
@shared_task(base=Task, name="accounts.tasks.deliver_webhook", acks_late=True, ignore_result=True)
def deliver_webhook(delivery_id: int) -> str:
    """Send one webhook outbox row. Idempotent: a second run (or a concurrent one) sends
    nothing; a retry is sent with the same webhook id."""
    return _deliver(delivery_id)


@shared_task(base=Task, name="accounts.tasks.deliver_webhooks", acks_late=True, ignore_result=True)
def deliver_webhooks(delivery_ids: list[int]) -> list[str]:
    """Send the outbox rows of one event (one per subscribed endpoint) in one task: one
    message and one database connection for all of them. Each row is claimed, sent and
    retried on its own, as by ``deliver_webhook``."""
    return [_deliver(delivery_id) for delivery_id in delivery_ids]


@shared_task(name="accounts.tasks.flush_webhooks", ignore_result=True)
def flush_webhooks() -> int:
    """Beat sweep: release claims of dead workers, queue every due row, purge old rows.
    Returns the count queued."""
    webhooks.release_stale_claims()
    ids = webhooks.due_ids()
    for delivery_id in ids:
        deliver_webhook.delay(delivery_id)
    webhooks.purge_old()
    return len(ids)
