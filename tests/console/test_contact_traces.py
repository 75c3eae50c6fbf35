"""« Ce qu'il faut retenir » after a contact recorded by hand, a co-browsing session or a visio
(core's post_contact_trace), and the dashboard's share of contacts with a trace."""

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from contactcenter.models import Case, Event
from contactcenter.services import add_event
from contactcenter.trace_kpis import trace_counts, trace_kpis
from contactcenter.traces import post_contact_trace, trace_prefill
from messaging.models import Notification


def key():
    return str(uuid.uuid4())


def _diagnosis(case, agent):
    return add_event(
        case,
        Event.Type.DIAGNOSIS,
        actor=agent,
        internal=True,
        body="Diagnostic guidé « Carte Vitale »\n- Question interne → Oui",
        payload={
            "tree": "carte-vitale",
            "path": [{"question": "Question interne", "answer": "Oui", "choice": 1}],
            "outcome": {
                "kind": "documents",
                "text": "Commander une nouvelle carte",
                "documents": ["Photo d'identité", "Pièce d'identité"],
            },
        },
    )


def test_trace_prefill_gives_the_diagnosis_outcome_only(case_a, agent_a):
    assert trace_prefill(case_a) == ""
    _diagnosis(case_a, agent_a)
    text = trace_prefill(case_a)
    assert text.startswith("Commander une nouvelle carte")
    assert "- Photo d'identité" in text and "- Pièce d'identité" in text
    assert "Question interne" not in text  # the internal path stays internal


def test_counter_visit_resolved_at_once_sends_its_trace_once(
    client_as, agent_a, citizen, topic_a, django_capture_on_commit_callbacks
):
    url = reverse("console:contact_new", args=[citizen.pk])
    client = client_as(agent_a)
    data = {
        "channel": "counter",
        "case": "new",
        "topic": topic_a.pk,
        "kind": "question",
        "summary": "Formulaire remis en main propre.",
        "resolved": "on",
        "trace": "Renvoyez le formulaire signé avant le 15.",
        "idempotency_key": key(),
    }
    with django_capture_on_commit_callbacks(execute=True):
        first, second = client.post(url, data), client.post(url, data)
    assert first.status_code == second.status_code == 302
    assert second["Idempotent-Replayed"] == "true"
    case = Case.objects.get(citizen=citizen)
    assert case.status == Case.Status.CLOSED  # the trace reaches a case the visit closed
    contact = case.events.get(type=Event.Type.CONTACT)
    trace = case.events.get(type=Event.Type.MESSAGE, payload__contact_trace="counter")
    assert trace.payload["contact_event"] == contact.pk
    assert trace.body == data["trace"] and not trace.internal and trace.actor == agent_a
    alerts = Notification.objects.filter(case=case)
    assert alerts.exists() and all("formulaire signé" not in a.text for a in alerts)


def test_contact_without_trace_sends_no_message(client_as, agent_a, citizen, case_a):
    response = client_as(agent_a).post(
        reverse("console:contact_new", args=[citizen.pk]),
        {"channel": "phone", "case": str(case_a.pk), "summary": "Appel", "trace": "  "},
    )
    assert response.status_code == 302
    assert not case_a.events.filter(payload__has_key="contact_trace").exists()


def test_workstation_contact_dialog_prefills_the_trace_from_the_diagnosis(
    client_as, agent_a, citizen, case_a
):
    _diagnosis(case_a, agent_a)
    html = (
        client_as(agent_a)
        .get(
            reverse("console:contact_new", args=[citizen.pk]),
            {"poste": "1", "demande": case_a.reference},
            HTTP_HX_REQUEST="true",
        )
        .content.decode()
    )
    assert "Ce qu&#x27;il faut retenir (envoyé à l&#x27;usager)" in html
    assert "Commander une nouvelle carte" in html


@pytest.mark.parametrize("kind", [Event.Type.COBROWSE, Event.Type.VISIO])
def test_cobrowse_or_visio_trace_is_posted_once_and_checked(
    client_as, agent_a, agent_b, case_a, kind
):
    contact = add_event(case_a, kind, actor=agent_a, channel=kind, body="Session terminée")
    url = reverse("console:contact_trace", args=[contact.pk])
    client = client_as(agent_a)
    data = {"body": "Votre dossier est complet.", "idempotency_key": key()}
    first = client.post(url, data, HTTP_HX_REQUEST="true")
    second = client.post(url, data, HTTP_HX_REQUEST="true")
    assert first.status_code == second.status_code == 200
    assert "est envoyé à l" in first.content.decode()
    trace = case_a.events.get(type=Event.Type.MESSAGE, payload__contact_trace=kind)
    assert trace.payload["contact_event"] == contact.pk
    # Empty text, another service's agent, a contact of another type, an old contact.
    assert client.post(url, {"body": " "}, HTTP_HX_REQUEST="true").status_code == 400
    assert client_as(agent_b).post(url, {"body": "x"}).status_code == 404
    note = add_event(case_a, Event.Type.NOTE, actor=agent_a, internal=True, body="n")
    other = reverse("console:contact_trace", args=[note.pk])
    assert client.post(other, {"body": "x"}).status_code == 404
    Event.objects.filter(pk=contact.pk).update(created_at=timezone.now() - timedelta(days=2))
    assert client.post(url, {"body": "x"}, HTTP_HX_REQUEST="true").status_code == 409
    assert case_a.events.filter(payload__has_key="contact_trace").count() == 1


def test_a_trace_names_a_contact_of_its_own_case(case_a, case_b, agent_a, agent_b):
    contact = add_event(case_b, Event.Type.COBROWSE, actor=agent_b, channel="cobrowse")
    with pytest.raises(ValidationError):
        post_contact_trace(case_a, agent_a, "Texte", "cobrowse", contact=contact)


def test_dashboard_share_of_contacts_with_a_trace_per_channel(
    case_a, case_b, agent_a, agent_b, service_a
):
    start = timezone.now() - timedelta(hours=1)
    phone = [
        add_event(case_a, Event.Type.CONTACT, actor=agent_a, channel="phone", body="a")
        for _ in range(3)
    ]
    visio = add_event(case_a, Event.Type.VISIO, actor=agent_a, channel="visio", body="v")
    add_event(case_a, Event.Type.CALLBACK, channel="phone", payload={"outcome": "not_reached"})
    reached = add_event(
        case_a, Event.Type.CALLBACK, channel="phone", payload={"outcome": "reached"}
    )
    add_event(case_b, Event.Type.CONTACT, actor=agent_b, channel="phone", body="b")
    # Calls through the voice server: the ended call an agent answered is a contact (not the
    # queue's events, nor a call nobody answered); chats an agent took part in too.
    call = add_event(
        case_a,
        Event.Type.CALL,
        channel="phone",
        payload={"call": 1, "wait": 5, "agent": agent_a.pk, "talk": 60},
    )
    add_event(case_a, Event.Type.CALL, channel="phone", payload={"call": 2, "wait": 90})
    add_event(case_a, Event.Type.CALL, channel="phone", payload={"stage": "queued"})
    chat = add_event(
        case_a,
        Event.Type.CHAT,
        channel="chat",
        payload={"phase": "transcript", "conversation": 1, "agent": agent_a.pk},
    )
    add_event(
        case_a, Event.Type.CHAT, channel="chat", payload={"phase": "transcript", "conversation": 2}
    )
    add_event(case_a, Event.Type.CHAT, channel="chat", payload={"agent": agent_a.pk})
    post_contact_trace(case_a, agent_a, "À retenir", "phone", contact=call)
    post_contact_trace(case_a, agent_a, "À retenir", "chat", contact=chat)
    post_contact_trace(case_a, agent_a, "À retenir", "phone", contact=phone[0])
    post_contact_trace(case_a, agent_a, "À retenir", "visio", contact=visio)
    post_contact_trace(case_a, agent_a, "Sans contact nommé", "phone")  # not counted
    end = timezone.now() + timedelta(minutes=1)

    mine = trace_counts(start, end, service_ids=[service_a.pk])
    assert mine == {"phone": (4, 2), "chat": (1, 1), "visio": (1, 1), "callback": (1, 0)}
    assert reached.pk not in {phone[0].pk, visio.pk}
    assert trace_counts(start, end)["phone"] == (5, 2)
    assert trace_counts(start, end, channel="visio") == {"visio": (1, 1)}
    section = trace_kpis(start, end, service_ids=[service_a.pk])
    assert section["metrics"][0]["value"] == pytest.approx(4 / 7)
    rows = {row[0]: row[1:] for row in section["tables"][0]["rows"]}
    assert rows["Téléphone"] == [4, 2, pytest.approx(2 / 4)]
    assert rows["Tchat"] == [1, 1, 1.0]
    assert trace_kpis(end, end + timedelta(hours=1)) is None
