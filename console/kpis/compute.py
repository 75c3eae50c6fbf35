"""The additive figures of a time window: ``compute_rows``.

One computation for both uses: a past day stored by ``store_day`` and today's live figures.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import (
    BooleanField,
    CharField,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
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
from django.utils import timezone

from contactcenter.models import Case, Channel, Event, LoginEvent, Satisfaction, Transfer, User

from .definitions import (
    ALL,
    CONTACT_EVENTS,
    FCR_RESOLUTIONS,
    INTERACTION_TYPES,
    OWN_CHANNEL_TYPES,
    M,
    Scope,
)
from .percentiles import round_seconds


def duration(later: str, earlier: str):
    """``later - earlier`` computed by the database, never negative (PostgreSQL, SQLite)."""
    return ExpressionWrapper(
        Greatest(F(later) - F(earlier), Value(timedelta(0))), output_field=DurationField()
    )


def _seconds(value: timedelta | None) -> int:
    return round(value.total_seconds()) if value else 0


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
        .annotate(
            n=Count("id"),
            asked=Count("id", filter=Q(resolved__isnull=False)),
            resolved=Count("id", filter=Q(resolved=True)),
        )
    )
    for row in ratings:
        key = (row["service_id"], row["case__topic_id"], row["channel"])
        acc.add(*key, M.SAT_COUNT, row["n"])
        acc.add(*key, M.SAT_SUM, row["n"] * row["score"])
        acc.add(*key, M.SAT_SCORE % row["score"], row["n"])
        acc.add(*key, M.SAT_RESOLVED_ASKED, row["asked"])
        acc.add(*key, M.SAT_RESOLVED, row["resolved"])

    # Citizen logins (no service: they belong to every scope).
    logins = LoginEvent.objects.filter(role=User.Role.CITIZEN, **between("created_at")).count()
    acc.add(None, None, "", M.LOGINS, logins)

    rows = acc.rows()
    if scope.channel:
        rows = [row for row in rows if scope.accepts_channel(row.channel)]
    return rows
