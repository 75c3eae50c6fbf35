"""A visio appointment gets its case's visio room (through the core appointment signals, the
visio app connects): opening 15 min before the slot, following a move, ended by a cancel."""

from datetime import timedelta

import pytest

from appointments import services
from contactcenter.models import Channel
from tests.appointments.conftest import available, tuesday
from visio.models import Room


@pytest.mark.django_db(transaction=True)
def test_visio_appointment_opens_follows_and_ends_its_room(visio, agent_a, service_a, citizen, now):
    available(agent_a, service_a)
    appointment = services.book(citizen, visio, tuesday(11), now=now)
    assert appointment.case.channel == Channel.VISIO
    first = Room.objects.get(case=appointment.case, status=Room.Status.OPEN)
    assert first.source == f"appointment:{appointment.pk}"
    assert first.not_before == tuesday(11)
    assert first.expires_at == tuesday(11, 30) + timedelta(minutes=30)
    assert set(first.participants.values_list("user_id", flat=True)) == {citizen.pk, agent_a.pk}

    moved = services.move(appointment, citizen, tuesday(10), now=now)
    rooms = Room.objects.filter(case=appointment.case)
    current = rooms.get(status=Room.Status.OPEN)
    assert current.source == f"appointment:{moved.pk}" and current.not_before == tuesday(10)
    first.refresh_from_db()
    assert first.status == Room.Status.ENDED and first.end_reason == Room.EndReason.CANCELLED

    services.cancel(moved, citizen, now=now - timedelta(hours=2))
    assert not rooms.filter(status=Room.Status.OPEN).exists()


@pytest.mark.django_db(transaction=True)
def test_an_appointment_on_site_opens_no_room(on_site, agent_a, service_a, citizen, now):
    available(agent_a, service_a)
    appointment = services.book(citizen, on_site, tuesday(9), now=now)
    assert not Room.objects.filter(case=appointment.case).exists()
