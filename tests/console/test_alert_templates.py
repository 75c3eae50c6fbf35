"""Supervisors edit their own services' alert templates, with precise placeholder errors."""

import pytest

from messaging.models import NotificationTemplate

pytestmark = pytest.mark.django_db


def edit_url(service, event="acknowledgement", channel="email", language="fr"):
    return f"/console/modeles-d-alerte/{service.pk}/{event}/{channel}/{language}/"


def test_supervisor_lists_and_edits_a_template_of_their_service(client_as, supervisor, service_a):
    client = client_as(supervisor)
    page = client.get("/console/modeles-d-alerte/").content.decode()
    assert service_a.name in page and "Accusé de réception" in page
    form = client.get(edit_url(service_a)).content.decode()
    assert "Accusé de réception de votre demande {reference}" in form  # the default, to edit
    data = {"subject": "Reçu : {reference}", "body": "{service} répondra le {date}. {link}"}
    assert client.post(edit_url(service_a), data).status_code == 302
    assert client.post(edit_url(service_a), data).status_code == 302  # same again: one row
    row = NotificationTemplate.objects.get()
    assert (row.service, row.subject, row.updated_by) == (
        service_a,
        "Reçu : {reference}",
        supervisor,
    )
    assert "personnalisé" in client.get("/console/modeles-d-alerte/").content.decode()


def test_forbidden_placeholder_is_refused_precisely(client_as, supervisor, service_a):
    response = client_as(supervisor).post(
        edit_url(service_a, channel="sms"), {"body": "Bonjour {first_name} : {link}"}
    )
    assert response.status_code == 400
    assert "« {first_name} » est interdit" in response.content.decode()
    assert not NotificationTemplate.objects.exists()


def test_other_service_is_404_and_agents_403(client_as, supervisor, agent_a, service_b, service_a):
    assert client_as(supervisor).get(edit_url(service_b)).status_code == 404
    assert client_as(supervisor).get(edit_url(service_a, event="nope")).status_code == 404
    assert client_as(agent_a).get("/console/modeles-d-alerte/").status_code == 403
