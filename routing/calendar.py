"""Business calendar of a service: weekly opening ranges, French public holidays, closures.

Public holidays come from the ``holidays`` package, for the service's holiday zone (metropole,
Alsace-Moselle, each overseas department and collectivity).

All arithmetic happens in the project time zone (Europe/Paris) so that daylight-saving changes
and "8:30 local" stay right. A service with no weekly range configured is treated as always open
(24/7, holidays ignored): configure opening hours to get business-time SLAs.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language, gettext, gettext_lazy

SEARCH_DAYS = 400  # never loop forever on a calendar that is closed for a year


# The holiday zone of a service (``Service.holiday_zone``) -> subdivision of the ``holidays``
# package's France calendar (None: the national list of metropolitan France). Alsace and
# Moselle share the same two extra days (Good Friday, 26 December).
HOLIDAY_SUBDIVISIONS: dict[str, str | None] = {
    "metropole": None,
    "alsace-moselle": "6AE",
    "guadeloupe": "971",
    "martinique": "972",
    "guyane": "973",
    "reunion": "974",
    "mayotte": "976",
    "saint-barthelemy": "BL",
    "saint-martin": "MF",
    "saint-pierre-et-miquelon": "PM",
    "nouvelle-caledonie": "NC",
    "polynesie-francaise": "PF",
    "wallis-et-futuna": "WF",
}
DEFAULT_ZONE = "metropole"


def _holiday_language() -> str:
    # The package names holidays in French ("fr") or American English ("en_US").
    return "en_US" if (get_language() or "fr").startswith("en") else "fr"


@lru_cache(maxsize=256)
def _holidays(year: int, zone: str, language: str) -> dict[date, str]:
    subdiv = HOLIDAY_SUBDIVISIONS.get(zone)
    days = holidays.France(years=year, subdiv=subdiv, language=language)
    return dict(days.items())


def french_holidays(year: int, zone: str = DEFAULT_ZONE) -> dict[date, str]:
    """The public holidays of a French zone (see ``HOLIDAY_SUBDIVISIONS``) in ``year``, named
    in the active language: the 11 national days, plus the zone's own (Good Friday and
    26 December in Alsace-Moselle, abolition of slavery overseas...)."""
    return _holidays(year, zone, _holiday_language())


def holiday_name(day: date, zone: str = DEFAULT_ZONE) -> str | None:
    return french_holidays(day.year, zone).get(day)


@lru_cache(maxsize=256)
def _holiday_dates(year: int, zone: str) -> frozenset[date]:
    return frozenset(_holidays(year, zone, "fr"))


def is_holiday(day: date, zone: str = DEFAULT_ZONE) -> bool:
    """Whether ``day`` is a public holiday of ``zone`` (no name, no language: the hot path)."""
    return day in _holiday_dates(day.year, zone)


def local_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


@dataclass
class ServiceCalendar:
    """Opening ranges by weekday (0 = Monday) and closed date ranges, for one service."""

    weekly: dict[int, list[tuple[dtime, dtime]]] = field(default_factory=dict)
    closures: list[tuple[date, date]] = field(default_factory=list)
    # The weekly ranges that stay open on public holidays (a subset of ``weekly``).
    holiday_weekly: dict[int, list[tuple[dtime, dtime]]] = field(default_factory=dict)
    # Which public holidays apply: a key of ``HOLIDAY_SUBDIVISIONS`` (the service's setting).
    zone: str = DEFAULT_ZONE

    def holiday_name(self, day: date) -> str | None:
        return holiday_name(day, self.zone)

    @property
    def always_open(self) -> bool:
        return not any(self.weekly.values())

    def closed_reason(self, day: date) -> str | None:
        """Why a day with weekly ranges is closed anyway (holiday or closure), else None."""
        name = self.holiday_name(day)
        if name:
            return name
        for start, end in self.closures:
            if start <= day <= end:
                return "Fermeture exceptionnelle"
        return None

    def ranges_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """Aware (start, end) opening ranges of a calendar day, empty when closed."""
        tz = local_tz()
        if self.always_open:
            start = datetime.combine(day, dtime.min, tzinfo=tz)
            return [(start, datetime.combine(day + timedelta(days=1), dtime.min, tzinfo=tz))]
        ranges = self.weekly.get(day.weekday()) or []
        if ranges and is_holiday(day, self.zone):
            ranges = self.holiday_weekly.get(day.weekday()) or []
        if not ranges or any(start <= day <= end for start, end in self.closures):
            return []
        return [(datetime.combine(day, s, tzinfo=tz), _range_end(day, e, tz)) for s, e in ranges]

    def is_working_day(self, day: date) -> bool:
        return bool(self.ranges_on(day))

    def is_open(self, at: datetime | None = None) -> bool:
        at = (at or timezone.now()).astimezone(local_tz())
        return any(s <= at < e for s, e in self.ranges_on(at.date()))

    def next_open(self, at: datetime) -> datetime | None:
        """The first open moment at or after ``at`` (``at`` itself when open)."""
        at = at.astimezone(local_tz())
        day = at.date()
        for _ in range(SEARCH_DAYS):
            for s, e in self.ranges_on(day):
                if at < e:
                    return max(s, at)
            day += timedelta(days=1)
        return None

    def add_business_time(self, at: datetime, delta: timedelta) -> datetime:
        """The moment when ``delta`` of opening time has elapsed after ``at``."""
        remaining = delta
        at = at.astimezone(local_tz())
        if remaining <= timedelta(0):
            return at
        day = at.date()
        for _ in range(SEARCH_DAYS):
            for s, e in self.ranges_on(day):
                if e <= at:
                    continue
                begin = max(s, at)
                available = e - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
            day += timedelta(days=1)
        return at + delta  # calendar closed for a year: fall back to wall-clock time

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Opening time elapsed between two moments (negative when ``end`` is before ``start``)."""
        if end < start:
            return -self.business_time_between(end, start)
        tz = local_tz()
        start, end = start.astimezone(tz), end.astimezone(tz)
        total = timedelta(0)
        day = start.date()
        while day <= end.date():
            for s, e in self.ranges_on(day):
                overlap = min(e, end) - max(s, start)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total

    def add_working_days(self, at: datetime, days: int) -> datetime:
        """``days`` working days after ``at``, at the same business position in the day.

        A contact on Friday at 16:00 with 2 working days is due on Tuesday at 16:00; one that
        arrives on Saturday is due on Wednesday at opening (counting starts Monday at opening).
        """
        if self.always_open:
            return at + timedelta(days=days)
        start = self.next_open(at)
        if start is None:
            return at + timedelta(days=days)
        offset = self.business_time_between(self.ranges_on(start.date())[0][0], start)
        day = start.date()
        found = 0
        for _ in range(SEARCH_DAYS):
            day += timedelta(days=1)
            if self.is_working_day(day):
                found += 1
                if found == days:
                    break
        else:
            return at + timedelta(days=days)
        ranges = self.ranges_on(day)
        day_length = sum((e - s for s, e in ranges), timedelta(0))
        if offset >= day_length:
            return ranges[-1][1]
        return self.add_business_time(ranges[0][0], offset) if offset else ranges[0][0]

    def slots(
        self, start: datetime, *, days: int, length: timedelta
    ) -> list[tuple[datetime, datetime]]:
        """Slots of ``length`` inside opening ranges, from ``start`` on, over ``days`` working
        days (slots are aligned on each range's opening time)."""
        result: list[tuple[datetime, datetime]] = []
        if self.always_open:
            return result  # callbacks need real opening hours
        start = start.astimezone(local_tz())
        day = start.date()
        seen = 0
        for _ in range(SEARCH_DAYS):
            ranges = self.ranges_on(day)
            if ranges:
                for s, e in ranges:
                    cursor = s
                    while cursor + length <= e:
                        if cursor >= start:
                            result.append((cursor, cursor + length))
                        cursor += length
                seen += 1
                if seen >= days:
                    break
            day += timedelta(days=1)
        return result


def _range_end(day: date, end: dtime, tz: ZoneInfo) -> datetime:
    # A range that ends at 23:59 runs until midnight (a time field cannot say 24:00).
    if end >= END_OF_DAY:
        return datetime.combine(day + timedelta(days=1), dtime.min, tzinfo=tz)
    return datetime.combine(day, end, tzinfo=tz)


END_OF_DAY = dtime(23, 59)

_cache: dict[int, tuple[float, int, ServiceCalendar]] = {}
_cache_lock = threading.Lock()
CACHE_SECONDS = 60.0
# Bumped in the shared Django cache (Redis in production) on every edit, so that the calendars
# other processes hold are dropped at once, not up to a minute later.
VERSION_KEY = "routing:calendar:version"


def calendar_for(service_id: int) -> ServiceCalendar:
    """The calendar of a service, cached per process for a minute and until an edit anywhere
    (the shared version moves)."""
    now = time.monotonic()
    version = cache.get(VERSION_KEY, 0)
    with _cache_lock:
        hit = _cache.get(service_id)
        if hit and hit[1] == version and now - hit[0] < CACHE_SECONDS:
            return hit[2]
    from contactcenter.models import Service

    from .models import Closure, OpeningHours

    weekly: dict[int, list[tuple[dtime, dtime]]] = {}
    holiday_weekly: dict[int, list[tuple[dtime, dtime]]] = {}
    for weekday, s, e, on_holidays in OpeningHours.objects.filter(
        service_id=service_id
    ).values_list("weekday", "start", "end", "on_holidays"):
        weekly.setdefault(weekday, []).append((s, e))
        if on_holidays:
            holiday_weekly.setdefault(weekday, []).append((s, e))
    for ranges in (*weekly.values(), *holiday_weekly.values()):
        ranges.sort()
    closures = list(
        Closure.objects.filter(service_id=service_id).values_list("start_date", "end_date")
    ) + list(Closure.objects.filter(service__isnull=True).values_list("start_date", "end_date"))
    zone = (
        Service.objects.filter(pk=service_id).values_list("holiday_zone", flat=True).first()
        or DEFAULT_ZONE
    )
    cal = ServiceCalendar(
        weekly=weekly, closures=closures, holiday_weekly=holiday_weekly, zone=zone
    )
    with _cache_lock:
        _cache[service_id] = (now, version, cal)
    return cal


def _bump_version() -> None:
    cache.add(VERSION_KEY, 0, None)
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # evicted between the two calls
        cache.set(VERSION_KEY, 1, None)


def clear_calendar_cache(*args, **kwargs) -> None:
    """Forget the cached calendars in this process and, through the shared version, in every
    other one; bumped again after commit so that no process keeps a calendar read before it."""
    with _cache_lock:
        _cache.clear()
    _bump_version()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(_bump_version)


# --- Human-readable schedule ---------------------------------------------------------------------

WEEKDAY_NAMES = (
    gettext_lazy("lundi"),
    gettext_lazy("mardi"),
    gettext_lazy("mercredi"),
    gettext_lazy("jeudi"),
    gettext_lazy("vendredi"),
    gettext_lazy("samedi"),
    gettext_lazy("dimanche"),
)


def format_hour(value: dtime) -> str:
    """8:30 -> "8 h 30", 9:00 -> "9 h" (French usage; "8:30" / "9:00" in English)."""
    if value >= END_OF_DAY:
        return gettext("minuit")
    if value.minute:
        return gettext("%(h)d h %(m)02d") % {"h": value.hour, "m": value.minute}
    return gettext("%(h)d h") % {"h": value.hour}


def join_words(parts: list[str]) -> str:
    """["lundi", "mardi", "jeudi"] -> "lundi, mardi et jeudi"."""
    if len(parts) == 1:
        return parts[0]
    return gettext("%(first)s et %(last)s") % {"first": ", ".join(parts[:-1]), "last": parts[-1]}


def _is_full_day(ranges: list[tuple[dtime, dtime]]) -> bool:
    return len(ranges) == 1 and ranges[0][0] == dtime.min and ranges[0][1] >= END_OF_DAY


def weekly_schedule_text(cal: ServiceCalendar) -> str:
    """ "du lundi au vendredi de 8 h 30 à 17 h 30, le samedi de 9 h à 12 h"."""
    groups: list[tuple[int, int, list]] = []  # (first weekday, last weekday, ranges)
    for weekday in range(7):
        ranges = sorted(cal.weekly.get(weekday) or [])
        if not ranges:
            continue
        if groups and groups[-1][1] == weekday - 1 and groups[-1][2] == ranges:
            groups[-1] = (groups[-1][0], weekday, ranges)
        else:
            groups.append((weekday, weekday, ranges))
    parts = []
    for first, last, ranges in groups:
        if first == last:
            days = gettext("le %(day)s") % {"day": WEEKDAY_NAMES[first]}
        else:
            days = gettext("du %(first)s au %(last)s") % {
                "first": WEEKDAY_NAMES[first],
                "last": WEEKDAY_NAMES[last],
            }
        if _is_full_day(ranges):
            hours = gettext("24 h sur 24")
        else:
            hours = join_words(
                [
                    gettext("de %(start)s à %(end)s")
                    % {"start": format_hour(s), "end": format_hour(e)}
                    for s, e in ranges
                ]
            )
        parts.append(gettext("%(days)s %(hours)s") % {"days": days, "hours": hours})
    # Commas between day groups: "et" already joins the ranges of one day.
    return ", ".join(parts)


def _day_label(day: date, today: date) -> str:
    if day == today:
        return gettext("aujourd'hui")
    if day == today + timedelta(days=1):
        return gettext("demain")
    if day - today < timedelta(days=7):
        return str(WEEKDAY_NAMES[day.weekday()])
    return gettext("le %(date)s") % {"date": date_format(day, "j F")}


def chat_schedule_text(cal: ServiceCalendar, at: datetime | None = None) -> str:
    """What a citizen reads where the chat button would be, e.g. "Le tchat est ouvert du lundi
    au vendredi de 8 h 30 à 17 h 30 (réouverture lundi à 8 h 30)". Localized; the reopening
    is said only while closed."""
    if cal.always_open or all(_is_full_day(cal.weekly.get(d) or []) for d in range(7)):
        text = gettext("Le tchat est ouvert 7 jours sur 7, 24 h sur 24")
    else:
        text = gettext("Le tchat est ouvert %(schedule)s") % {"schedule": weekly_schedule_text(cal)}
    return with_closure(cal, text, at)


def service_schedule_text(cal: ServiceCalendar, at: datetime | None = None) -> str:
    """The same for the whole service (the phone's welcome): "Le service est ouvert du lundi au
    vendredi de 8 h 30 à 17 h 30", with today's closure and the reopening while closed."""
    if cal.always_open or all(_is_full_day(cal.weekly.get(d) or []) for d in range(7)):
        text = gettext("Le service est ouvert 7 jours sur 7, 24 h sur 24")
    else:
        text = gettext("Le service est ouvert %(schedule)s") % {
            "schedule": weekly_schedule_text(cal)
        }
    return with_closure(cal, text, at)


def with_closure(cal: ServiceCalendar, text: str, at: datetime | None = None) -> str:
    """A schedule sentence, with the reopening (and today's holiday or closure) while closed."""
    at = (at or timezone.now()).astimezone(local_tz())
    if cal.is_open(at):
        return text
    today = at.date()
    reason = None
    if cal.weekly.get(today.weekday()) and not cal.ranges_on(today):
        reason = cal.holiday_name(today) or gettext("fermeture exceptionnelle")
    reopening = cal.next_open(at)
    if reopening is not None:
        text = gettext("%(text)s (réouverture %(day)s à %(time)s)") % {
            "text": text,
            "day": _day_label(reopening.date(), today),
            "time": format_hour(reopening.time()),
        }
    if reason:
        text = gettext("Fermé aujourd'hui (%(reason)s). %(text)s") % {
            "reason": reason,
            "text": text,
        }
    return text
