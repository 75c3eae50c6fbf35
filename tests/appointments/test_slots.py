from datetime import date, time, timedelta

import pytest

from appointments import services
from appointments.models import Appointment, AvailabilityException
from appointments.slots import free_slots
from routing.models import Closure
from tests.appointments.conftest import available, tuesday


@pytest.mark.django_db
def test_next_slots_come_soonest_first_from_weekly_availability(on_site, agent_a, service_a, now):
    available(agent_a, service_a, day=1, start=time(9), end=time(10, 30))
    slots = free_slots(on_site, now=now)
    assert [s.start for s in slots[:3]] == [tuesday(9), tuesday(9, 30), tuesday(10)]
    assert slots[0].end - slots[0].start == timedelta(minutes=30)
    # The next Tuesday follows (weekly), and the list is limited.
    assert slots[3].start == tuesday(9) + timedelta(days=7)
    assert len(free_slots(on_site, now=now, limit=5)) == 5


@pytest.mark.django_db
def test_keyset_paging_continues_after_the_last_slot_shown(on_site, agent_a, service_a, now):
    available(agent_a, service_a, day=1, start=time(9), end=time(10, 30))
    first = free_slots(on_site, now=now, limit=2)
    rest = free_slots(on_site, now=now, limit=2, after=first[-1].start)
    assert rest[0].start == tuesday(10)


@pytest.mark.django_db
def test_booked_slot_with_buffer_disappears(on_site, agent_a, service_a, citizen, now):
    on_site.buffer_minutes = 15
    on_site.save()
    available(agent_a, service_a, day=1, start=time(9), end=time(11))
    starts = [s.start for s in free_slots(on_site, now=now)]
    assert starts[:3] == [tuesday(9), tuesday(9, 45), tuesday(10, 30)]
    services.book(citizen, on_site, tuesday(9), now=now)
    starts = [s.start for s in free_slots(on_site, now=now)]
    assert tuesday(9) not in starts and starts[0] == tuesday(9, 45)


@pytest.mark.django_db
def test_exception_holiday_and_closure_remove_days(on_site, agent_a, service_a, now):
    for day in range(7):
        available(agent_a, service_a, day=day, start=time(9), end=time(10))
    AvailabilityException.objects.create(agent=agent_a, day=tuesday(9).date(), reason="Formation")
    AvailabilityException.objects.create(
        agent=agent_a, day=date(2026, 3, 11), start=time(9), end=time(9, 30)
    )
    Closure.objects.create(
        service=service_a, start_date=date(2026, 3, 12), end_date=date(2026, 3, 12)
    )
    days = {s.start.date() for s in free_slots(on_site, now=now, limit=40)}
    assert date(2026, 3, 10) not in days  # the agent is away
    assert date(2026, 3, 12) not in days  # the service is closed
    wednesday = [s.start for s in free_slots(on_site, now=now, limit=40) if s.start.day == 11]
    assert [t.strftime("%H:%M") for t in wednesday] == ["09:30"]
    # Easter Monday 2026 (6 April) is a public holiday.
    assert date(2026, 4, 6) not in {s.start.date() for s in free_slots(on_site, now=now, limit=200)}
    assert date(2026, 4, 7) in {s.start.date() for s in free_slots(on_site, now=now, limit=200)}


@pytest.mark.django_db
def test_daily_capacity_and_minimum_notice(on_site, agent_a, service_a, citizen, citizen2, now):
    on_site.daily_capacity = 1
    on_site.min_notice_hours = 25
    on_site.save()
    available(agent_a, service_a, day=1, start=time(9), end=time(12))
    starts = [s.start for s in free_slots(on_site, now=now)]
    assert starts[0] == tuesday(10)  # 25 h of notice from Monday 9:00
    services.book(citizen, on_site, tuesday(10), now=now)
    starts = [s.start for s in free_slots(on_site, now=now)]
    assert all(s.date() != tuesday(10).date() for s in starts)
    assert Appointment.objects.count() == 1


@pytest.mark.django_db
def test_agent_without_the_topic_skill_offers_no_slot(on_site, agent_b, service_a, now):
    available(agent_b, service_a)
    assert free_slots(on_site, now=now) == []
