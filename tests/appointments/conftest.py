from datetime import datetime, time, timedelta

import pytest

from appointments.models import AppointmentType, Availability, Mode
from routing.calendar import local_tz

# A Tuesday at 9:00, far from any French public holiday.
MONDAY = datetime(2026, 3, 9, 9, 0, tzinfo=local_tz())


@pytest.fixture
def now():
    return MONDAY


@pytest.fixture
def on_site(service_a, topic_a):
    return AppointmentType.objects.create(
        service=service_a,
        topic=topic_a,
        mode=Mode.ON_SITE,
        duration_minutes=30,
        buffer_minutes=0,
        min_notice_hours=1,
        address="1 rue de la Paix, Paris",
        documents="Pièce d'identité\nAvis d'imposition",
    )


@pytest.fixture
def visio(service_a, topic_a):
    return AppointmentType.objects.create(
        service=service_a, topic=topic_a, mode=Mode.VISIO, duration_minutes=30, min_notice_hours=1
    )


def available(agent, service, day=1, start=time(9, 0), end=time(12, 0)):
    return Availability.objects.create(
        agent=agent, service=service, weekday=day, start=start, end=end
    )


def tuesday(hour, minute=0):
    return (MONDAY + timedelta(days=1)).replace(hour=hour, minute=minute)
