"""Peak and off-peak hours of a service, from its real contacts of the last weeks: citizens'
messages, chats, calls, callbacks and recorded contacts, counted per weekday and hour (local
time), averaged per week. Cached (``PEAKS_TTL``): the public page reads the cache."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time as dtime
from datetime import timedelta

from django.core.cache import cache
from django.db.models import Count, F, Q
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contactcenter.models import Event
from routing.calendar import ServiceCalendar, format_hour, local_tz

WEEKS = 8
PEAKS_TTL = 26 * 3600  # recomputed nightly; a missed night recomputes on the next view
CONTACT_TYPES = (
    Event.Type.MESSAGE,
    Event.Type.CHAT,
    Event.Type.CALL,
    Event.Type.CALLBACK,
    Event.Type.CONTACT,
)
DAY_NAMES = (
    gettext_lazy("lundi"),
    gettext_lazy("mardi"),
    gettext_lazy("mercredi"),
    gettext_lazy("jeudi"),
    gettext_lazy("vendredi"),
    gettext_lazy("samedi"),
    gettext_lazy("dimanche"),
)


@dataclass
class Peaks:
    hours: list[int]  # the hours shown (columns)
    days: list[int]  # weekdays 0..6 shown (rows)
    grid: dict[tuple[int, int], float]  # (weekday, hour) -> contacts per week
    peak: list[tuple[int, int]]
    calm: list[tuple[int, int]]

    def level(self, day: int, hour: int) -> str:
        if (day, hour) in self.peak:
            return "peak"
        if (day, hour) in self.calm:
            return "calm"
        return ""


def count_contacts(service_id: int, now=None, weeks: int = WEEKS) -> dict[tuple[int, int], int]:
    """(weekday 0..6, hour) -> contacts of the last ``weeks`` weeks (one grouped query)."""
    now = now or timezone.now()
    rows = (
        Event.objects.filter(
            service_id=service_id,
            created_at__gte=now - timedelta(weeks=weeks),
            created_at__lt=now,
            type__in=CONTACT_TYPES,
            internal=False,
        )
        .filter(Q(actor_id=F("citizen_id")) | Q(type__in=(Event.Type.CALL, Event.Type.CALLBACK)))
        .annotate(
            day=ExtractIsoWeekDay("created_at", tzinfo=local_tz()),
            hour=ExtractHour("created_at", tzinfo=local_tz()),
        )
        .values("day", "hour")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {(row["day"] - 1, row["hour"]): row["n"] for row in rows}


def compute(service_id: int, calendar: ServiceCalendar, now=None, weeks: int = WEEKS) -> Peaks:
    counts = count_contacts(service_id, now, weeks)
    if calendar.always_open:
        open_cells = {(d, h) for d in range(7) for h in range(8, 19)}
    else:
        open_cells = set()
        for day, ranges in calendar.weekly.items():
            for start, end in ranges:
                last = end.hour if end.minute or end.hour == 23 else end.hour - 1
                open_cells.update((day, h) for h in range(start.hour, last + 1))
    grid = {cell: counts.get(cell, 0) / weeks for cell in open_cells}
    ranked = sorted(grid, key=lambda c: (grid[c], c))
    size = max(1, len(ranked) // 8) if ranked else 0
    calm = ranked[:size] if any(grid.values()) else []
    peak = [c for c in ranked[::-1][:size] if grid[c] > 0]
    return Peaks(
        hours=sorted({h for _d, h in open_cells}),
        days=sorted({d for d, _h in open_cells}),
        grid=grid,
        peak=peak,
        calm=calm,
    )


def _key(service_id: int) -> str:
    return f"appointments:peaks:{service_id}"


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
    parts = []
    for day, hour in sorted(cells):
        start, end = dtime(hour), dtime((hour + 1) % 24)
        parts.append(
            _("%(day)s entre %(start)s et %(end)s")
            % {"day": DAY_NAMES[day], "start": format_hour(start), "end": format_hour(end)}
        )
    return ", ".join(parts)


def sentence(peaks: Peaks) -> str:
    if not peaks.calm:
        return ""
    text = _("Le moins d'attente : %(cells)s.") % {"cells": _cells_text(peaks.calm)}
    if peaks.peak:
        text += " " + _("Le plus d'affluence : %(cells)s.") % {"cells": _cells_text(peaks.peak)}
    return text
