"""After a transfer each answer keeps the service that wrote it (thread, "Mon historique"), the
transfer is one line of the citizen's thread, and the new topic is chosen, never guessed."""

from __future__ import annotations

import importlib
import re

from django.apps import apps
from django.utils.html import escape

from contactcenter import cases
from contactcenter.models import Case, Event
from messaging.services import post_agent_reply

FIRST = "Réponse écrite par le premier service"
SECOND = "Réponse écrite par le service destinataire"


def transfer_and_answer(case, agent_a, agent_b, topic_b):
    Case.objects.filter(pk=case.pk).update(assigned_to=agent_a, status=Case.Status.IN_PROGRESS)
    post_agent_reply(case, agent_a, FIRST)
    cases.transfer_case(
        case, to_service=topic_b.service, reason="Interne", by=agent_a, to_topic=topic_b
    )
    Case.objects.filter(pk=case.pk).update(assigned_to=agent_b, status=Case.Status.IN_PROGRESS)
    case.refresh_from_db()
    post_agent_reply(case, agent_b, SECOND)


def signature_of(html: str, body: str) -> str:
    """The heading (author line) of the article whose body is ``body``."""
    match = re.search(
        r"<h3[^>]*>((?:(?!<h3).)*?)</h3>\s*<div class=\"guichet-msg__body\">" + re.escape(body),
        html,
        re.S,
    )
    assert match, f"no message {body!r}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def test_each_answer_is_signed_by_the_service_that_wrote_it(
    client_as, citizen, agent_a, agent_b, case_a, topic_a, topic_b
):
    transfer_and_answer(case_a, agent_a, agent_b, topic_b)
    first = Event.objects.get(case=case_a, body=FIRST)
    second = Event.objects.get(case=case_a, body=SECOND)
    assert first.service_id == topic_a.service_id
    assert second.service_id == topic_b.service_id
    # The transfer event is signed by the service that handed the case over.
    assert Event.objects.get(case=case_a, type="transfer").service_id == topic_a.service_id

    html = client_as(citizen).get(f"/espace/demandes/{case_a.reference}/").content.decode()
    assert signature_of(html, FIRST).startswith(escape(topic_a.service.name))
    assert signature_of(html, SECOND).startswith(escape(topic_b.service.name))


def test_transfer_is_one_line_of_the_citizen_thread(
    client_as, citizen, agent_a, agent_b, case_a, topic_b
):
    transfer_and_answer(case_a, agent_a, agent_b, topic_b)
    html = client_as(citizen).get(f"/espace/demandes/{case_a.reference}/").content.decode()
    lines = re.findall(r"<li[^>]*data-thread-transfer[^>]*>(.*?)</li>", html, re.S)
    assert len(lines) == 1
    text = " ".join(re.sub(r"<[^>]+>", " ", lines[0]).split())
    assert text.endswith(
        escape(
            f"Votre demande a été transmise au service {topic_b.service.name} "
            f"(thème : {topic_b.title})."
        )
    )
    assert html.count("transmise au service") == 1  # no second line with the body
    assert "Interne" not in html


def test_my_history_shows_the_service_of_each_answer(
    client_as, citizen, agent_a, agent_b, case_a, topic_a, topic_b
):
    transfer_and_answer(case_a, agent_a, agent_b, topic_b)
    html = client_as(citizen).get("/espace/historique/").content.decode()
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    services_by_row = [
        " ".join(re.sub(r"<[^>]+>", " ", re.findall(r"<td>(.*?)</td>", row, re.S)[-1]).split())
        for row in rows
        if "<td>" in row and "Message — de l" in row
    ]
    # Newest first: the answer of the receiving service, then the first one.
    assert services_by_row == [escape(topic_b.service.name), escape(topic_a.service.name)]


def test_console_transfer_form_asks_the_topic_of_the_new_service(
    client_as, agent_a, case_a, topic_a, topic_b
):
    url = f"/console/demandes/{case_a.reference}/transferer/"
    response = client_as(agent_a).post(
        url, {"to_service": topic_b.service.pk, "reason": "Relève de la CPAM"}
    )
    assert response.status_code == 400
    assert "Choisissez le thème de la demande dans le service" in response.content.decode()
    case_a.refresh_from_db()
    assert case_a.service_id == topic_a.service_id and case_a.topic_id == topic_a.pk
    response = client_as(agent_a).post(
        url, {"to_service": topic_b.service.pk, "to_topic": topic_b.pk, "reason": "CPAM"}
    )
    assert response.status_code == 302
    case_a.refresh_from_db()
    assert case_a.topic_id == topic_b.pk


def test_backfill_signs_past_events_with_the_service_of_their_time(
    agent_a, agent_b, case_a, case_b, topic_a, topic_b
):
    transfer_and_answer(case_a, agent_a, agent_b, topic_b)
    post_agent_reply(case_b, agent_b, "Réponse sans transfert")
    Event.objects.update(service=None)  # as before the field existed
    migration = importlib.import_module("contactcenter.migrations.0010_event_service")
    migration.backfill_event_service(apps, None)
    assert Event.objects.get(case=case_a, body=FIRST).service_id == topic_a.service_id
    assert Event.objects.get(case=case_a, type="transfer").service_id == topic_a.service_id
    assert Event.objects.get(case=case_a, body=SECOND).service_id == topic_b.service_id
    assert not Event.objects.filter(case=case_b).exclude(service=topic_b.service).exists()
    assert not Event.objects.filter(service__isnull=True).exists()
