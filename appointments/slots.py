"""Free slots of an appointment type: agents' weekly availabilities, minus their exceptions,
the service's holidays and closures (routing's calendar), appointments already held (buffer
included) and the daily capacity. Computed a week at a time from the first bookable moment, so
asking for the next few slots reads a week of appointments, not the whole horizon."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from contactcenter.models import User
from routing.calendar import calendar_for, local_tz

from .models import Appointment, AppointmentType, Availability, AvailabilityException

CHUNK_DAYS = 7


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    agent_ids: tuple[int, ...]

    @property
    def value(self) -> str:
        return self.start.isoformat()


def _availabilities(atype: AppointmentType, agent_ids=None) -> dict[int, list[Availability]]:
    qs = Availability.objects.filter(
        service_id=atype.service_id, agent__is_active=True, agent__role=User.Role.AGENT
    )
    if atype.topic.skill_id:
        qs = qs.filter(agent__agent_profile__skills=atype.topic.skill_id)
    if agent_ids is not None:
        qs = qs.filter(agent_id__in=agent_ids)
    by_day: dict[int, list[Availability]] = defaultdict(list)
    for availability in qs.order_by("start", "agent_id").distinct():
        if availability.allows(atype.mode):
            by_day[availability.weekday].append(availability)
    return by_day


def _slots_between(
    atype: AppointmentType,
    by_day: dict[int, list[Availability]],
    earliest: datetime,
    first: date,
    last: date,
) -> dict[datetime, list[int]]:
    """Free starts (-> free agents) on the days ``first``..``last`` at or after ``earliest``."""
    tz = local_tz()
    agent_ids = {a.agent_id for ranges in by_day.values() for a in ranges}
    if not agent_ids:
        return {}
    window_start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    window_end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    held: dict[int, list[tuple[datetime, datetime, int]]] = defaultdict(list)
    for agent_id, start, busy_until, type_id in Appointment.objects.filter(
        agent_id__in=agent_ids,
        status__in=Appointment.HOLDING,
        start__lt=window_end,
        busy_until__gt=window_start,
    ).values_list("agent_id", "start", "busy_until", "type_id"):
        held[agent_id].append((start, busy_until, type_id))
    away: dict[tuple[int, date], list[tuple[datetime, datetime] | None]] = defaultdict(list)
    for exc in AvailabilityException.objects.filter(
        agent_id__in=agent_ids, day__gte=first, day__lte=last
    ):
        if exc.start is None or exc.end is None:
            away[(exc.agent_id, exc.day)].append(None)
        else:
            away[(exc.agent_id, exc.day)].append(
                (
                    datetime.combine(exc.day, exc.start, tzinfo=tz),
                    datetime.combine(exc.day, exc.end, tzinfo=tz),
                )
            )
    calendar = calendar_for(atype.service_id)
    found: dict[datetime, list[int]] = defaultdict(list)
    day = first
    while day <= last:
        if calendar.closed_reason(day):
            day += timedelta(days=1)
            continue
        for availability in by_day.get(day.weekday(), []):
            agent_id = availability.agent_id
            blocks = away.get((agent_id, day), [])
            if None in blocks:
                continue
            taken = held.get(agent_id, [])
            if atype.daily_capacity:
                same_day = sum(
                    1 for s, _e, t in taken if t == atype.pk and s.astimezone(tz).date() == day
                )
                if same_day >= atype.daily_capacity:
                    continue
            cursor = datetime.combine(day, availability.start, tzinfo=tz)
            range_end = datetime.combine(day, availability.end, tzinfo=tz)
            while cursor + atype.duration <= range_end:
                until = cursor + atype.step
                if (
                    cursor >= earliest
                    and not any(cursor < e and s < until for s, e, _t in taken)
                    and not any(b and cursor < b[1] and b[0] < until for b in blocks)
                    and agent_id not in found[cursor]
                ):
                    found[cursor].append(agent_id)
                cursor += atype.step
        day += timedelta(days=1)
    return {start: agents for start, agents in found.items() if agents}


def earliest_start(atype: AppointmentType, now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    return now + timedelta(hours=atype.min_notice_hours)


def horizon_day(atype: AppointmentType, now: datetime) -> date:
    """The last bookable day (local), whole: its slots are offered whatever the time now."""
    return (now + timedelta(days=atype.horizon_days)).astimezone(local_tz()).date()


def free_slots(
    atype: AppointmentType,
    *,
    after: datetime | None = None,
    limit: int = 12,
    now: datetime | None = None,
) -> list[Slot]:
    """The next ``limit`` free slots, soonest first, strictly after ``after`` (keyset paging)."""
    now = now or timezone.now()
    earliest = earliest_start(atype, now)
    if after is not None and after >= earliest:
        earliest = after + timedelta(seconds=1)
    horizon = horizon_day(atype, now)
    by_day = _availabilities(atype)
    result: list[Slot] = []
    first = earliest.astimezone(local_tz()).date()
    while first <= horizon and len(result) < limit:
        last = min(first + timedelta(days=CHUNK_DAYS - 1), horizon)
        found = _slots_between(atype, by_day, earliest, first, last)
        for start in sorted(found):
            result.append(Slot(start, start + atype.duration, tuple(sorted(found[start]))))
            if len(result) >= limit:
                break
        first = last + timedelta(days=1)
    return result


def agents_free_at(
    atype: AppointmentType, start: datetime, *, earliest: datetime, agent_ids=None
) -> list[int]:
    """Agents who can take an appointment of ``atype`` starting exactly at ``start``."""
    day = start.astimezone(local_tz()).date()
    by_day = _availabilities(atype, agent_ids)
    return _slots_between(atype, by_day, earliest, day, day).get(start, [])


def day_filter(day: date) -> Q:
    tz = local_tz()
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    return Q(start__gte=start, start__lt=start + timedelta(days=1))
