"""Double submits of the knowledge app (deflection, diagnosis, chatbot API) act once."""

import html
import json
import re
import uuid

import pytest
from django.urls import reverse

from contactcenter.models import Event
from knowledge.models import DeflectionEvent, DiagnosisTree, Turn
from tests.knowledge.test_views import _choice, trees  # noqa: F401


def key() -> str:
    return str(uuid.uuid4())


@pytest.mark.django_db
def test_each_deflection_button_carries_its_own_key(citizen, client_as, kb_with_personas):
    client = client_as(citizen)

    def button_keys():
        response = client.get(
            reverse("knowledge:deflection_suggestions"),
            {"topic": "sante", "q": "carte vitale perdue"},
        )
        return [
            json.loads(html.unescape(v))["idempotency_key"]
            for v in re.findall(r'hx-vals="([^"]+)"', response.content.decode())
        ]

    first, second = button_keys(), button_keys()
    assert first and len(first) == len(second)
    assert len(set(first + second)) == 2 * len(first), "a fresh key per button and per render"


@pytest.mark.django_db
def test_this_answer_is_enough_sent_twice_is_recorded_once(citizen, client_as, kb_with_personas):
    client = client_as(citizen)
    data = {"article": "carte-vitale-perdue", "topic": "sante", "query": "carte vitale"}
    data["idempotency_key"] = key()
    url = reverse("knowledge:deflection_sufficient")
    first = client.post(url, data, HTTP_HX_REQUEST="true")
    second = client.post(url, data, HTTP_HX_REQUEST="true")
    assert first.status_code == second.status_code == 204
    assert second["HX-Redirect"] == first["HX-Redirect"] == reverse("messaging:space")
    assert DeflectionEvent.objects.filter(kind="sufficient").count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("trees")
def test_diagnosis_saved_twice_is_stored_once(agent_b, client_as, case_b):
    tree = DiagnosisTree.objects.get(slug="carte-vitale")
    url = reverse("knowledge:diagnosis_walk", args=[tree.slug])
    lost = _choice(tree, "debut", "Elle est perdue ou volée")
    soon = _choice(tree, "soins", "Oui")
    data = {"case": case_b.reference, "path": f"{lost.pk},{soon.pk}", "idempotency_key": key()}
    client = client_as(agent_b)
    first, second = client.post(url, data), client.post(url, data)
    assert first.status_code == second.status_code == 302
    assert case_b.events.filter(type=Event.Type.DIAGNOSIS).count() == 1


@pytest.mark.django_db
def test_chatbot_question_sent_twice_with_one_key_is_answered_once(
    citizen, client_as, kb_with_personas
):
    client = client_as(citizen)
    body = json.dumps({"message": "j'ai perdu ma carte vitale"})
    headers = {"Idempotency-Key": key()}
    url = reverse("knowledge:api_chatbot_messages")
    first = client.post(url, body, content_type="application/json", headers=headers)
    second = client.post(url, body, content_type="application/json", headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert Turn.objects.count() == 1
