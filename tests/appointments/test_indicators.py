from datetime import timedelta

import pytest

from appointments import services
from appointments.indicators import appointment_kpis
from appointments.models import Appointment
from tests.appointments.conftest import available, tuesday


@pytest.mark.django_db
def test_no_show_counts_in_the_indicators(on_site, agent_a, service_a, service_b, citizen, now):
    available(agent_a, service_a)
    first = services.book(citizen, on_site, tuesday(9), now=now)
    second = services.book(citizen, on_site, tuesday(9, 30), now=now)
    services.book(citizen, on_site, tuesday(10), now=now)
    services.mark(first, agent_a, Appointment.Status.NO_SHOW, now=tuesday(9, 10))
    services.mark(second, agent_a, Appointment.Status.ATTENDED, now=tuesday(9, 40))
    day = (tuesday(0), tuesday(0) + timedelta(days=1))
    data = appointment_kpis(*day)
    metrics = {m["key"]: m["value"] for m in data["metrics"]}
    assert metrics["booked"] == 3 and metrics["no_show"] == 1 and metrics["attended"] == 1
    assert metrics["no_show_rate"] == 0.5
    assert appointment_kpis(*day, service_ids=[service_b.pk]) is None
