"""Celery tasks of the core: purge of idempotency keys and of personal data past its retention
period (the dashboard's daily indicators are the console's, ``console.tasks``)."""

from __future__ import annotations

from celery import shared_task

from . import idempotency, retention


@shared_task(ignore_result=True)
def purge_idempotency_keys() -> int:
    """Beat entry: delete idempotency keys past their lifetime (safe to run twice)."""
    return idempotency.purge_expired()


@shared_task(ignore_result=True, acks_late=True)
def purge_expired_data() -> dict[str, int]:
    """Beat entry (nightly): delete or anonymise what is past its retention period, kind by
    kind, in committed batches (contactcenter/retention.py). Safe to run twice or to resume
    after a crash."""
    return {outcome.kind.name: outcome.count for outcome in retention.purge_expired()}
