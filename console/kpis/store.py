"""What is written for the dashboard: the rows of past days (Celery beat) and citizen logins."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from contactcenter.models import Case, DailyKpi, DailyKpiRun, Event, LoginEvent

from .compute import compute_rows
from .definitions import KpiRange, day_bounds, day_start, local_today

CLAIM_DURATION = timedelta(minutes=15)


def store_day(day: date, *, force: bool = False) -> int | None:
    """Compute and store the figures of one past day. Idempotent; returns the rows written.

    Claims the day with a conditional update on ``DailyKpiRun`` (two workers never compute the
    same day at once: the second returns None), then replaces the day's rows in one transaction,
    so readers see either the old rows or the new ones. Refuses today and future days (their
    figures are still moving). Without ``force``, a day already computed after it ended plus the
    grace delay is left alone.
    """
    if day >= local_today():
        raise ValueError("only past days are stored")
    now = timezone.now()
    run, _created = DailyKpiRun.objects.get_or_create(day=day)
    if not force and run.computed_at and run.computed_at >= final_after(day):
        return None
    claimed = (
        DailyKpiRun.objects.filter(day=day)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + CLAIM_DURATION)
    )
    if claimed != 1:
        return None  # another worker is on it
    try:
        start, end = day_bounds(day)
        rows = compute_rows(start, end)
        with transaction.atomic():
            DailyKpi.objects.filter(day=day).delete()
            DailyKpi.objects.bulk_create(
                [
                    DailyKpi(
                        day=day,
                        service_id=row.service_id,
                        topic_id=row.topic_id,
                        channel=row.channel,
                        metric=row.metric,
                        value=row.value,
                        data=row.data or {},
                    )
                    for row in rows
                ],
                batch_size=1000,
            )
            DailyKpiRun.objects.filter(day=day).update(
                computed_at=timezone.now(), claimed_until=None, rows=len(rows)
            )
    except BaseException:
        DailyKpiRun.objects.filter(day=day).update(claimed_until=None)
        raise
    return len(rows)


def final_after(day: date) -> datetime:
    """When a day's figures are considered final (late writes: reopenings, late ratings)."""
    return day_start(day + timedelta(days=1)) + timedelta(
        hours=settings.GUICHET_KPI_FINAL_AFTER_HOURS
    )


FIRST_DAY_CACHE_KEY = "kpis:first-data-day"


def first_data_day() -> date | None:
    """The first day with anything to count (days before it have no figures at all).

    Cached for an hour once known: it only moves when old data is imported, and the next
    catch-up then picks the new days up.
    """
    cached = cache.get(FIRST_DAY_CACHE_KEY)
    if cached:
        return date.fromisoformat(cached)
    firsts = [
        model.objects.order_by("created_at").values_list("created_at", flat=True).first()
        for model in (Case, Event, LoginEvent)
    ]
    found = [value for value in firsts if value is not None]
    if not found:
        return None
    first = timezone.localdate(min(found))
    cache.set(FIRST_DAY_CACHE_KEY, first.isoformat(), 3600)
    return first


def days_to_compute(today: date | None = None) -> list[date]:
    """Past days (within the backfill window) not computed yet, or computed before final."""
    today = today or local_today()
    first = first_data_day()
    if first is None:
        return []
    start = max(first, today - timedelta(days=settings.GUICHET_KPI_BACKFILL_DAYS))
    days = [start + timedelta(days=i) for i in range((today - start).days)]
    final = {
        run.day
        for run in DailyKpiRun.objects.filter(
            day__gte=start, day__lt=today, computed_at__isnull=False
        )
        if run.computed_at is not None and run.computed_at >= final_after(run.day)
    }
    return [day for day in days if day not in final]


def missing_days(kpi_range: KpiRange) -> list[date]:
    """Past days of the range without stored figures (the dashboard computes them live)."""
    today = local_today()
    first = first_data_day()
    if first is None:
        return []
    past = [day for day in kpi_range.days if first <= day < today]
    if not past:
        return []
    computed = set(
        DailyKpiRun.objects.filter(
            day__gte=past[0], day__lte=past[-1], computed_at__isnull=False
        ).values_list("day", flat=True)
    )
    return [day for day in past if day not in computed]


@receiver(user_logged_in, dispatch_uid="console.kpis.record_login")
def record_login(sender, request, user, **kwargs) -> None:
    """Count a login (role and time only) for the "messages per 100 logins" indicator."""
    LoginEvent.objects.create(role=getattr(user, "role", "") or "", created_at=timezone.now())
