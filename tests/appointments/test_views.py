import uuid
from datetime import time

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments import services
from appointments.models import Appointment
from appointments.slots import free_slots
from contactcenter.models import AuditLog
from tests.appointments.conftest import available


@pytest.fixture
def always(agent_a, service_a):
    for day in range(7):
        available(agent_a, service_a, day=day, start=time(0), end=time(23, 59))


@pytest.mark.django_db
def test_citizen_books_topic_then_mode_then_slot(client_as, citizen, on_site, visio, always):
    client = client_as(citizen)
    url = reverse("appointments:book")
    page = client.get(url).content.decode()
    assert "?theme=impots" in page
    page = client.get(url, {"theme": "impots"}).content.decode()
    assert f"?type={on_site.pk}" in page and f"?type={visio.pk}" in page
    response = client.get(url, {"type": on_site.pk})
    slots = response.context["slots"]
    assert slots and slots[0].start > timezone.now()
    assert response.context["next_after"] == slots[-1].value
    data = {"type": on_site.pk, "slot": slots[0].value, "idempotency_key": str(uuid.uuid4())}
    first = client.post(url, data)
    again = client.post(url, data)  # a double click books once
    appointment = Appointment.objects.get()
    detail = reverse("appointments:detail", args=[appointment.public_id])
    assert first["Location"] == again["Location"] == detail
    assert again.has_header("Idempotent-Replayed")
    page = client.get(detail).content.decode()
    assert "Rendez-vous confirmé" in page and "Avis d&#x27;imposition" in page
    ics = client.get(reverse("appointments:ics", args=[appointment.public_id]))
    assert ics["Content-Type"] == "text/calendar" and b"BEGIN:VEVENT" in ics.content


@pytest.mark.django_db
def test_taken_slot_shows_the_form_again_with_an_error(
    client_as, citizen, citizen2, on_site, always
):
    slot = free_slots(on_site)[0]
    services.book(citizen2, on_site, slot.start)
    response = client_as(citizen).post(
        reverse("appointments:book"), {"type": on_site.pk, "slot": slot.value}
    )
    assert response.status_code == 400
    assert "n&#x27;est plus proposé" in response.content.decode()


@pytest.mark.django_db
def test_other_citizen_and_staff_cannot_see_an_appointment(
    client_as, citizen, citizen2, agent_a, on_site, always
):
    appointment = services.book(citizen, on_site, free_slots(on_site)[0].start)
    detail = reverse("appointments:detail", args=[appointment.public_id])
    assert client_as(citizen2).get(detail).status_code == 404
    assert (
        client_as(citizen2)
        .post(reverse("appointments:cancel", args=[appointment.public_id]))
        .status_code
        == 404
    )
    assert client_as(agent_a).get(detail).status_code == 403


@pytest.mark.django_db
def test_citizen_cancels_and_moves_from_the_page(client_as, citizen, visio, always):
    slots = free_slots(visio)
    visio.cutoff_hours = 0
    visio.save()
    appointment = services.book(citizen, visio, slots[0].start)
    client = client_as(citizen)
    page = client.get(reverse("appointments:detail", args=[appointment.public_id]))
    assert "visioconférence sera disponible ici" in page.content.decode()
    move = reverse("appointments:move", args=[appointment.public_id])
    response = client.post(move, {"slot": slots[2].value})
    new = Appointment.objects.get(status=Appointment.Status.BOOKED)
    assert response["Location"] == reverse("appointments:detail", args=[new.public_id])
    client.post(reverse("appointments:cancel", args=[new.public_id]))
    assert not Appointment.objects.filter(status=Appointment.Status.BOOKED).exists()


@pytest.mark.django_db
def test_agent_sees_the_day_and_marks_no_show(client_as, citizen, agent_a, on_site, service_a):
    # Today at midnight: started whatever the time the test runs.
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    available(agent_a, service_a, day=start.weekday(), start=time(0), end=time(23, 59))
    appointment = services.book(citizen, on_site, start, proposed_by=agent_a, now=start)
    client = client_as(agent_a)
    page = client.get(reverse("appointments:agent_day")).content.decode()
    assert "Camille Martin" in page and appointment.case.reference in page
    assert AuditLog.objects.filter(actor=agent_a, case=appointment.case).exists()
    poste = client.get(reverse("console:workstation")).content.decode()
    assert reverse("appointments:ws_day") in poste
    panel = client.get(reverse("appointments:ws_day")).content.decode()
    assert "Rendez-vous du jour" in panel and f"ouvrir={appointment.case.reference}" in panel
    client.post(reverse("appointments:mark", args=[appointment.pk]), {"status": "no_show"})
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.NO_SHOW


@pytest.mark.django_db
def test_agent_proposes_a_slot_from_a_case(client_as, agent_a, agent_b, case_a, on_site, always):
    url = reverse("appointments:propose", args=[case_a.reference])
    assert client_as(agent_b).get(url).status_code == 404
    client = client_as(agent_a)
    response = client.get(url, {"type": on_site.pk})
    slot = response.context["slots"][0]
    response = client.post(url, {"type": on_site.pk, "slot": slot.value})
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.case == case_a and appointment.proposed_by == agent_a


@pytest.mark.django_db
def test_public_contact_page_without_login(client, service_a, on_site):
    service_a.phone = "+33140000000"
    service_a.save()
    page = client.get(reverse("appointments:contact"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Service des impôts des particuliers" in text
    assert "01 40 00 00 00" in text and reverse("appointments:book") in text
