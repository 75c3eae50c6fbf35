"""Reminders the day before and one hour before, through the notification outbox (no content),
at frozen instants (``now`` passed to the service)."""

from datetime import timedelta

import pytest

from appointments import services
from appointments.models import Appointment
from contactcenter.celery import app
from messaging.models import Notification
from tests.appointments.conftest import available, tuesday


def hour_rows():
    return Notification.objects.filter(
        kind="appointment_reminder", idempotency_key__contains="appointment-hour:"
    )


@pytest.mark.django_db(transaction=True)
def test_day_before_then_hour_before_each_once(on_site, agent_a, service_a, citizen, now):
    citizen.notify_sms = True
    citizen.save()
    available(agent_a, service_a)
    appointment = services.book(citizen, on_site, tuesday(10), now=now)
    assert services.send_due_reminders(now=tuesday(10) - timedelta(hours=25)) == 0
    day_before = tuesday(10) - timedelta(hours=23, minutes=59)
    assert services.send_due_reminders(now=day_before) == 1
    assert services.send_due_reminders(now=day_before + timedelta(minutes=1)) == 0
    rows = Notification.objects.filter(
        kind="appointment_reminder", idempotency_key__contains="appointment-day:"
    )
    assert {r.channel for r in rows} == {"email", "sms"}
    for row in rows:
        text = row.subject + row.text
        # The service's template of the reminder: the date and time, never the topic or address.
        assert "10/03/2026" in text and "10h00" in text, text
        assert "Impôts" not in text and "rue de la Paix" not in text
    hour_before = tuesday(10) - timedelta(minutes=59)
    assert services.send_due_reminders(now=hour_before) == 1
    assert services.send_due_reminders(now=hour_before) == 0
    assert hour_rows().count() == 2
    appointment.refresh_from_db()
    assert appointment.reminded_day_at == day_before and appointment.reminded_hour_at == hour_before


@pytest.mark.django_db(transaction=True)
def test_no_reminder_for_cancelled_or_late_booking(on_site, agent_a, service_a, citizen, now):
    available(agent_a, service_a)
    cancelled = services.book(citizen, on_site, tuesday(10), now=now)
    services.cancel(cancelled, citizen, now=now)
    # Booked 3 hours before: only the hour-before reminder.
    late = services.book(citizen, on_site, tuesday(11), now=tuesday(8))
    assert services.send_due_reminders(now=tuesday(9)) == 0
    assert services.send_due_reminders(now=tuesday(10, 5)) == 1
    assert hour_rows().count() == 1
    assert Appointment.objects.get(pk=late.pk).reminded_day_at is not None


def test_reminders_run_every_minute_on_beat():
    entry = app.conf.beat_schedule["appointments-send-reminders"]
    assert entry["task"] == "appointments.tasks.send_reminders" and entry["schedule"] == 60.0
