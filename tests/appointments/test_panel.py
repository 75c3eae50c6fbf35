"""The citizen's file ready in the agent's workstation 5 minutes before an appointment: pushed
once over the agent's presence socket, with the appointment's context in the citizen panel."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import reverse
from django.utils import timezone

from appointments import panel, services
from appointments.models import Appointment
from contactcenter.celery import app
from contactcenter.services import open_case
from routing.ws_urls import websocket_urlpatterns
from tests.appointments.conftest import available, tuesday


@pytest.fixture
def layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from channels.layers import get_channel_layer

    return get_channel_layer()


async def next_frame(comm, kind):
    while True:
        frame = await comm.receive_json_from(timeout=2)
        if frame["type"] == kind:
            return frame


@pytest.mark.django_db(transaction=True)
async def test_file_opens_once_five_minutes_before(
    on_site, visio, agent_a, service_a, citizen, now, layer
):
    await database_sync_to_async(available)(agent_a, service_a)
    book = database_sync_to_async(services.book)
    appointment = await book(citizen, on_site, tuesday(10), now=now)
    cancelled = await book(citizen, visio, tuesday(10, 30), now=now)
    await database_sync_to_async(services.cancel)(cancelled, citizen, now=now)
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/presence/")
    comm.scope["user"] = agent_a
    assert (await comm.connect())[0]
    await next_frame(comm, "presence.status")
    due = database_sync_to_async(panel.open_due_panels)
    assert await due(now=tuesday(9, 54)) == 0  # six minutes before: not yet
    assert await comm.receive_nothing(timeout=0.2)
    assert await due(now=tuesday(9, 55)) == 1
    frame = await next_frame(comm, "workstation.open")
    item = frame["item"]
    assert item["reference"] == appointment.case.reference and item["focus"] is False
    context = item["appointment"]
    assert context["topic"] == "Impôts" and context["mode"] == "on_site"
    assert context["documents"] == ["Pièce d'identité", "Avis d'imposition"]
    assert context["address"] == "1 rue de la Paix, Paris" and context["time"] == "10:00"
    assert context["case"] == appointment.case.reference
    assert context["notice"] == "Rendez-vous à 10:00 (sur place, au guichet) : Impôts."
    # Once per appointment, whatever the number of runs; the cancelled one never opens.
    assert await due(now=tuesday(9, 56)) == 0
    assert await due(now=tuesday(10, 29)) == 0
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()
    stored = await database_sync_to_async(Appointment.objects.get)(pk=appointment.pk)
    assert stored.panel_opened_at == tuesday(9, 55)


@pytest.mark.django_db
def test_citizen_panel_shows_the_coming_appointment(client_as, agent_a, citizen, on_site):
    start = timezone.localtime().replace(second=0, microsecond=0) + timedelta(minutes=4)
    appointment = Appointment.objects.create(
        type=on_site,
        service=on_site.service,
        mode=on_site.mode,
        citizen=citizen,
        agent=agent_a,
        start=start,
        end=start + timedelta(minutes=30),
        busy_until=start + timedelta(minutes=30),
    )
    case_a = open_case(
        citizen=citizen,
        topic=on_site.topic,
        kind="question",
        channel="counter",
        subject="Rendez-vous",
        body="x",
        route=False,
    )[0]
    Appointment.objects.filter(pk=appointment.pk).update(case=case_a)
    url = reverse("console:ws_citizen", args=[case_a.reference])
    client = client_as(agent_a)
    assert "data-ws-appointment" not in client.get(url).content.decode()
    assert panel.open_due_panels() == 1
    page = client.get(url).content.decode()
    assert "data-ws-appointment" in page and "Documents à apporter" in page
    assert "Avis d&#x27;imposition" in page and "1 rue de la Paix, Paris" in page
    assert "Sur place, au guichet" in page
    # Cancelled by the service: the panel no longer shows it.
    services.cancel(Appointment.objects.get(pk=appointment.pk), agent_a)
    assert "data-ws-appointment" not in client.get(url).content.decode()


def test_panels_are_checked_every_minute_on_beat():
    entry = app.conf.beat_schedule["appointments-open-panels"]
    assert entry["task"] == "appointments.tasks.open_due_panels" and entry["schedule"] == 60.0
