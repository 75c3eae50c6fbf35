"""Reading: every indicator of a range and a scope (``build_report``).

Past days are sums of stored rows; today and the past days not stored yet are computed live.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, Sum

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

from contactcenter.models import Channel, DailyKpi, DailyKpiRun, Event, Satisfaction, User

from .compute import Row, compute_rows, contact_channel_expression
from .definitions import (
    ALL,
    CHANNEL_LABELS,
    CHANNEL_ORDER,
    CONTACT_EVENTS,
    SCORES,
    KpiRange,
    M,
    Scope,
    day_bounds,
    local_today,
)
from .percentiles import PERCENTILE_FRACTIONS, exact_wait_percentiles, percentile_cont
from .providers import ProviderSection, run_providers
from .store import missing_days


@dataclass
class Figures:
    """Derived indicators of one group (a channel, a service, a topic, or everything)."""

    values: Counter = field(default_factory=Counter)
    hist: Counter = field(default_factory=Counter)
    exact: dict | None = None  # exact percentiles when the whole range is live
    previous_contacts: int | None = None

    def __getitem__(self, metric: str) -> int:
        return self.values.get(metric, 0)

    @staticmethod
    def ratio(numerator: float, denominator: float) -> float | None:
        return numerator / denominator if denominator else None

    @property
    def contacts(self) -> int:
        return self[M.CONTACTS]

    @property
    def opened(self) -> int:
        return self[M.OPENED]

    @property
    def answered(self) -> int:
        return self[M.ANSWERED]

    @property
    def closed(self) -> int:
        return self[M.CLOSED]

    @property
    def trend(self) -> float | None:
        """Relative change of contacts against the previous period (0.1 = +10 %)."""
        if self.previous_contacts is None:
            return None
        return self.ratio(self.contacts - self.previous_contacts, self.previous_contacts)

    def _percentile(self, fraction: float) -> float | None:
        if self.exact is not None:
            return self.exact.get(f"p{int(fraction * 100)}")
        return self._hist_percentiles.get(fraction)

    @cached_property
    def _hist_percentiles(self) -> dict[float, float | None]:
        # Read once the report is built (the histogram no longer changes): one sort for both.
        pairs = sorted(self.hist.items())
        return {f: percentile_cont(pairs, f) for f in PERCENTILE_FRACTIONS}

    @property
    def wait_p50(self) -> float | None:
        return self._percentile(0.5)

    @property
    def wait_p90(self) -> float | None:
        return self._percentile(0.9)

    @property
    def wait_avg(self) -> float | None:
        return self.ratio(self[M.WAIT_SUM], self.answered)

    @property
    def sla_met(self) -> int:
        return self[M.SLA_MET]

    @property
    def sla_missed(self) -> int:
        return self[M.SLA_MISSED]

    @property
    def sla_rate(self) -> float | None:
        return self.ratio(self.sla_met, self.sla_met + self.sla_missed)

    @property
    def handling_avg(self) -> float | None:
        return self.ratio(self[M.HANDLING_SUM], self[M.HANDLED])

    @property
    def resolution_avg(self) -> float | None:
        return self.ratio(self[M.RESOLUTION_SUM], self.closed)

    @property
    def fcr(self) -> int:
        return self[M.FCR]

    @property
    def fcr_rate(self) -> float | None:
        return self.ratio(self.fcr, self.closed)

    @property
    def transfers(self) -> int:
        return self[M.TRANSFERS_SERVICE]

    @property
    def transfers_agent(self) -> int:
        return self[M.TRANSFERS_AGENT]

    @property
    def transfer_rate(self) -> float | None:
        return self.ratio(self.transfers, self.opened)

    @property
    def chat_abandoned(self) -> int:
        return self[M.CHAT_ABANDONED]

    @property
    def sat_count(self) -> int:
        return self[M.SAT_COUNT]

    @property
    def sat_avg(self) -> float | None:
        return self.ratio(self[M.SAT_SUM], self.sat_count)

    @property
    def declared_fcr_asked(self) -> int:
        return self[M.SAT_RESOLVED_ASKED]

    @property
    def declared_fcr_rate(self) -> float | None:
        """Share of "oui" to "Votre demande est-elle résolue ?" after a contact."""
        return self.ratio(self[M.SAT_RESOLVED], self.declared_fcr_asked)

    @property
    def sat_distribution(self) -> list[int]:
        return [self[M.SAT_SCORE % score] for score in SCORES]


@dataclass
class Comment:
    reference: str
    case_id: int
    service: str
    channel: StrOrPromise  # the lazy label of the channel
    score: int
    comment: str
    created_at: datetime


@dataclass
class Report:
    kpi_range: KpiRange
    scope: Scope
    overall: Figures
    by_channel: dict[str, Figures]
    by_service: dict[int, Figures]
    by_topic: dict[int, Figures]
    daily: dict[date, Counter]  # day -> channel -> contacts
    chat: Figures  # the chat channel (abandon rate needs chat cases only)
    logins: int
    comments: list[Comment]
    live_days: list[date]  # days computed live (today, and past days not stored yet)
    exact_percentiles: bool
    providers: list[ProviderSection] = field(default_factory=list)
    external_channels: set[str] = field(default_factory=set)

    @property
    def chat_abandon_rate(self) -> float | None:
        return Figures.ratio(self.chat.chat_abandoned, self.chat.opened)

    @property
    def web_messages(self) -> int:
        web = self.by_channel.get(Channel.WEB)
        return web.contacts if web else 0

    @property
    def emails(self) -> int:
        email = self.by_channel.get(Channel.EMAIL)
        return email.contacts if email else 0

    @property
    def written_messages(self) -> int:
        """What citizens wrote: secure messages and e-mails (the amelibot indicator)."""
        return self.web_messages + self.emails

    @property
    def messages_per_100_logins(self) -> float | None:
        return Figures.ratio(self.written_messages * 100, self.logins)

    @property
    def channels(self) -> list[tuple[str, StrOrPromise, Figures]]:
        """(code, label, figures) in display order, channels without any figure left out."""
        out: list[tuple[str, StrOrPromise, Figures]] = []
        for code in CHANNEL_ORDER:
            figures = self.by_channel.get(code)
            if figures is not None and (figures.values.total() or figures.previous_contacts):
                out.append((code, CHANNEL_LABELS[code], figures))
        return out


def _stored_rows(kpi_range: KpiRange, scope: Scope, metrics: Iterable[str] | None = None):
    """Sums of the stored rows of the range's past days, by service, topic, channel, metric."""
    today = local_today()
    last = min(kpi_range.end, today - timedelta(days=1))
    if last < kpi_range.start:
        return []
    rows = DailyKpi.objects.filter(day__gte=kpi_range.start, day__lte=last).exclude(
        metric=M.WAIT_HIST
    )
    if metrics is not None:
        rows = rows.filter(metric__in=list(metrics))
    rows = _scoped(rows, scope)
    return (
        rows.order_by()
        .values_list("service_id", "topic_id", "channel", "metric")
        .annotate(total=Sum("value"))
    )


def _scoped(rows, scope: Scope):
    if scope.service_ids is not None:
        rows = rows.filter(Q(service_id__in=scope.service_ids) | Q(service_id__isnull=True))
    if scope.topic_id is not None:
        rows = rows.filter(Q(topic_id=scope.topic_id) | Q(service_id__isnull=True))
    if scope.channel is not None:
        rows = rows.filter(channel__in=[scope.channel, ""])
    return rows


def _stored_histograms(kpi_range: KpiRange, scope: Scope):
    """(service, topic, channel, bucket, count) of the stored days of the range."""
    today = local_today()
    last = min(kpi_range.end, today - timedelta(days=1))
    if last < kpi_range.start:
        return []
    rows = _scoped(
        DailyKpi.objects.filter(day__gte=kpi_range.start, day__lte=last, metric=M.WAIT_HIST),
        scope,
    )
    return [
        (service_id, topic_id, channel, bucket, count)
        for service_id, topic_id, channel, data in rows.values_list(
            "service_id", "topic_id", "channel", "data"
        )
        for bucket, count in data.items()
    ]


def _stored_daily_contacts(kpi_range: KpiRange, scope: Scope):
    today = local_today()
    last = min(kpi_range.end, today - timedelta(days=1))
    if last < kpi_range.start:
        return []
    rows = DailyKpi.objects.filter(day__gte=kpi_range.start, day__lte=last, metric=M.CONTACTS)
    return (
        _scoped(rows, scope).order_by().values_list("day", "channel").annotate(total=Sum("value"))
    )


def _stored_days(kpi_range: KpiRange) -> bool:
    return DailyKpiRun.objects.filter(
        day__gte=kpi_range.start, day__lte=kpi_range.end, computed_at__isnull=False
    ).exists()


def live_rows(start: datetime, end: datetime, scope: Scope, shared: bool = True) -> list[Row]:
    """``compute_rows`` of a live window, shared for ``GUICHET_KPI_LIVE_CACHE_SECONDS``.

    Today's figures are recomputed at most once a minute (by default) per window and scope,
    however many supervisors look: the page then only sums stored rows. ``shared=False``
    computes them now (a snapshot of the page, which states its own age, ``snapshot.py``).
    """
    ttl = settings.GUICHET_KPI_LIVE_CACHE_SECONDS
    if ttl <= 0 or not shared:
        return compute_rows(start, end, scope)
    key = "kpis:live:" + ":".join(
        [
            start.isoformat(),
            end.isoformat(),
            ",".join(map(str, scope.service_ids)) if scope.service_ids is not None else "*",
            str(scope.topic_id or "*"),
            scope.channel or "*",
        ]
    )
    rows = cache.get(key)
    if rows is None:
        rows = compute_rows(start, end, scope)
        cache.set(key, rows, ttl)
    return rows


def live_windows(kpi_range: KpiRange) -> list[tuple[date, datetime, datetime]]:
    """The windows computed live: past days without stored rows, and today."""
    windows = [(day, *day_bounds(day)) for day in missing_days(kpi_range)]
    today = local_today()
    if kpi_range.end >= today >= kpi_range.start:
        windows.append((today, *day_bounds(today)))
    return windows


def build_report(
    kpi_range: KpiRange,
    scope: Scope = ALL,
    *,
    with_providers: bool = True,
    comments: int = 5,
    user: User | None = None,
    shared_live: bool = True,
) -> Report:
    """Every indicator of the dashboard for a range and a scope (read-only).

    Past days come from ``DailyKpi``; today and the past days not stored yet are computed live
    with ``compute_rows``. Percentiles are exact (``percentile_cont``) when the whole range is
    live, else merged from the stored histograms (two significant digits). Providers are called
    last. ``shared_live=False``: today's figures computed now, not taken from the cache.
    """
    report = _core_report(kpi_range, scope, comments, shared_live)
    if with_providers:
        report.providers = run_providers(kpi_range, scope, user)
        # Contacts without a case (chatbot conversations) get their own row in the channel
        # table; they stay out of the totals and trends, which are about the case timeline.
        for section in report.providers:
            for code, count in section.volumes.items():
                if scope.accepts_channel(code) and code not in report.by_channel:
                    report.by_channel[code] = Figures(values=Counter({M.CONTACTS: count}))
                    report.external_channels.add(code)
    return report


def _core_report(kpi_range: KpiRange, scope: Scope, comments: int, shared: bool) -> Report:
    values: dict[tuple, Counter] = defaultdict(Counter)  # (service, topic, channel) -> metrics
    hists: dict[tuple, Counter] = defaultdict(Counter)
    daily: dict[date, Counter] = {day: Counter() for day in kpi_range.days}

    for service_id, topic_id, channel, metric, total in _stored_rows(kpi_range, scope):
        values[(service_id, topic_id, channel)][metric] += total
    for service_id, topic_id, channel, bucket, count in _stored_histograms(kpi_range, scope):
        hists[(service_id, topic_id, channel)][int(bucket)] += int(count)
    for day, channel, total in _stored_daily_contacts(kpi_range, scope):
        daily[day][channel] += total

    windows = live_windows(kpi_range)
    for day, start, end in windows:
        for row in live_rows(start, end, scope, shared):
            key = (row.service_id, row.topic_id, row.channel)
            if row.metric == M.WAIT_HIST:
                hist = hists[key]
                assert row.data is not None  # a histogram row carries its buckets
                for bucket, count in row.data.items():
                    hist[int(bucket)] += count
                continue
            values[key][row.metric] += row.value
            if row.metric == M.CONTACTS:
                daily[day][row.channel] += row.value

    # Exact percentiles when no stored day is involved (today, or days not stored yet).
    exact = not _stored_days(kpi_range)
    previous = _previous_contacts(kpi_range.previous(), scope)

    def group(index: int | None) -> dict:
        out: dict = defaultdict(Figures)
        for key, metrics in values.items():
            if key[0] is None:  # logins: no service, no topic, no channel
                continue
            out[key[index] if index is not None else None].values.update(metrics)
        for key, hist in hists.items():
            out[key[index] if index is not None else None].hist.update(hist)
        return out

    by_service, by_topic, by_channel = group(0), group(1), group(2)
    overall = group(None).get(None) or Figures()
    for code, count in previous["by_channel"].items():
        by_channel[code].previous_contacts = count
    for figures in by_channel.values():
        if figures.previous_contacts is None:
            figures.previous_contacts = 0
    overall.previous_contacts = previous["total"]
    if exact:
        for grouping, target in (
            (None, {None: overall}),
            ("channel", by_channel),
            ("service_id", by_service),
            ("topic_id", by_topic),
        ):
            percentiles = exact_wait_percentiles(
                kpi_range.start_dt, kpi_range.end_dt, scope, grouping
            )
            for group_key, figures in target.items():
                figures.exact = percentiles.get(group_key, {})
    logins = sum(metrics[M.LOGINS] for key, metrics in values.items() if key[0] is None)
    report = Report(
        kpi_range=kpi_range,
        scope=scope,
        overall=overall,
        by_channel=dict(by_channel),
        by_service=dict(by_service),
        by_topic=dict(by_topic),
        daily=daily,
        chat=by_channel.get(Channel.CHAT) or Figures(),
        logins=logins,
        comments=latest_comments(kpi_range, scope, comments) if comments else [],
        live_days=[window[0] for window in windows],
        exact_percentiles=exact,
    )
    return report


def _previous_contacts(kpi_range: KpiRange, scope: Scope) -> dict:
    by_channel: Counter = Counter()
    for _service_id, _topic_id, channel, _metric, total in _stored_rows(
        kpi_range, scope, metrics=[M.CONTACTS]
    ):
        by_channel[channel] += total
    for _day, start, end in live_windows(kpi_range):
        counts = (
            Event.objects.filter(CONTACT_EVENTS, created_at__gte=start, created_at__lt=end)
            .filter(**scope.filter_kwargs("case__service_id", "case__topic_id"))
            .annotate(kpi_channel=contact_channel_expression())
            .order_by()
            .values_list("kpi_channel")
            .annotate(n=Count("id"))
        )
        for channel, n in counts:
            if scope.accepts_channel(channel):
                by_channel[channel] += n
    return {"by_channel": by_channel, "total": sum(by_channel.values())}


def latest_comments(kpi_range: KpiRange, scope: Scope, limit: int = 5) -> list[Comment]:
    ratings = (
        Satisfaction.objects.filter(
            created_at__gte=kpi_range.start_dt, created_at__lt=kpi_range.end_dt
        )
        .exclude(comment="")
        .filter(**scope.filter_kwargs("service_id", "case__topic_id"))
    )
    if scope.channel:
        ratings = ratings.filter(channel=scope.channel)
    ratings = ratings.select_related("case", "service").order_by("-created_at", "-id")[:limit]
    return [
        Comment(
            reference=rating.case.reference,
            case_id=rating.case_id,
            service=rating.service.name,
            channel=CHANNEL_LABELS.get(rating.channel, rating.channel),
            score=rating.score,
            comment=rating.comment,
            created_at=rating.created_at,
        )
        for rating in ratings
    ]
