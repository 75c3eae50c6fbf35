"""Periodic co-browsing work (Celery beat, see contactcenter/celery.py)."""

from celery import shared_task

from . import services


@shared_task(name="cobrowse.tasks.sweep_stale_sessions", ignore_result=True)
def sweep_stale_sessions() -> int:
    """End expired codes and invitations, and sessions whose side left or that idled too long.

    Each session is re-checked under its row lock, so this is safe to run twice or alongside
    the consumers' own watchdogs.
    """
    return services.sweep_stale_sessions()
