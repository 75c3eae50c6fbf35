"""Double submits of co-browsing requests (citizen's code, agent's invitation) act once."""

import uuid

from django.urls import reverse

from cobrowse import services
from cobrowse.models import CobrowseSession


def key() -> str:
    return str(uuid.uuid4())


def test_code_requested_twice_gives_one_session_and_the_same_code(client_as, citizen):
    client = client_as(citizen)
    assert 'name="idempotency_key"' in client.get(reverse("cobrowse:citizen")).content.decode()
    data = {"idempotency_key": key()}
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "cobrowse-code-result"}
    first = client.post(reverse("cobrowse:code"), data, **headers)
    second = client.post(reverse("cobrowse:code"), data, **headers)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert CobrowseSession.objects.filter(citizen=citizen).count() == 1


def test_invitation_sent_twice_opens_one_session(client_as, agent_a, case_a, citizen):
    services.mark_online(citizen.pk)
    client = client_as(agent_a)
    data = {"case_id": case_a.pk, "idempotency_key": key()}
    first = client.post(reverse("cobrowse:invite"), data)
    second = client.post(reverse("cobrowse:invite"), data)
    session = CobrowseSession.objects.get()
    assert first["Location"] == second["Location"] == reverse("cobrowse:viewer", args=[session.pk])
    assert second["Idempotent-Replayed"] == "true"
