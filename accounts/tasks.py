"""Celery tasks of the accounts app."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def purge_unverified_accounts() -> int:
    """Beat entry: delete accounts whose verification link expired unused (safe to run twice)."""
    return services.purge_unverified()
