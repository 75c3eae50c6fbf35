"""The public contact page: functional e-mail (mail's mailboxes through the core), counter
address, current estimated wait per channel (routing's queues) and half-hour busy hours."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from contactcenter.directory import service_emails
from contactcenter.models import Case
from mail.models import Mailbox
from routing import estimated_waits
from tests.routing.conftest import make_case, set_available


def mailbox(service, topic, address, enabled=True):
    return Mailbox.objects.create(
        service=service,
        address=address,
        default_topic=topic,
        host="imap.example.fr",
        login=address,
        password_env="MAIL_TEST_PASSWORD",
        enabled=enabled,
    )


@pytest.mark.django_db
def test_functional_addresses_come_from_the_mail_channel(service_a, topic_a, service_b):
    mailbox(service_a, topic_a, "sip@impots.example.fr")
    mailbox(service_a, topic_a, "ancienne@impots.example.fr", enabled=False)
    assert service_emails([service_a.pk, service_b.pk]) == {service_a.pk: ["sip@impots.example.fr"]}
    assert service_emails([]) == {}


@pytest.mark.django_db
def test_estimated_waits_per_live_channel(agent_a, citizen, topic_a, service_a, service_b):
    set_available(agent_a, chat=2, phone=1)
    for _ in range(3):
        make_case(citizen, topic_a, channel="chat")
    done = make_case(citizen, topic_a, channel="chat")
    now = timezone.now()
    Case.objects.filter(pk=done.pk).update(
        status=Case.Status.CLOSED,
        assigned_to=agent_a,
        assigned_at=now - timedelta(minutes=20),
        closed_at=now - timedelta(minutes=10),
    )
    waits = estimated_waits([service_a.pk, service_b.pk])
    # Chat: (3 queued + the newcomer) / 2 slots x 10 minutes handled; phone: nobody queued,
    # the default handling time (7 minutes) / 1 slot; service B has nobody available.
    assert waits[service_a.pk] == {"chat": 1200, "phone": 420}
    assert waits[service_b.pk] == {"chat": None, "phone": None}


@pytest.mark.django_db
def test_contact_page_shows_email_address_and_waits(
    client, agent_a, citizen, topic_a, service_a, service_b, on_site
):
    mailbox(service_a, topic_a, "sip@impots.example.fr")
    set_available(agent_a, chat=2, phone=1)
    make_case(citizen, topic_a, channel="chat")
    page = client.get(reverse("appointments:contact")).content.decode()
    assert 'href="mailto:sip@impots.example.fr"' in page
    assert "1 rue de la Paix, Paris" in page
    assert page.count("data-waits=") == 2  # both services are open (no hours: always)
    # Chat: (1 + 1) / 2 x 5 minutes by default; phone: 7 minutes.
    assert 'data-wait="chat">Tchat : environ 5 minutes' in page
    assert 'data-wait="phone">Téléphone et rappels : environ 7 minutes' in page
    assert "aucun conseiller disponible pour l'instant" in page  # service B
    assert reverse("appointments:book") + "?service=sip" in page
    # Half-hour columns of the busy-hours table.
    assert '<th scope="col">8 h 30</th>' in page and "attente moyenne par demi-heure" in page


@pytest.mark.django_db
def test_warm_contact_page_runs_no_query(client, service_a, service_b, on_site, topic_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    mailbox(service_a, topic_a, "sip@impots.example.fr")
    url = reverse("appointments:contact")
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert len(queries) == 0, [q["sql"] for q in queries]
