"""Peak and off-peak hours of a service, from its real contacts of the last weeks: citizens'
messages, chats, calls, callbacks and recorded contacts, counted per weekday and half hour
(local time), averaged per week. Cached (``PEAKS_TTL``): the public page reads the cache.

A cell is ``(weekday 0..6, slot)``, the slot being the half hour of the day (0..47: 8:30 is
17)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time as dtime
from datetime import timedelta

from django.core.cache import cache
from django.db.models import (
    Avg,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Value,
    When,
)
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, ExtractMinute
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contactcenter.models import CONTACT_CONDITION, Event
from contactcenter.models import Case as CaseModel
from routing.calendar import ServiceCalendar, format_hour, join_words, local_tz

WEEKS = 8
PEAKS_TTL = 26 * 3600  # recomputed nightly; a missed night recomputes on the next view
DAY_NAMES = (
    gettext_lazy("lundi"),
    gettext_lazy("mardi"),
    gettext_lazy("mercredi"),
    gettext_lazy("jeudi"),
    gettext_lazy("vendredi"),
    gettext_lazy("samedi"),
    gettext_lazy("dimanche"),
)


SLOTS_PER_DAY = 48


def slot_time(slot: int) -> dtime:
    """The start of a half-hour slot (17 -> 8:30); 48 is midnight at the end of the day."""
    if slot >= SLOTS_PER_DAY:
        return dtime(23, 59, 59)
    return dtime(slot // 2, 30 * (slot % 2))


def slot_label(slot: int) -> str:
    return format_hour(slot_time(slot))


@dataclass
class Peaks:
    slots: list[int]  # the half hours shown (columns)
    days: list[int]  # weekdays 0..6 shown (rows)
    grid: dict[tuple[int, int], float]  # (weekday, slot) -> contacts per week
    peak: list[tuple[int, int]]
    calm: list[tuple[int, int]]
    # (weekday, slot) -> average wait in minutes of the requests that arrived then
    waits: dict[tuple[int, int], float]

    def level(self, day: int, slot: int) -> str:
        if (day, slot) in self.peak:
            return "peak"
        if (day, slot) in self.calm:
            return "calm"
        return ""


def contact_events(service_id: int, since, until):
    """The service's contacts between ``since`` and ``until``: what the citizens sent or
    started (messages, chats, recorded contacts) and the calls and callback requests. The
    filter is exactly the condition of the partial index ``event_contact_time`` (service,
    created_at), so PostgreSQL answers from that index alone."""
    return Event.objects.filter(
        CONTACT_CONDITION, service_id=service_id, created_at__gte=since, created_at__lt=until
    )


def _weekday(field: str) -> ExtractIsoWeekDay:
    """ISO weekday (1..7) of ``field`` in local time."""
    return ExtractIsoWeekDay(field, tzinfo=local_tz())


def _slot(field: str):
    """Half-hour slot (0..47) of ``field`` in local time."""
    tz = local_tz()
    return ExtractHour(field, tzinfo=tz) * 2 + Case(
        When(GreaterThanOrEqual(ExtractMinute(field, tzinfo=tz), 30), then=Value(1)),
        default=Value(0),
    )


def arrivals(service_id: int, since, until):
    """Contacts per (ISO weekday, half-hour slot): one grouped aggregate over the index
    ``event_contact_time``, whatever the number of events."""
    return (
        contact_events(service_id, since, until)
        .annotate(day=_weekday("created_at"), slot=_slot("created_at"))
        .values("day", "slot")
        .annotate(n=Count("*"))
        .order_by()
    )


def count_contacts(service_id: int, now=None, weeks: int = WEEKS) -> dict[tuple[int, int], int]:
    """(weekday 0..6, half-hour slot) -> contacts of the last ``weeks`` weeks."""
    now = now or timezone.now()
    rows = arrivals(service_id, now - timedelta(weeks=weeks), now)
    return {(row["day"] - 1, row["slot"]): row["n"] for row in rows}


def average_waits(service_id: int, now=None, weeks: int = WEEKS) -> dict[tuple[int, int], float]:
    """(weekday 0..6, half-hour slot of arrival) -> average wait in minutes of the requests of
    every channel that arrived then in the last ``weeks`` weeks, until an agent took them
    (``assigned_at``). One grouped aggregate over the index ``case_service_waits``."""
    now = now or timezone.now()
    rows = (
        CaseModel.objects.filter(
            service_id=service_id,
            created_at__gte=now - timedelta(weeks=weeks),
            created_at__lt=now,
            assigned_at__isnull=False,
        )
        .annotate(day=_weekday("created_at"), slot=_slot("created_at"))
        .values("day", "slot")
        .annotate(
            wait=Avg(
                ExpressionWrapper(F("assigned_at") - F("created_at"), output_field=DurationField())
            )
        )
        .order_by()
    )
    return {
        (row["day"] - 1, row["slot"]): max(row["wait"], timedelta(0)).total_seconds() / 60
        for row in rows
        if row["wait"] is not None
    }


def compute(service_id: int, calendar: ServiceCalendar, now=None, weeks: int = WEEKS) -> Peaks:
    counts = count_contacts(service_id, now, weeks)
    waits = average_waits(service_id, now, weeks)
    if calendar.always_open:
        open_cells = {(d, s) for d in range(7) for s in range(16, 38)}  # 8 h - 19 h
    else:
        open_cells = set()
        for day, ranges in calendar.weekly.items():
            for start, end in ranges:
                first = start.hour * 2 + (start.minute >= 30)
                # The slots the range touches (16:45 ends in the 16:30 slot; 23:59 at 47).
                last = end.hour * 2 + (end.minute >= 30) - (end.minute in (0, 30))
                if end.hour == 23 and end.minute == 59:
                    last = SLOTS_PER_DAY - 1
                open_cells.update((day, s) for s in range(first, last + 1))
    grid = {cell: counts.get(cell, 0) / weeks for cell in open_cells}
    ranked = sorted(grid, key=lambda c: (grid[c], c))
    size = max(1, len(ranked) // 8) if ranked else 0
    calm = ranked[:size] if any(grid.values()) else []
    peak = [c for c in ranked[::-1][:size] if grid[c] > 0]
    return Peaks(
        slots=sorted({s for _d, s in open_cells}),
        days=sorted({d for d, _h in open_cells}),
        grid=grid,
        peak=peak,
        calm=calm,
        waits={cell: wait for cell, wait in waits.items() if cell in open_cells},
    )


def _key(service_id: int) -> str:
    return f"appointments:peaks:halfhour-waits:{service_id}"


def cached(service_id: int, calendar: ServiceCalendar) -> Peaks:
    value = cache.get(_key(service_id))
    if value is None:
        value = refresh(service_id, calendar)
    return value


def refresh(service_id: int, calendar: ServiceCalendar) -> Peaks:
    """Compute and cache (nightly by Celery beat, or on the first view after expiry)."""
    value = compute(service_id, calendar)
    cache.set(_key(service_id), value, PEAKS_TTL)
    return value


def _cells_text(cells: list[tuple[int, int]]) -> str:
    """Adjacent half hours of a day merged into ranges, days with the same ranges together:
    "mardi et jeudi entre 14 h et 16 h"."""
    by_day: dict[int, list[int]] = {}
    for day, slot in sorted(cells):
        by_day.setdefault(day, []).append(slot)
    days_of: dict[tuple[tuple[int, int], ...], list[int]] = {}
    for day, slots in by_day.items():
        ranges: list[tuple[int, int]] = []
        for slot in slots:
            if ranges and ranges[-1][1] == slot:
                ranges[-1] = (ranges[-1][0], slot + 1)
            else:
                ranges.append((slot, slot + 1))
        days_of.setdefault(tuple(ranges), []).append(day)
    parts = []
    for merged, days in sorted(days_of.items(), key=lambda item: item[1]):
        times = [
            _("entre %(start)s et %(end)s") % {"start": slot_label(start), "end": slot_label(end)}
            for start, end in merged
        ]
        parts.append(
            _("%(days)s %(times)s")
            % {"days": join_words([str(DAY_NAMES[d]) for d in days]), "times": join_words(times)}
        )
    return " ; ".join(parts)


def sentence(peaks: Peaks) -> str:
    if not peaks.calm:
        return ""
    text = _("Le moins d'attente : %(cells)s.") % {"cells": _cells_text(peaks.calm)}
    if peaks.peak:
        text += " " + _("Le plus d'affluence : %(cells)s.") % {"cells": _cells_text(peaks.peak)}
    return text


LEVELS = 4  # heat map shades above "none"
SHORT_DAY_NAMES = (
    gettext_lazy("lun."),
    gettext_lazy("mar."),
    gettext_lazy("mer."),
    gettext_lazy("jeu."),
    gettext_lazy("ven."),
    gettext_lazy("sam."),
    gettext_lazy("dim."),
)


def level_of(value: float | None, top: float) -> int:
    """0 for nothing (or closed), else 1..LEVELS: the share of the busiest cell, by quarters."""
    if not value or top <= 0:
        return 0
    return min(LEVELS, int(value / top * LEVELS - 1e-9) + 1)


def heat_rows(peaks: Peaks) -> list[dict]:
    """The rows of the heat map and of its table (the same data): per day shown, each open
    half hour's contacts per week and average wait in minutes, with their levels."""
    top_count = max(peaks.grid.values(), default=0.0)
    top_wait = max(peaks.waits.values(), default=0.0)
    rows = []
    for day in peaks.days:
        cells = []
        for slot in peaks.slots:
            count = peaks.grid.get((day, slot))
            wait = peaks.waits.get((day, slot))
            cells.append(
                {
                    "count": count,
                    "wait": None if wait is None else round(wait),
                    "count_level": level_of(count, top_count),
                    "wait_level": level_of(wait, top_wait),
                    "level": peaks.level(day, slot),
                }
            )
        rows.append({"name": DAY_NAMES[day], "short": SHORT_DAY_NAMES[day], "cells": cells})
    return rows
