"""Démarche events reach a real webhook receiver (signed, content-free), the citizen's "Mes
démarches" page shows the step, the history and the possible action, sends a document (checked
like every upload) that the business system is told of, and agents see démarches in the
workstation's citizen panel."""

import json

import pytest
from django.test import override_settings

from accounts import webhooks
from accounts.models import WebhookDelivery, WebhookEndpoint
from demarches.models import DemarcheStep
from tests.api.test_webhooks import Receiver
from tests.upload_samples import upload, valid_pdf, windows_executable

from .conftest import create_body
from .test_api import BASE, post_json


@pytest.fixture
def receiver(tmp_path, pusher):
    secret = webhooks.generate_secret()
    started = Receiver(tmp_path, secret, "200")
    endpoint, _secret = webhooks.create_endpoint(
        pusher.client, started.url, WebhookEndpoint.EventType.values
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=secret)
    yield started
    started.stop()


def test_demarche_events_are_delivered_signed(
    receiver, api, passport_type, fc_citizen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_json(api, BASE, create_body(note="Note interne au SI"))
    with django_capture_on_commit_callbacks(execute=True):
        post_json(api, f"{BASE}passeport/PASS-1/step/", {"step": "instruction"})
    with django_capture_on_commit_callbacks(execute=True):
        post_json(api, f"{BASE}passeport/PASS-1/close/", {"step": "remis"})
    received = receiver.received()
    assert [item["body"]["type"] for item in received] == [
        "demarche.created",
        "demarche.step_changed",
        "demarche.closed",
    ]
    assert all(item["valid"] for item in received)
    changed = received[1]["body"]["data"]
    assert changed["step"] == {"from": "depot", "to": "instruction"}
    assert changed["demarche"]["reference"] == "PASS-1"
    assert changed["demarche"]["url"].endswith("/api/demarches/passeport/PASS-1/")
    raw = json.dumps([item["body"] for item in received], ensure_ascii=False)
    assert "Note interne" not in raw and fc_citizen.email not in raw and "fc-sub" not in raw
    assert WebhookDelivery.objects.filter(status="delivered").count() == 3


def test_citizen_sees_the_action_and_sends_the_document(
    receiver,
    api,
    passport_type,
    fc_citizen,
    client_as,
    citizen2,
    django_capture_on_commit_callbacks,
):
    post_json(api, BASE, create_body())
    post_json(api, f"{BASE}passeport/PASS-1/step/", {"step": "piece-manquante", "note": "Photo"})
    page = client_as(fc_citizen).get("/espace/demarches/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Demande de passeport" in html and "Pièce manquante" in html
    assert "Action possible :" in html and "fournir une photo d&#x27;identité" in html
    assert "Dossier déposé" in html  # the history
    # Another citizen sees nothing of it.
    assert "PASS-1" not in client_as(citizen2).get("/espace/demarches/").content.decode()
    demarche = passport_type.demarches.get()
    url = f"/espace/demarches/{demarche.public_id}/document/"
    bad = client_as(fc_citizen).post(url, {"file": upload("photo.pdf", windows_executable())})
    assert bad.status_code == 400 and "fr-error-text" in bad.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        sent = client_as(fc_citizen).post(url, {"file": upload("photo.pdf", valid_pdf())})
    assert sent.status_code == 302
    entry = DemarcheStep.objects.get(kind="citizen_document")
    assert entry.actor == fc_citizen and entry.document_sha256
    event = receiver.received()[-1]["body"]
    assert event["type"] == "demarche.document_received"
    assert event["data"]["document"]["id"] == str(entry.public_id)
    # The business system downloads it.
    response = api.get(event["data"]["document"]["url"].removeprefix("http://testserver"))
    assert response.status_code == 200
    # Another citizen cannot send one for this démarche.
    assert client_as(citizen2).post(url, {"file": upload("p.pdf", valid_pdf())}).status_code == 404


def test_link_action_and_english(api, passport_type, fc_citizen, client_as):
    post_json(api, BASE, create_body(step="disponible"))
    client = client_as(fc_citizen)
    html = client.get("/espace/demarches/").content.decode()
    assert 'href="https://rdv.example.fr/PASS-1"' in html
    with override_settings(LANGUAGE_CODE="en"):
        client.cookies["django_language"] = "en"
        html = client.get("/espace/demarches/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Passport" in html and "Titre disponible (en)" in html
    assert "My procedures" in html


def test_agents_see_demarches_in_the_citizen_panel(
    api, passport_type, fc_citizen, client_as, agent_a, agent_b, case_a
):
    post_json(api, BASE, create_body(step="piece-manquante"))
    panel = f"/console/poste/demandes/{case_a.reference}/usager/"
    html = client_as(agent_a).get(panel).content.decode()
    assert "PASS-1" in html and "Pièce manquante" in html
