"""Supervisor dashboard indicators: definitions, computation, precomputation, providers.

Every indicator is built from additive figures (counts and sums) attributed to the day the
thing happened (a contact on the day it arrived, a waiting time on the day of the first answer,
a closure on the day of closing...). Past days therefore never change once over, so a Celery beat
task stores them (``DailyKpi`` rows, ``store_day``); the dashboard sums the stored rows of the
range and computes the current day live with the same function (``compute_rows``). Any range,
any grouping (service, topic, channel) is then a SUM, never a scan of the timeline.

Definitions (docs/dashboard.md explains them for supervisors):

- contacts: web messages written by citizens, chats started, phone/counter/e-mail/letter
  contacts recorded by agents, callbacks booked, co-browsing sessions; chatbot conversations
  come from the knowledge provider (they need no case);
- waiting time before first answer: ``first_response_at - created_at`` of the cases first
  answered in the range; p50/p90 with PostgreSQL's ``percentile_cont`` semantics;
- SLA compliance: answered by the deadline (counted on the answer day) against deadlines missed
  (counted on the deadline day); open cases whose deadline is still ahead are not counted;
- handling time: closure minus (last) assignment, for cases closed in the range; resolution time:
  closure minus creation;
- first-contact resolution: a closed case marked "résolu au premier contact" by the agent, or
  closed "répondu" (or without resolution) after exactly one agent interaction (message, request
  for details, chat, recorded contact, callback), never transferred;
- transfer rate: transfers to another service (counted for the service that transferred, on the
  transfer day) per case opened; agent-to-agent hand-overs inside a service are counted apart;
- chats abandoned while queued: chat cases closed without ever being assigned to an agent;
- secure messages per 100 logins: web messages written by citizens per 100 citizen logins.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    BooleanField,
    CharField,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models import Case as CaseWhen
from django.db.models.functions import Coalesce, Greatest
from django.dispatch import receiver
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

from contactcenter.models import (
    Case,
    Channel,
    DailyKpi,
    DailyKpiRun,
    Event,
    LoginEvent,
    Satisfaction,
    Transfer,
    User,
)

logger = logging.getLogger(__name__)


class M:
    """Metric names of ``DailyKpi`` rows (all additive)."""

    CONTACTS = "contacts"
    OPENED = "cases_opened"
    ANSWERED = "answered"
    WAIT_SUM = "wait_sum"  # seconds
    WAIT_HIST = "wait_hist"  # value = count, data = {rounded seconds: count}
    SLA_MET = "sla_met"
    SLA_MISSED = "sla_missed"
    CLOSED = "closed"
    HANDLED = "handled"  # closed cases that had an owner: denominator of handling time
    HANDLING_SUM = "handling_sum"  # seconds
    RESOLUTION_SUM = "resolution_sum"  # seconds
    FCR = "fcr"
    TRANSFERS_SERVICE = "transfers_service"
    TRANSFERS_AGENT = "transfers_agent"
    CHAT_ABANDONED = "chat_abandoned"
    SAT_COUNT = "sat_count"
    SAT_SUM = "sat_sum"
    SAT_SCORE = "sat_%d"  # sat_1 ... sat_5
    LOGINS = "logins_citizen"


SCORES = (1, 2, 3, 4, 5)

# Channels in the order the dashboard lists them.
CHANNEL_ORDER = [
    Channel.WEB,
    Channel.CHAT,
    Channel.PHONE,
    Channel.COUNTER,
    Channel.CALLBACK,
    Channel.CHATBOT,
    Channel.COBROWSE,
    Channel.EMAIL,
    Channel.LETTER,
]
CHANNEL_LABELS = dict(Channel.choices)

# What counts as one contact, per event type. The contact's channel is the event's channel
# except for the types that are a channel of their own (a co-browsing session recorded on a web
# case is a co-browsing contact).
CONTACT_EVENTS = (
    # A secure message written by the citizen (the first one opens the case).
    Q(type=Event.Type.MESSAGE, channel=Channel.WEB, internal=False, actor_id=F("citizen_id"))
    # A chat: one "started" event per conversation (chat.services.start_chat).
    | Q(type=Event.Type.CHAT, payload__phase="started")
    # Phone, counter, e-mail, letter contacts recorded by an agent (console.worklist).
    | Q(type=Event.Type.CONTACT)
    # A callback booked (routing.request_callback); attempts carry an "outcome".
    | Q(type=Event.Type.CALLBACK, payload__has_key="slot_start")
    # A co-browsing session, recorded once when it ends (cobrowse.services).
    | Q(type=Event.Type.COBROWSE)
)
OWN_CHANNEL_TYPES = {
    Event.Type.CHAT: Channel.CHAT,
    Event.Type.CALLBACK: Channel.CALLBACK,
    Event.Type.COBROWSE: Channel.COBROWSE,
}
# Agent interactions that answer a citizen (first-contact resolution counts them).
INTERACTION_TYPES = (
    Event.Type.MESSAGE,
    Event.Type.REQUEST_INFO,
    Event.Type.CHAT,
    Event.Type.CONTACT,
    Event.Type.CALLBACK,
)
FCR_RESOLUTIONS = ("", Case.Resolution.ANSWERED)


# --- scope and range ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What a dashboard looks at: services (None: all), one topic, one channel."""

    service_ids: tuple[int, ...] | None = None
    topic_id: int | None = None
    channel: str | None = None

    def filter_kwargs(self, service_field: str, topic_field: str) -> dict:
        kwargs: dict = {}
        if self.service_ids is not None:
            kwargs[f"{service_field}__in"] = self.service_ids
        if self.topic_id is not None:
            kwargs[topic_field] = self.topic_id
        return kwargs

    def accepts_channel(self, channel: str) -> bool:
        # Rows without a channel (citizen logins) belong to every channel filter.
        return self.channel is None or channel == "" or channel == self.channel


ALL = Scope()


def local_today() -> date:
    return timezone.localdate()


def day_start(day: date) -> datetime:
    """Local midnight of ``day`` (Europe/Paris), as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def day_bounds(day: date) -> tuple[datetime, datetime]:
    return day_start(day), day_start(day + timedelta(days=1))


@dataclass(frozen=True)
class KpiRange:
    """Inclusive range of local days; the last day may be today (counted up to now)."""

    start: date
    end: date

    def __post_init__(self):
        if self.start > self.end:
            raise ValueError("start after end")

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    @property
    def length(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_dt(self) -> datetime:
        return day_start(self.start)

    @property
    def end_dt(self) -> datetime:
        """End of the last day (exclusive). Today's window thus includes "now"."""
        return day_start(self.end + timedelta(days=1))

    def previous(self) -> KpiRange:
        """The range of the same length just before (for trends)."""
        return KpiRange(self.start - timedelta(days=self.length), self.start - timedelta(days=1))

    @classmethod
    def last_days(cls, count: int, today: date | None = None) -> KpiRange:
        today = today or local_today()
        return cls(today - timedelta(days=count - 1), today)


# --- percentiles -------------------------------------------------------------------------------


def round_seconds(seconds: int) -> int:
    """Histogram bucket of a duration: two significant digits (error below 5 %, exact < 100 s)."""
    if seconds < 100:
        return max(0, seconds)
    magnitude = 10 ** (len(str(seconds)) - 2)
    return (seconds + magnitude // 2) // magnitude * magnitude


def percentile_cont(weighted: Iterable[tuple[float, int]], fraction: float) -> float | None:
    """``percentile_cont`` of PostgreSQL over (value, count) pairs: linear interpolation
    between the two values around position ``fraction * (n - 1)`` of the sorted values."""
    pairs = sorted((value, count) for value, count in weighted if count > 0)
    total = sum(count for _value, count in pairs)
    if total == 0:
        return None
    position = fraction * (total - 1)
    lower_index, upper_index = math.floor(position), math.ceil(position)
    lower: float | None = None
    upper: float | None = None
    seen = 0
    for value, count in pairs:
        if lower is None and lower_index < seen + count:
            lower = value
        if upper_index < seen + count:
            upper = value
            break
        seen += count
    assert lower is not None and upper is not None  # total > 0: both indices are reached
    return float(lower + (upper - lower) * (position - lower_index))


class PercentileCont(Aggregate):
    """PostgreSQL ``percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)``."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def wait_seconds_expression():
    """Whole seconds between creation and first answer, never negative (PostgreSQL)."""
    return Func(
        F("first_response_at") - F("created_at"),
        template="GREATEST(0, FLOOR(EXTRACT(EPOCH FROM %(expressions)s)))",
        output_field=FloatField(),
    )


def duration(later: str, earlier: str):
    """``later - earlier`` computed by the database, never negative (PostgreSQL, SQLite)."""
    return ExpressionWrapper(
        Greatest(F(later) - F(earlier), Value(timedelta(0))), output_field=DurationField()
    )


def _seconds(value: timedelta | None) -> int:
    return round(value.total_seconds()) if value else 0


def wait_seconds(created_at: datetime, first_response_at: datetime) -> int:
    return max(0, math.floor((first_response_at - created_at).total_seconds()))


PERCENTILE_FRACTIONS = (0.5, 0.9)


def exact_wait_percentiles(
    start: datetime, end: datetime, scope: Scope = ALL, group_by: str | None = None
) -> dict:
    """Exact p50/p90 of the waiting time of cases first answered in [start, end).

    ``group_by`` is None (one result under key None), "channel", "service_id" or "topic_id".
    PostgreSQL computes them with ``percentile_cont``; elsewhere (SQLite) Python applies the same
    definition to at most ``GUICHET_KPI_PERCENTILE_SAMPLE`` most recent answers (the bound only
    matters for live windows of an unusual size: past days use the stored histograms).
    """
    cases = Case.objects.filter(
        first_response_at__gte=start,
        first_response_at__lt=end,
        **scope.filter_kwargs("service_id", "topic_id"),
    )
    if scope.channel:
        cases = cases.filter(channel=scope.channel)
    result: dict = {}
    if connection.vendor == "postgresql":
        annotations = {
            f"p{int(f * 100)}": PercentileCont(wait_seconds_expression(), f)
            for f in PERCENTILE_FRACTIONS
        }
        if group_by:
            rows = cases.order_by().values(group_by).annotate(**annotations)
            for row in rows:
                result[row[group_by]] = {k: row[k] for k in annotations}
        else:
            row = cases.aggregate(**annotations)
            if row["p50"] is not None:
                result[None] = row
        return result
    limit = settings.GUICHET_KPI_PERCENTILE_SAMPLE
    fields = ["created_at", "first_response_at"] + ([group_by] if group_by else [])
    values: dict = defaultdict(Counter)
    for row in cases.order_by("-first_response_at").values_list(*fields)[:limit]:
        key = row[2] if group_by else None
        values[key][wait_seconds(row[0], row[1])] += 1
    for key, counter in values.items():
        result[key] = {
            f"p{int(f * 100)}": percentile_cont(counter.items(), f) for f in PERCENTILE_FRACTIONS
        }
    return result


# --- computing the figures of a time window ------------------------------------------------------


@dataclass(frozen=True)
class Row:
    service_id: int | None
    topic_id: int | None
    channel: str
    metric: str
    value: int
    data: dict | None = None


class _Rows:
    """Accumulates (service, topic, channel, metric) -> value (+ histograms) before output."""

    def __init__(self):
        self.values: Counter[tuple[int | None, int | None, str, str]] = Counter()
        self.hists: dict[tuple[int | None, int | None, str], Counter[int]] = defaultdict(Counter)

    def add(self, service_id, topic_id, channel, metric, value=1):
        if value:
            self.values[(service_id, topic_id, channel or "", metric)] += int(value)

    def add_wait(self, service_id, topic_id, channel, seconds: int):
        key = (service_id, topic_id, channel or "")
        self.add(*key, M.ANSWERED)
        self.add(*key, M.WAIT_SUM, seconds)
        self.hists[key][round_seconds(seconds)] += 1

    def rows(self) -> list[Row]:
        out = [Row(*key, value) for key, value in self.values.items()]
        for key, hist in self.hists.items():
            out.append(
                Row(
                    *key,
                    M.WAIT_HIST,
                    sum(hist.values()),
                    {str(bucket): count for bucket, count in sorted(hist.items())},
                )
            )
        return out


def contact_channel_expression():
    whens = [When(type=t, then=Value(str(c))) for t, c in OWN_CHANNEL_TYPES.items()]
    return CaseWhen(*whens, default=F("channel"), output_field=CharField())


def compute_rows(start: datetime, end: datetime, scope: Scope = ALL) -> list[Row]:
    """Every additive figure of the window [start, end), by service, topic and channel.

    Aggregate queries on the core tables, each bounded by an indexed time column; used for one
    past day by ``store_day`` and for today's figures by the dashboard. Read-only.
    """
    now = timezone.now()
    acc = _Rows()
    window = {"gte": start, "lt": end}

    def between(column: str) -> dict:
        return {f"{column}__{op}": value for op, value in window.items()}

    # Contacts, by the contact's own channel.
    contacts = (
        Event.objects.filter(CONTACT_EVENTS, **between("created_at"))
        .filter(**scope.filter_kwargs("case__service_id", "case__topic_id"))
        .annotate(kpi_channel=contact_channel_expression())
        .order_by()
        .values("case__service_id", "case__topic_id", "kpi_channel")
        .annotate(n=Count("id"))
    )
    for row in contacts:
        acc.add(
            row["case__service_id"], row["case__topic_id"], row["kpi_channel"], M.CONTACTS, row["n"]
        )

    case_scope = scope.filter_kwargs("service_id", "topic_id")
    # Cases opened.
    opened = (
        Case.objects.filter(**between("created_at"), **case_scope)
        .order_by()
        .values("service_id", "topic_id", "channel")
        .annotate(n=Count("id"))
    )
    for row in opened:
        acc.add(row["service_id"], row["topic_id"], row["channel"], M.OPENED, row["n"])

    # First answers: waiting time and SLA met. Durations are computed by the database (one
    # interval per case to read instead of four timestamps).
    answered = (
        Case.objects.filter(**between("first_response_at"), **case_scope)
        .annotate(
            wait=duration("first_response_at", "created_at"),
            met=ExpressionWrapper(
                Q(sla_deadline__isnull=False)
                & Q(first_response_at__lte=F("sla_deadline"))
                & Q(sla_breached=False),
                output_field=BooleanField(),
            ),
        )
        .order_by()
        .values_list("service_id", "topic_id", "channel", "wait", "met")
    )
    # One window is one day at most: a plain fetch (no server-side cursor round trips).
    for service_id, topic_id, channel, wait, met in answered:
        acc.add_wait(service_id, topic_id, channel, max(0, math.floor(wait.total_seconds())))
        if met:
            acc.add(service_id, topic_id, channel, M.SLA_MET)

    # SLA missed, on the deadline's day (only deadlines already past).
    missed = (
        Case.objects.filter(sla_deadline__gte=start, sla_deadline__lt=min(end, now), **case_scope)
        .filter(
            Q(first_response_at__isnull=True)
            | Q(first_response_at__gt=F("sla_deadline"))
            | Q(sla_breached=True)
        )
        .order_by()
        .values("service_id", "topic_id", "channel")
        .annotate(n=Count("id"))
    )
    for row in missed:
        acc.add(row["service_id"], row["topic_id"], row["channel"], M.SLA_MISSED, row["n"])

    # Closures: handling and resolution times, first-contact resolution, abandoned chats, all
    # aggregated by the database.
    interactions = (
        Event.objects.filter(
            case=OuterRef("pk"), internal=False, type__in=INTERACTION_TYPES, actor__isnull=False
        )
        .exclude(actor_id=OuterRef("citizen_id"))
        .order_by()
        .values("case")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    owned = Q(assigned_at__isnull=False)
    closed = (
        Case.objects.filter(status=Case.Status.CLOSED, **between("closed_at"), **case_scope)
        .annotate(
            interactions=Coalesce(Subquery(interactions, output_field=IntegerField()), 0),
            transferred=Exists(Transfer.objects.filter(case=OuterRef("pk"))),
            ever_assigned=Exists(
                Event.objects.filter(case=OuterRef("pk"), type=Event.Type.ASSIGNMENT)
            ),
        )
        .order_by()
        .values("service_id", "topic_id", "channel")
        .annotate(
            n=Count("id"),
            handled=Count("id", filter=owned),
            handling_total=Sum(duration("closed_at", "assigned_at"), filter=owned),
            resolution_total=Sum(duration("closed_at", "created_at")),
            fcr=Count(
                "id",
                filter=Q(resolved_first_contact=True)
                | Q(resolution__in=FCR_RESOLUTIONS, interactions=1, transferred=False),
            ),
            abandoned=Count(
                "id",
                filter=Q(channel=Channel.CHAT, assigned_at__isnull=True, ever_assigned=False),
            ),
        )
    )
    for row in closed:
        key = (row["service_id"], row["topic_id"], row["channel"])
        acc.add(*key, M.CLOSED, row["n"])
        acc.add(*key, M.RESOLUTION_SUM, _seconds(row["resolution_total"]))
        acc.add(*key, M.HANDLED, row["handled"])
        acc.add(*key, M.HANDLING_SUM, _seconds(row["handling_total"]))
        acc.add(*key, M.FCR, row["fcr"])
        acc.add(*key, M.CHAT_ABANDONED, row["abandoned"])

    # Transfers, counted for the service that handed the case over.
    transfers = (
        Transfer.objects.filter(**between("created_at"))
        .filter(**scope.filter_kwargs("from_service_id", "case__topic_id"))
        .order_by()
        .values("from_service_id", "case__topic_id", "case__channel")
        .annotate(
            other=Count("id", filter=~Q(to_service_id=F("from_service_id"))),
            same=Count("id", filter=Q(to_service_id=F("from_service_id"))),
        )
    )
    for row in transfers:
        key = (row["from_service_id"], row["case__topic_id"], row["case__channel"])
        acc.add(*key, M.TRANSFERS_SERVICE, row["other"])
        acc.add(*key, M.TRANSFERS_AGENT, row["same"])

    # Satisfaction, by the rated channel.
    ratings = (
        Satisfaction.objects.filter(**between("created_at"))
        .filter(**scope.filter_kwargs("service_id", "case__topic_id"))
        .order_by()
        .values("service_id", "case__topic_id", "channel", "score")
        .annotate(n=Count("id"))
    )
    for row in ratings:
        key = (row["service_id"], row["case__topic_id"], row["channel"])
        acc.add(*key, M.SAT_COUNT, row["n"])
        acc.add(*key, M.SAT_SUM, row["n"] * row["score"])
        acc.add(*key, M.SAT_SCORE % row["score"], row["n"])

    # Citizen logins (no service: they belong to every scope).
    logins = LoginEvent.objects.filter(role=User.Role.CITIZEN, **between("created_at")).count()
    acc.add(None, None, "", M.LOGINS, logins)

    rows = acc.rows()
    if scope.channel:
        rows = [row for row in rows if scope.accepts_channel(row.channel)]
    return rows


# --- precomputation (Celery beat) -------------------------------------------------------------


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


# --- logins ----------------------------------------------------------------------------------


@receiver(user_logged_in, dispatch_uid="console.kpis.record_login")
def record_login(sender, request, user, **kwargs) -> None:
    """Count a login (role and time only) for the "messages per 100 logins" indicator."""
    LoginEvent.objects.create(role=getattr(user, "role", "") or "", created_at=timezone.now())


# --- reading: totals and derived indicators ----------------------------------------------------


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
    def messages_per_100_logins(self) -> float | None:
        return Figures.ratio(self.web_messages * 100, self.logins)

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


def live_rows(start: datetime, end: datetime, scope: Scope) -> list[Row]:
    """``compute_rows`` of a live window, shared for ``GUICHET_KPI_LIVE_CACHE_SECONDS``.

    Today's figures are recomputed at most once a minute (by default) per window and scope,
    however many supervisors look: the page then only sums stored rows.
    """
    ttl = settings.GUICHET_KPI_LIVE_CACHE_SECONDS
    if ttl <= 0:
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
) -> Report:
    """Every indicator of the dashboard for a range and a scope (read-only).

    Past days come from ``DailyKpi``; today and the past days not stored yet are computed live
    with ``compute_rows``. Percentiles are exact (``percentile_cont``) when the whole range is
    live, else merged from the stored histograms (two significant digits). Providers are called
    last.
    """
    report = _core_report(kpi_range, scope, comments)
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


def _core_report(kpi_range: KpiRange, scope: Scope, comments: int) -> Report:
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
        for row in live_rows(start, end, scope):
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


# --- providers: indicators contributed by other apps ----------------------------------------------


@dataclass
class ProviderMetric:
    key: str
    label: str
    value: float | int | None
    format: str = "number"  # number | percent | duration | decimal
    help: str = ""


@dataclass
class ProviderTable:
    key: str
    title: str
    columns: list[str]
    rows: list[list]
    formats: list[str] = field(default_factory=list)
    empty: str = ""


@dataclass
class ProviderSection:
    name: str
    title: str
    metrics: list[ProviderMetric] = field(default_factory=list)
    tables: list[ProviderTable] = field(default_factory=list)
    volumes: dict[str, int] = field(default_factory=dict)
    error: str = ""


ProviderFunc = Callable[..., dict]
_REGISTRY: dict[str, ProviderFunc] = {}


def register_provider(name: str, func: ProviderFunc) -> None:
    """Add a source of indicators shown on the dashboard (in code; settings can add more).

    The function is called as ``func(start, end, *, user, service_ids, topic_id, channel)``
    (aware datetimes, [start, end); ``user`` the viewer; ``service_ids`` None means every
    service) and returns a dict (or None to show nothing)::

        {"title": "Assistant virtuel",
         "metrics": [{"key": "recognition_rate", "label": "Taux de reconnaissance",
                      "value": 0.82, "format": "percent", "help": "..."}],
         "tables": [{"key": "unanswered", "title": "...", "columns": ["Question", "Nombre"],
                     "rows": [["...", 12]], "formats": ["text", "number"]}],
         "volumes": {"chatbot": 120}}   # contacts the core timeline does not see

    Formats: number, decimal, percent (a ratio: 0.82), duration (seconds), text.
    """
    _REGISTRY[name] = func


def unregister_provider(name: str) -> None:
    _REGISTRY.pop(name, None)


_WARNED: set[str] = set()


def _import(path: str) -> Callable | None:
    try:
        return import_string(path)
    except ImportError:
        if path not in _WARNED:  # once per process: the app may simply not be installed
            _WARNED.add(path)
            logger.warning("dashboard: %s cannot be imported", path)
        return None


def providers() -> dict[str, ProviderFunc]:
    """Registered providers plus those named by dotted path in ``GUICHET_KPI_PROVIDERS``."""
    found: dict[str, ProviderFunc] = {}
    for name, path in getattr(settings, "GUICHET_KPI_PROVIDERS", {}).items():
        func = _import(path)
        if func is not None:
            found[name] = func
    found.update(_REGISTRY)
    return found


def _section(name: str, data: dict) -> ProviderSection:
    section = ProviderSection(name=name, title=str(data.get("title") or name))
    for metric in data.get("metrics") or []:
        section.metrics.append(
            ProviderMetric(
                key=str(metric["key"]),
                label=str(metric.get("label") or metric["key"]),
                value=metric.get("value"),
                format=str(metric.get("format") or "number"),
                help=str(metric.get("help") or ""),
            )
        )
    for table in data.get("tables") or []:
        columns = [str(column) for column in table.get("columns") or []]
        formats = list(table.get("formats") or [])
        formats += ["text"] * (len(columns) - len(formats))
        section.tables.append(
            ProviderTable(
                key=str(table["key"]),
                title=str(table.get("title") or table["key"]),
                columns=columns,
                rows=[list(row) for row in table.get("rows") or []],
                formats=formats[: len(columns)],
                empty=str(table.get("empty") or ""),
            )
        )
    for channel, count in (data.get("volumes") or {}).items():
        if channel in CHANNEL_LABELS and isinstance(count, int):
            section.volumes[channel] = count
    return section


def run_providers(kpi_range: KpiRange, scope: Scope, user: User | None) -> list[ProviderSection]:
    """Call every provider; a failing one shows an error in its section, never a 500."""
    sections = []
    for name, func in providers().items():
        try:
            data = func(
                kpi_range.start_dt,
                kpi_range.end_dt,
                user=user,
                service_ids=list(scope.service_ids) if scope.service_ids is not None else None,
                topic_id=scope.topic_id,
                channel=scope.channel,
            )
        except Exception:  # noqa: BLE001 - a plug-in must not break the dashboard
            logger.exception("dashboard: KPI provider %s failed", name)
            sections.append(
                ProviderSection(
                    name=name,
                    title=name,
                    error=str(_("Ces indicateurs sont momentanément indisponibles.")),
                )
            )
            continue
        if not data:
            continue
        try:
            sections.append(_section(name, data))
        except (KeyError, TypeError, ValueError, AttributeError):
            logger.exception("dashboard: KPI provider %s returned an invalid result", name)
            sections.append(
                ProviderSection(
                    name=name,
                    title=name,
                    error=str(_("Ces indicateurs sont momentanément indisponibles.")),
                )
            )
    return sections


def live_provider() -> Callable | None:
    """The function giving the live queue tiles (``GUICHET_DASHBOARD_LIVE_PROVIDER``)."""
    path = getattr(settings, "GUICHET_DASHBOARD_LIVE_PROVIDER", "")
    return _import(path) if path else None
