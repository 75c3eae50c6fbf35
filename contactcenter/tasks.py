"""Celery tasks of the core: purge of idempotency keys (the dashboard's daily indicators are
the console's, ``console.tasks``)."""

from __future__ import annotations

from celery import shared_task

from . import idempotency


@shared_task(ignore_result=True)
def purge_idempotency_keys() -> int:
    """Beat entry: delete idempotency keys past their lifetime (safe to run twice)."""
    return idempotency.purge_expired()
