"""Double submits of the agent console act once: reply, note, transfer, recorded contact."""

import uuid

from django.urls import reverse

from contactcenter.models import Case, Event, Transfer


def key() -> str:
    return str(uuid.uuid4())


def post_twice(client, url, data):
    first, second = client.post(url, data), client.post(url, data)
    assert first.status_code == second.status_code == 302, (first, second)
    assert first["Location"] == second["Location"]
    assert second["Idempotent-Replayed"] == "true"
    return first, second


def test_case_page_forms_carry_keys(client_as, agent_a, case_a):
    page = client_as(agent_a).get(f"/console/demandes/{case_a.reference}/").content.decode()
    assert page.count('name="idempotency_key"') >= 3  # reply, note, transfer


def test_agent_reply_sent_twice_is_stored_once(client_as, agent_a, case_a):
    url = reverse("console:reply", args=[case_a.reference])
    data = {"body": "Réponse unique", "action": "reply", "idempotency_key": key()}
    post_twice(client_as(agent_a), url, data)
    assert case_a.events.filter(body="Réponse unique").count() == 1


def test_note_sent_twice_is_stored_once(client_as, agent_a, case_a):
    url = reverse("console:note", args=[case_a.reference])
    client = client_as(agent_a)
    first, _second = post_twice(client, url, {"body": "Note unique", "idempotency_key": key()})
    assert case_a.events.filter(type=Event.Type.NOTE, body="Note unique").count() == 1
    # The flash message of the first request is shown once more after the replay.
    assert "Note interne ajoutée." in client.get(first["Location"]).content.decode()


def test_note_with_an_error_keeps_its_key(client_as, agent_a, case_a):
    url = reverse("console:note", args=[case_a.reference])
    same = key()
    refused = client_as(agent_a).post(url, {"body": "", "idempotency_key": same})
    assert refused.status_code == 400
    assert f'name="idempotency_key" value="{same}"' in refused.content.decode()
    post_twice(client_as(agent_a), url, {"body": "Corrigée", "idempotency_key": same})
    assert case_a.events.filter(type=Event.Type.NOTE).count() == 1


def test_transfer_sent_twice_transfers_once(client_as, agent_a, case_a, topic_b):
    url = reverse("console:transfer", args=[case_a.reference])
    data = {
        "to_service": topic_b.service.pk,
        "to_topic": topic_b.pk,
        "reason": "Relève de la CPAM",
        "idempotency_key": key(),
    }
    first, _second = post_twice(client_as(agent_a), url, data)
    assert first["Location"] == "/console/"
    assert Transfer.objects.filter(case=case_a).count() == 1
    assert case_a.events.filter(type=Event.Type.TRANSFER).count() == 1


def test_phone_contact_recorded_twice_creates_one_case(client_as, agent_a, citizen, topic_a):
    url = reverse("console:contact_new", args=[citizen.pk])
    client = client_as(agent_a)
    assert 'name="idempotency_key"' in client.get(url).content.decode()
    data = {
        "channel": "phone",
        "case": "new",
        "topic": topic_a.pk,
        "kind": "question",
        "summary": "Appel : question sur la taxe foncière.",
        "idempotency_key": key(),
    }
    post_twice(client, url, data)
    case = Case.objects.get(citizen=citizen)
    assert case.events.filter(type=Event.Type.CONTACT).count() == 1
