"""Celery tasks of the console: the supervisor dashboard's daily indicators.

Thin wrappers over ``console.kpis``: they take day strings (ISO dates), reload fresh state and
are safe to run twice (``store_day`` claims a day with a checked conditional update).
"""

from __future__ import annotations

from datetime import date

from celery import shared_task

from contactcenter.celery import Task

from . import kpis


# base=Task: the app's task class already (task_cls), named so the type checker sees
# delay_on_commit.
@shared_task(base=Task, ignore_result=True)
def compute_daily_kpis() -> list[str]:
    """Beat entry: queue the computation of every past day not stored yet (or not final).

    Covers the backfill window (``GUICHET_KPI_BACKFILL_DAYS``) from the first recorded event,
    so a fresh installation or a worker that was down catches up by itself.
    """
    days = kpis.days_to_compute()
    for day in days:
        compute_day_kpis.delay(day.isoformat())
    return [day.isoformat() for day in days]


@shared_task(ignore_result=True)
def compute_day_kpis(day: str, force: bool = False) -> int | None:
    """Compute and store one past day's figures (no-op if another worker holds the day)."""
    return kpis.store_day(date.fromisoformat(day), force=force)


@shared_task(base=Task, ignore_result=True)
def refresh_dashboard_report(
    start: str,
    end: str,
    service_ids: list[int] | None,
    topic_id: int | None,
    channel: str | None,
    user_id: int | None,
    language: str,
) -> None:
    """Compute the next snapshot of a dashboard page (``console.kpis.snapshot``)."""
    from .kpis.snapshot import refresh

    refresh(start, end, service_ids, topic_id, channel, user_id, language)
