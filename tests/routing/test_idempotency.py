"""Double submits of callback requests and of call outcomes act once."""

import uuid

import pytest

from contactcenter.models import Case
from routing.models import CallbackRequest
from tests.routing.test_callback import _due_callback, always_open, first_slot  # noqa: F401


def key() -> str:
    return str(uuid.uuid4())


@pytest.mark.usefixtures("always_open")
def test_callback_request_sent_twice_books_one_callback(
    client_as,
    citizen,
    topic_a,
    agent_a,
):
    client = client_as(citizen)
    assert 'name="idempotency_key"' in client.get("/rappel/nouveau/?topic=impots").content.decode()
    data = {
        "topic": topic_a.pk,
        "phone": "01 23 45 67 89",
        "description": "Question sur mon prélèvement",
        "slot": first_slot(topic_a).value,
        "idempotency_key": key(),
    }
    first, second = client.post("/rappel/nouveau/", data), client.post("/rappel/nouveau/", data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Case.objects.filter(channel="callback").count() == 1
    assert CallbackRequest.objects.count() == 1


@pytest.mark.usefixtures("always_open")
def test_call_outcome_sent_twice_counts_one_attempt(
    citizen,
    topic_a,
    agent_a,
    client_as,
):
    case = _due_callback(citizen, topic_a, agent_a)
    client = client_as(agent_a)
    data = {"outcome": "not_reached", "note": "Messagerie", "idempotency_key": key()}
    url = f"/rappel/{case.pk}/resultat/"
    first = client.post(url, data, HTTP_HX_REQUEST="true")
    second = client.post(url, data, HTTP_HX_REQUEST="true")
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    assert CallbackRequest.objects.get(case=case).attempts == 1
