"""The dashboard's report, shared for a short time: a snapshot in Django's cache.

A report sums the stored days, computes today's figures and calls every provider: tens of
aggregate queries. Supervisors reload the page (or leave it open) much more often than the
figures change in a meaningful way, so the whole report of one range, one scope, one viewer
and one language is kept in the cache (``report_snapshot``):

- younger than ``GUICHET_KPI_LIVE_CACHE_SECONDS`` (60 s by default): served as is;
- older: still served, and a Celery task (``console.tasks.refresh_dashboard_report``) computes
  the next one; one refresh at a time per key (``cache.add`` lock), so the page never waits for
  the computation once a snapshot exists;
- older than ``GUICHET_KPI_SNAPSHOT_MAX_AGE`` (a worker down), or absent: computed in the
  request, as without cache.

The page says how old its figures are (``computed_at``). The live items (waiting contacts,
agents' presence) are not part of the snapshot: the page loads them apart (``dashboard:live``,
polled by htmx). ``GUICHET_KPI_LIVE_CACHE_SECONDS = 0`` turns the snapshot off.

Invalidation: by age only. Nothing but time makes a snapshot wrong; the stored days it sums
are final (``store_day``), and today's figures are at most the given age behind.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone, translation

from contactcenter.models import User

from .definitions import KpiRange, Scope
from .report import Report, build_report
from .store import missing_days

KEY_PREFIX = "kpis:report:"


@dataclass
class Snapshot:
    report: Report
    computed_at: datetime

    @property
    def age_seconds(self) -> int:
        return max(0, round((timezone.now() - self.computed_at).total_seconds()))


def snapshot_key(kpi_range: KpiRange, scope: Scope, user_id: int | None, language: str) -> str:
    services = ",".join(map(str, scope.service_ids)) if scope.service_ids is not None else "*"
    parts = [
        kpi_range.start.isoformat(),
        kpi_range.end.isoformat(),
        services,
        str(scope.topic_id or "*"),
        scope.channel or "*",
        str(user_id or "-"),  # providers show what the viewer may see (knowledge base)
        language,
    ]
    digest = hashlib.sha256(":".join(parts).encode()).hexdigest()[:32]
    return KEY_PREFIX + digest


def catch_up(kpi_range: KpiRange) -> None:
    """Past days without stored figures: ask the workers for them (at most every 10 minutes)."""
    if missing_days(kpi_range) and cache.add("dashboard:catch-up", True, 600):
        from console.tasks import compute_daily_kpis

        compute_daily_kpis.delay_on_commit()


def compute_snapshot(kpi_range: KpiRange, scope: Scope, user: User | None) -> Snapshot:
    """Build the report now and store it (what the request or the refresh task does)."""
    catch_up(kpi_range)
    report = build_report(kpi_range, scope, user=user, shared_live=False)
    snapshot = Snapshot(report=report, computed_at=timezone.now())
    ttl = settings.GUICHET_KPI_LIVE_CACHE_SECONDS
    if ttl > 0:
        key = snapshot_key(kpi_range, scope, user.pk if user else None, translation.get_language())
        cache.set(key, snapshot, max(ttl, settings.GUICHET_KPI_SNAPSHOT_MAX_AGE))
        cache.delete(key + ":refresh")
    return snapshot


def report_snapshot(kpi_range: KpiRange, scope: Scope, user: User | None) -> Snapshot:
    """The report of the page: the cached snapshot if young enough, else a fresh one."""
    ttl = settings.GUICHET_KPI_LIVE_CACHE_SECONDS
    if ttl <= 0:
        return compute_snapshot(kpi_range, scope, user)
    language = translation.get_language()
    key = snapshot_key(kpi_range, scope, user.pk if user else None, language)
    snapshot = cache.get(key)
    if not isinstance(snapshot, Snapshot):
        return compute_snapshot(kpi_range, scope, user)
    if snapshot.age_seconds >= ttl and cache.add(key + ":refresh", True, ttl):
        from console.tasks import refresh_dashboard_report

        refresh_dashboard_report.delay_on_commit(
            kpi_range.start.isoformat(),
            kpi_range.end.isoformat(),
            list(scope.service_ids) if scope.service_ids is not None else None,
            scope.topic_id,
            scope.channel,
            user.pk if user else None,
            language,
        )
    return snapshot


def refresh(
    start: str,
    end: str,
    service_ids: list[int] | None,
    topic_id: int | None,
    channel: str | None,
    user_id: int | None,
    language: str,
) -> None:
    """The refresh task's work: the same report, for the same viewer, in the same language."""
    user = User.objects.filter(pk=user_id).first() if user_id else None
    scope = Scope(
        service_ids=tuple(service_ids) if service_ids is not None else None,
        topic_id=topic_id,
        channel=channel,
    )
    kpi_range = KpiRange(date.fromisoformat(start), date.fromisoformat(end))
    with translation.override(language):
        compute_snapshot(kpi_range, scope, user)
