"""No double booking: parallel bookings of the last slot on PostgreSQL, each in its own
connection (tests/concurrency.py)."""

import pytest
from django.core.exceptions import ValidationError

from appointments import services
from appointments.models import Appointment
from tests.appointments.conftest import available, tuesday
from tests.concurrency import POSTGRES_ONLY, race
from tests.conftest import make_user

pytestmark = POSTGRES_ONLY


@pytest.mark.django_db(transaction=True)
def test_parallel_bookings_of_the_last_slot_book_it_once(on_site, agent_a, service_a, now):
    from datetime import time

    # One agent, one slot left on Tuesday morning.
    available(agent_a, service_a, day=1, start=time(9), end=time(9, 30))
    citizens = [make_user(f"usager{i}@example.fr", "citizen") for i in range(6)]
    for round_ in range(2):
        start = tuesday(9).replace(day=10 + 7 * round_)
        results = race(
            [lambda c=c, s=start: services.book(c, on_site, s, now=now) for c in citizens]
        )
        booked = [r for r in results if isinstance(r, Appointment)]
        refused = [r for r in results if isinstance(r, ValidationError)]
        assert len(booked) == 1, results
        assert len(refused) == len(citizens) - 1, results
        assert Appointment.objects.filter(start=start).count() == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_bookings_spread_over_two_agents(on_site, agent_a, service_a, skill_a, now):
    from datetime import time

    from tests.conftest import make_staff

    other = make_staff("autre@guichet.example.fr", "agent", [service_a], [skill_a])
    for agent in (agent_a, other):
        available(agent, service_a, day=1, start=time(9), end=time(9, 30))
    citizens = [make_user(f"usager{i}@example.fr", "citizen") for i in range(5)]
    results = race([lambda c=c: services.book(c, on_site, tuesday(9), now=now) for c in citizens])
    booked = [r for r in results if isinstance(r, Appointment)]
    assert len(booked) == 2, results
    assert {a.agent_id for a in booked} == {agent_a.pk, other.pk}
