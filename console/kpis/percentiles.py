"""Waiting-time percentiles with PostgreSQL's ``percentile_cont`` definition.

Stored days keep a histogram of rounded waits (``round_seconds``), merged and read with
``percentile_cont``; a range computed live only gets exact figures (``exact_wait_percentiles``).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Aggregate, F, FloatField, Func

from contactcenter.models import Case

from .definitions import ALL, Scope


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
