"""« Ce qu'il faut retenir » after a callback that reached the citizen."""

import uuid

from contactcenter.models import Event
from contactcenter.services import add_event
from messaging.models import Notification

from .test_callback import _due_callback, always_open  # noqa: F401


def test_reached_callback_sends_the_trace_once(
    citizen,
    topic_a,
    agent_a,
    always_open,  # noqa: F811
    client_as,
    django_capture_on_commit_callbacks,
):
    case = _due_callback(citizen, topic_a, agent_a)
    client = client_as(agent_a)
    url = f"/rappel/{case.pk}/resultat/"
    add_event(
        case,
        Event.Type.DIAGNOSIS,
        actor=agent_a,
        internal=True,
        body="Diagnostic guidé",
        payload={"outcome": {"kind": "documents", "text": "Demander une attestation"}},
    )
    form = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "Ce qu'il faut retenir (envoyé à l'usager)" in form
    assert "Demander une attestation" in form  # prefilled from the diagnosis
    data = {
        "outcome": "reached",
        "trace": "Votre attestation arrive par courrier sous 8 jours.",
        "idempotency_key": str(uuid.uuid4()),
    }
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, data, HTTP_HX_REQUEST="true")
        second = client.post(url, data, HTTP_HX_REQUEST="true")
    assert first.status_code == second.status_code == 200
    assert "est envoyé à l" in first.content.decode()
    trace = Event.objects.get(case=case, type=Event.Type.MESSAGE, payload__contact_trace="callback")
    contact = Event.objects.get(case=case, type=Event.Type.CALLBACK, payload__outcome="reached")
    assert trace.payload["contact_event"] == contact.pk
    assert trace.internal is False and trace.actor == agent_a
    alerts = Notification.objects.filter(case=case)
    assert alerts.exists() and all("attestation arrive" not in a.text for a in alerts)


def test_unreached_callback_or_too_long_trace_sends_nothing(
    citizen,
    topic_a,
    agent_a,
    always_open,  # noqa: F811
    client_as,
    settings,
):
    case = _due_callback(citizen, topic_a, agent_a)
    client = client_as(agent_a)
    url = f"/rappel/{case.pk}/resultat/"
    settings.GUICHET_MESSAGE_MAX_CHARS = 10
    too_long = client.post(url, {"outcome": "reached", "trace": "x" * 11}, HTTP_HX_REQUEST="true")
    assert too_long.status_code == 400
    case.callback.refresh_from_db()
    assert case.callback.attempts == 0  # nothing recorded: the agent fixes the text
    client.post(url, {"outcome": "not_reached", "trace": "Rien"}, HTTP_HX_REQUEST="true")
    assert not Event.objects.filter(case=case, payload__has_key="contact_trace").exists()


def test_console_case_page_prefills_the_callback_trace_from_the_diagnosis(
    citizen,
    topic_a,
    agent_a,
    always_open,  # noqa: F811
    client_as,
):
    case = _due_callback(citizen, topic_a, agent_a)
    add_event(
        case,
        Event.Type.DIAGNOSIS,
        actor=agent_a,
        internal=True,
        body="Diagnostic guidé",
        payload={"outcome": {"kind": "text", "text": "Attendre le courrier de la caisse"}},
    )
    page = client_as(agent_a).get(f"/console/demandes/{case.reference}/").content.decode()
    assert 'name="trace"' in page
    assert "Attendre le courrier de la caisse</textarea>" in page
