"""What the synthesis sheet, the citizen's thread and the case list API cost and still show.

The synthesis sheet reads the citizen's visible cases (with their ratings and the count of the
others) in one query and the contacts per channel in another; the contact rows are plain values
formatted in Python. These tests pin the query budget (no N+1) and check that the rows, labels
and dates read exactly as before (the ``date`` filter, ``User.display_name``, get_FOO_display).
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.template.defaultfilters import date as date_filter
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from console import synthesis
from contactcenter.models import Case, Channel, Event, Satisfaction, User
from contactcenter.services import open_case
from tests.conftest import make_staff


def sheet_url(citizen):
    return f"/console/usagers/{citizen.pk}/"


def new_case(citizen, topic, subject="Question", status=None):
    case, _event = open_case(
        citizen=citizen,
        topic=topic,
        kind=Case.Kind.QUESTION,
        channel="web",
        subject=subject,
        body=f"{subject} : détails.",
        route=False,
    )
    if status:
        Case.objects.filter(pk=case.pk).update(status=status)
        case.refresh_from_db()
    return case


def contacts(citizen, case, n, *, actor=None, channel="phone", start=None):
    start = start or timezone.now() - timedelta(days=30)
    Event.objects.bulk_create(
        Event(
            case=case,
            citizen=citizen,
            type=Event.Type.CONTACT,
            channel=channel,
            actor=actor,
            body=f"Contact {i}",
            created_at=start + timedelta(minutes=i),
        )
        for i in range(n)
    )


def rate(case, score, *, at):
    return Satisfaction.objects.create(
        case=case,
        citizen=case.citizen,
        channel="web",
        service=case.service,
        score=score,
        comment=f"avis {score}",
        created_at=at,
    )


def queries_of(client, url, **extra):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **extra)
    assert response.status_code == 200
    return response, len(queries)


def test_sheet_queries_do_not_grow_with_cases_contacts_and_ratings(
    client_as, agent_a, citizen, case_a, topic_a, topic_b
):
    client = client_as(agent_a)
    client.get(sheet_url(citizen))  # first request of the agent: presence row created
    _response, small = queries_of(client, sheet_url(citizen))
    cases = [new_case(citizen, topic_a, f"Dossier {i}", Case.Status.CLOSED) for i in range(6)]
    cases += [new_case(citizen, topic_b, f"Santé {i}") for i in range(3)]
    for i, case in enumerate(cases):
        contacts(citizen, case, 8, actor=agent_a)
        rate(case, 1 + i % 5, at=timezone.now() - timedelta(days=i))
    response, big = queries_of(client, sheet_url(citizen))
    assert big == small
    sheet = response.context["sheet"]
    assert sheet.other_cases_count == 3
    assert len(response.context["page"].events) == synthesis.SYNTHESIS_PAGE_SIZE


def test_synthesis_reads_cases_ratings_and_counts_in_three_queries(
    agent_a, citizen, case_a, topic_a
):
    contacts(citizen, case_a, 3, actor=agent_a)
    agent = User.objects.get(pk=agent_a.pk)  # no service ids cached yet
    with CaptureQueriesContext(connection) as queries:
        sheet = synthesis.synthesis(agent, citizen)
    # The agent's services with the pending transfers to them (one query), the visible cases,
    # contacts per channel.
    assert len(queries) == 3
    assert sheet.total_contacts == 4


def test_ratings_are_the_five_newest_of_visible_cases_of_the_citizen(
    agent_a, citizen, topic_a, topic_b
):
    now = timezone.now()
    mine = [new_case(citizen, topic_a, f"D{i}", Case.Status.CLOSED) for i in range(7)]
    hidden = new_case(citizen, topic_b, "Autre service", Case.Status.CLOSED)
    for i, case in enumerate(mine):
        rate(case, 1 + i % 5, at=now - timedelta(days=10 - i))
    rate(hidden, 5, at=now)  # newest, but in a service the agent does not see
    sheet = synthesis.synthesis(agent_a, citizen)
    assert [r.case.reference for r in sheet.ratings] == [c.reference for c in mine[::-1][:5]]
    assert [r.service.name for r in sheet.ratings] == [mine[0].service.name] * 5
    assert sheet.other_cases_count == 1


def test_other_cases_are_counted_when_none_is_visible(agent_a, citizen, topic_b):
    new_case(citizen, topic_b, "Santé")
    new_case(citizen, topic_b, "Santé 2")
    sheet = synthesis.synthesis(agent_a, citizen)
    assert sheet.visible_case_ids == [] and sheet.open_cases == []
    assert sheet.other_cases_count == 2 and sheet.ratings == []


def test_contact_rows_read_as_the_template_filters_wrote_them(
    agent_a, citizen, case_a, service_a, skill_a
):
    nameless = make_staff("sans.nom@guichet.example.fr", "agent", [service_a], [skill_a])
    nameless.first_name = nameless.last_name = ""
    nameless.save()
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # across the change to summer time
    Event.objects.filter(case=case_a).update(created_at=start - timedelta(days=1))
    for i, actor in enumerate((agent_a, nameless, citizen, None)):
        contacts(citizen, case_a, 1, actor=actor, start=start + timedelta(hours=i))
    page = synthesis.contact_page(citizen, [case_a])
    by_body = {row.excerpt: row for row in page.events}
    assert by_body["Contact 0"].author == agent_a.display_name
    assert by_body["Contact 0"].author == "Alice Nom"
    assert [row.author for row in page.events[:4]] == [
        "Système",
        "l'usager",
        "sans.nom@guichet.example.fr",
        "Alice Nom",
    ]
    assert page.events[1].style == "citizen" and page.events[0].style == "agent"
    for language in ("fr", "en"):
        with translation.override(language):
            rows = synthesis.contact_page(citizen, [case_a]).events
            for row in rows:
                assert row.when == date_filter(
                    timezone.localtime(row.created_at), "DATETIME_FORMAT"
                )
                assert row.iso == row.created_at.isoformat()
                assert row.channel_label == str(dict(Channel.choices)[row.channel])
    assert [row.when for row in rows[:4]] == [
        "29 March 2026, 05:30",
        "29 March 2026, 04:30",
        "29 March 2026, 03:30",
        "29 March 2026, 01:30",
    ]


def test_sheet_html_shows_rows_with_their_links(client_as, agent_a, citizen, case_a):
    contacts(citizen, case_a, 2, actor=agent_a)
    html = client_as(agent_a).get(sheet_url(citizen)).content.decode()
    row = next(r for r in synthesis.contact_page(citizen, [case_a]).events if r.style == "agent")
    assert f'<li class="console-event console-event--agent" id="contact-{row.pk}">' in html
    assert f'<time datetime="{row.iso}">{row.when}</time>' in html
    assert f'href="/console/demandes/{case_a.reference}/">{case_a.reference}</a>' in html


@pytest.mark.parametrize("rateable", [True, False])
def test_thread_reads_the_rating_only_when_the_case_can_be_rated(
    client_as, citizen, case_a, rateable
):
    if rateable:
        Case.objects.filter(pk=case_a.pk).update(status=Case.Status.CLOSED)
        case_a.refresh_from_db()
        rate(case_a, 4, at=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        response = client_as(citizen).get(f"/espace/demandes/{case_a.reference}/")
    read_rating = any("contactcenter_satisfaction" in q["sql"] for q in queries.captured_queries)
    assert read_rating is rateable
    html = response.content.decode()
    assert ("Vous avez donné la note de 4 sur 5" in html) is rateable


def test_case_list_api_labels_match_the_model_displays(client_as, agent_a, case_a):
    Case.objects.filter(pk=case_a.pk).update(status=Case.Status.WAITING_CITIZEN)
    case_a.refresh_from_db()
    for language in ("fr", "en"):
        with translation.override(language):
            expected = (str(case_a.get_status_display()), str(case_a.get_kind_display()))
        response = client_as(agent_a).get("/api/cases/", HTTP_ACCEPT_LANGUAGE=language)
        row = next(r for r in response.json()["results"] if r["reference"] == case_a.reference)
        assert (row["status_label"], row["kind_label"]) == expected
