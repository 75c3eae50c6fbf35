from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from icalendar import Calendar

from appointments import services
from appointments.ics import appointment_ics
from appointments.models import Appointment
from contactcenter.exceptions import InvalidState, NotFound
from contactcenter.models import Case
from contactcenter.signals import appointment_booked, appointment_cancelled, citizen_notification
from messaging.models import AlertPreference, Notification, NotificationTemplate
from tests.appointments.conftest import available, tuesday


@pytest.fixture
def received():
    calls = []

    def booked(sender, **kwargs):
        calls.append(("booked", kwargs))

    def cancelled(sender, **kwargs):
        calls.append(("cancelled", kwargs))

    appointment_booked.connect(booked, dispatch_uid="test.booked")
    appointment_cancelled.connect(cancelled, dispatch_uid="test.cancelled")
    yield calls
    appointment_booked.disconnect(dispatch_uid="test.booked")
    appointment_cancelled.disconnect(dispatch_uid="test.cancelled")


@pytest.mark.django_db(transaction=True)
def test_booking_opens_a_case_for_the_agent_signals_and_mails_the_ics(
    on_site, agent_a, service_a, citizen, now, received
):
    citizen.notify_sms = True
    citizen.save(update_fields=["notify_sms"])
    available(agent_a, service_a)
    appointment = services.book(citizen, on_site, tuesday(9), now=now)
    assert appointment.agent == agent_a and appointment.end == tuesday(9, 30)
    case = appointment.case
    assert case.citizen == citizen and case.assigned_to == agent_a
    assert case.status == Case.Status.WAITING_CITIZEN  # out of routing's queues and capacity
    assert received == [
        (
            "booked",
            {
                "signal": appointment_booked,
                "appointment_id": appointment.pk,
                "case": case,
                "mode": "on_site",
                "start": tuesday(9),
                "end": tuesday(9, 30),
                "agent_id": agent_a.pk,
            },
        )
    ]
    # The confirmation goes through the service's template and the outbox, with the .ics.
    [message] = mail.outbox
    assert message.to == [citizen.email]
    assert message.subject == f"Confirmation de votre rendez-vous {case.reference}"
    assert "le 10/03/2026 à 09h00" in message.body
    assert f"/rendez-vous/{appointment.public_id}/" in message.body
    assert "Impôts" not in message.body  # no topic in an e-mail
    name, content, mimetype = message.attachments[0]
    assert (name, mimetype) == ("rendez-vous.ics", "text/calendar")
    event = Calendar.from_ical(content).walk("VEVENT")[0]
    assert event.decoded("dtstart") == tuesday(9)
    assert "1 rue de la Paix" in str(event["location"])
    assert "Pièce d'identité" in str(event["description"])
    assert "Impôts" not in str(content)
    sms = Notification.objects.get(channel="sms")
    assert sms.kind == "appointment_booked" and sms.status == Notification.Status.SENT
    assert "le 10/03/2026 à 09h00" in sms.text and sms.files == []
    # Sent once: the task again, or the same alert signalled again, sends nothing more.
    from appointments.tasks import send_confirmation

    assert send_confirmation(appointment.pk) is False
    citizen_notification.send(
        sender=Appointment,
        citizen_id=citizen.pk,
        case_id=case.pk,
        kind="appointment_booked",
        key=f"appointment-booked:{appointment.pk}",
        params=services.alert_params(appointment),
    )
    assert len(mail.outbox) == 1
    assert Notification.objects.filter(kind="appointment_booked").count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_confirmation_uses_the_services_wording_and_the_citizens_choices(
    on_site, agent_a, service_a, citizen, now
):
    NotificationTemplate.objects.create(
        service=service_a,
        event="appointment_booked",
        channel="email",
        language="fr",
        subject="RDV {reference} confirmé",
        body="Le {date} à {time}, guichet {service} : {link}",
    )
    available(agent_a, service_a)
    first = services.book(citizen, on_site, tuesday(9), now=now)
    [message] = mail.outbox
    assert message.subject == f"RDV {first.case.reference} confirmé"
    assert message.body.startswith(f"Le 10/03/2026 à 09h00, guichet {service_a.name} : ")
    assert message.attachments[0][2] == "text/calendar"
    # Appointment e-mails turned off: the next booking's confirmation is not e-mailed.
    AlertPreference.objects.create(user=citizen, appointments_email=False)
    second = services.book(citizen, on_site, tuesday(10), now=now)
    assert len(mail.outbox) == 1
    second.refresh_from_db()
    assert second.confirmation_sent_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_failed_outbox_write_leaves_the_confirmation_to_the_retry(
    on_site, agent_a, service_a, citizen, now, monkeypatch
):
    from appointments.tasks import send_confirmation
    from messaging import notifications

    available(agent_a, service_a)
    monkeypatch.setattr(send_confirmation, "delay_on_commit", lambda *args: None)
    appointment = services.book(citizen, on_site, tuesday(9), now=now)
    real = notifications.queue_for_citizen

    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(notifications, "queue_for_citizen", broken)
    with pytest.raises(RuntimeError):
        services.confirm(appointment.pk)
    appointment.refresh_from_db()
    assert appointment.confirmation_sent_at is None and not mail.outbox
    monkeypatch.setattr(notifications, "queue_for_citizen", real)
    assert services.confirm(appointment.pk) is True
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_last_slot_taken_is_refused(on_site, agent_a, service_a, citizen, citizen2, now):
    available(agent_a, service_a)
    services.book(citizen, on_site, tuesday(9), now=now)
    with pytest.raises(ValidationError) as exc:
        services.book(citizen2, on_site, tuesday(9), now=now)
    assert "vient d'être réservé" in str(exc.value)
    with pytest.raises(ValidationError):
        services.book(citizen2, on_site, tuesday(9, 10), now=now)  # not a slot start


@pytest.mark.django_db
def test_two_agents_share_a_start(on_site, agent_a, service_a, citizen, citizen2, skill_a, now):
    from tests.conftest import make_staff

    other = make_staff("autre@guichet.example.fr", "agent", [service_a], [skill_a])
    available(agent_a, service_a)
    available(other, service_a)
    first = services.book(citizen, on_site, tuesday(9), now=now)
    second = services.book(citizen2, on_site, tuesday(9), now=now)
    assert {first.agent_id, second.agent_id} == {agent_a.pk, other.pk}


@pytest.mark.django_db(transaction=True)
def test_cancel_and_move_until_the_cutoff(
    on_site, agent_a, service_a, citizen, citizen2, now, received
):
    available(agent_a, service_a)
    appointment = services.book(citizen, on_site, tuesday(11), now=now)
    with pytest.raises(NotFound):
        services.move(appointment, citizen2, tuesday(10), now=now)
    moved = services.move(appointment, citizen, tuesday(10), now=now)
    assert moved.case_id == appointment.case_id and moved.start == tuesday(10)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert [kind for kind, _kw in received] == ["booked", "booked", "cancelled"]
    # 24 h before: too late for the citizen online.
    late = tuesday(10) - timedelta(hours=23)
    with pytest.raises(InvalidState):
        services.cancel(moved, citizen, now=late)
    services.cancel(moved, citizen, now=late - timedelta(hours=2))
    moved.refresh_from_db()
    assert moved.status == Appointment.Status.CANCELLED
    # The slot is free again.
    assert services.book(citizen2, on_site, tuesday(10), now=now).agent == agent_a


@pytest.mark.django_db
def test_mark_attended_or_no_show_once_started(on_site, agent_a, agent_b, service_a, citizen, now):
    from contactcenter.exceptions import NotAllowed

    available(agent_a, service_a)
    appointment = services.book(citizen, on_site, tuesday(9), now=now)
    with pytest.raises(InvalidState):
        services.mark(appointment, agent_a, Appointment.Status.NO_SHOW, now=now)
    with pytest.raises(NotAllowed):
        services.mark(appointment, agent_b, Appointment.Status.NO_SHOW, now=tuesday(9, 5))
    services.mark(appointment, agent_a, Appointment.Status.NO_SHOW, now=tuesday(9, 5))
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.NO_SHOW
    with pytest.raises(InvalidState):
        services.mark(appointment, agent_a, Appointment.Status.ATTENDED, now=tuesday(9, 6))


@pytest.mark.django_db
def test_ics_of_a_visio_points_to_the_space(visio, agent_a, service_a, citizen, now):
    available(agent_a, service_a)
    appointment = services.book(citizen, visio, tuesday(9), now=now)
    event = Calendar.from_ical(appointment_ics(appointment)).walk("VEVENT")[0]
    assert "espace" in str(event["location"])
    assert str(appointment.public_id) in str(event["uid"])


@pytest.mark.django_db
def test_every_slot_of_the_last_horizon_day_is_bookable(on_site, agent_a, service_a, citizen):
    # Horizon of one day from Monday 9:00: Tuesday's 11:00 slot (after 9:00) is offered, and
    # booking it is accepted; Wednesday is beyond.
    from appointments.slots import free_slots

    on_site.horizon_days = 1
    on_site.save()
    available(agent_a, service_a, day=1, start=tuesday(11).time(), end=tuesday(12).time())
    available(agent_a, service_a, day=2)
    monday = tuesday(9) - timedelta(days=1)
    slots = free_slots(on_site, now=monday)
    assert [s.start for s in slots] == [tuesday(11), tuesday(11, 30)]
    assert services.book(citizen, on_site, tuesday(11), now=monday).start == tuesday(11)
    with pytest.raises(ValidationError):
        services.book(citizen, on_site, tuesday(9) + timedelta(days=1), now=monday)
