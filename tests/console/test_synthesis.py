"""Synthesis sheet: identity, open cases, contacts by keyset pages, counts, ratings, audit."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from console import synthesis
from contactcenter.models import AuditLog, Case, Event, Satisfaction
from tests.console.conftest import contact_events


def sheet_url(citizen):
    return f"/console/usagers/{citizen.pk}/"


def test_sheet_shows_identity_preferences_open_cases_and_counts(
    client_as, agent_a, citizen, case_a, make_case, topic_a
):
    closed = make_case(citizen, topic_a, subject="Ancienne", status=Case.Status.CLOSED)
    contact_events(citizen, 3, case_a, channel="phone", actor=agent_a)
    contact_events(citizen, 1, closed, channel="counter", actor=agent_a)
    response = client_as(agent_a).get(sheet_url(citizen))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Camille Martin" in html and "camille.martin@example.fr" in html
    assert "06 12 34 56 78" in html  # stored +33612345678, shown as dialled
    sheet = response.context["sheet"]
    assert [c.reference for c in sheet.open_cases] == [case_a.reference]
    counts = {value: n for value, _label, n in sheet.channel_counts}
    # Web: the first message of each case; phone and counter: the recorded contacts.
    assert counts == {"phone": 3, "web": 2, "counter": 1}
    assert sheet.total_contacts == 6


def test_sheet_shows_only_visible_cases_and_counts_the_others(
    client_as, agent_a, citizen, case_a, make_case, topic_b
):
    hidden = [make_case(citizen, topic_b, subject=f"Santé {i}") for i in range(3)]
    contact_events(citizen, 2, hidden[0], channel="phone")
    response = client_as(agent_a).get(sheet_url(citizen))
    sheet = response.context["sheet"]
    assert [c.reference for c in sheet.open_cases] == [case_a.reference]
    assert sheet.other_cases_count == 3
    assert "3 autres demandes dans d'autres services" in response.content.decode()
    shown = {e.case_id for e in response.context["page"].events}
    assert shown == {case_a.pk}


def test_contacts_are_newest_first_and_keyset_pages_do_not_overlap(
    client_as, agent_a, citizen, case_a
):
    Event.objects.filter(case=case_a).update(created_at=timezone.now() - timedelta(days=60))
    contact_events(citizen, 45, case_a, actor=agent_a)
    client = client_as(agent_a)
    seen = []
    cursor = None
    for _ in range(5):
        params = {"apres": cursor} if cursor else {}
        page = client.get(sheet_url(citizen), params).context["page"]
        seen += page.events
        cursor = page.next_cursor
        if not cursor:
            break
    assert len(seen) == 46 and len({e.pk for e in seen}) == 46
    stamps = [(e.created_at, e.pk) for e in seen]
    assert stamps == sorted(stamps, reverse=True)


def test_same_timestamp_events_are_not_lost_between_pages(agent_a, citizen, case_a):
    at = timezone.now()
    for i in range(25):
        Event.objects.create(
            case=case_a,
            citizen=citizen,
            type="contact",
            channel="phone",
            body=str(i),
            created_at=at,
        )
    ids = [case_a]
    first = synthesis.contact_page(citizen, ids, size=10)
    second = synthesis.contact_page(citizen, ids, cursor=first.next_cursor, size=10)
    third = synthesis.contact_page(citizen, ids, cursor=second.next_cursor, size=10)
    all_ids = [e.pk for e in first.events + second.events + third.events]
    assert len(all_ids) == 26 and len(set(all_ids)) == 26


def test_later_page_query_uses_no_offset(agent_a, citizen, case_a):
    contact_events(citizen, 30, case_a)
    first = synthesis.contact_page(citizen, [case_a])
    with CaptureQueriesContext(connection) as queries:
        synthesis.contact_page(citizen, [case_a], cursor=first.next_cursor)
    sql = queries.captured_queries[0]["sql"].upper()
    assert "OFFSET" not in sql
    assert "LIMIT 21" in sql


def test_htmx_next_page_returns_only_the_rows(client_as, agent_a, citizen, case_a):
    contact_events(citizen, 45, case_a)
    client = client_as(agent_a)
    cursor = client.get(sheet_url(citizen)).context["page"].next_cursor
    response = client.get(sheet_url(citizen), {"apres": cursor}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html
    assert html.count('<li class="console-event') == 20
    assert 'id="contacts-suite"' in html  # a third page remains


def test_tampered_cursor_is_a_400_not_a_500(client_as, agent_a, citizen, case_a):
    for bad in ("nimportequoi", "MjAyNi0wMS0wMXxhYmM", "!!!"):
        response = client_as(agent_a).get(sheet_url(citizen), {"apres": bad})
        assert response.status_code == 400
        assert "Ce lien de page n'est pas valide." in response.content.decode()


def test_last_satisfaction_ratings_are_listed(client_as, agent_a, citizen, case_a):
    Satisfaction.objects.create(
        case=case_a,
        citizen=citizen,
        channel="web",
        service=case_a.service,
        score=4,
        comment="Rapide",
    )
    response = client_as(agent_a).get(sheet_url(citizen))
    assert [r.score for r in response.context["sheet"].ratings] == [4]
    assert "4/5" in response.content.decode()


def test_opening_the_sheet_is_audited_without_a_reason_from_the_url(
    client_as, agent_a, citizen, case_a
):
    client_as(agent_a).get(sheet_url(citizen), {"motif": "Appel entrant"})
    record = AuditLog.objects.get(action=AuditLog.Action.VIEW_SYNTHESIS)
    assert record.actor == agent_a and record.citizen == citizen
    assert record.reason == ""


def test_reason_can_be_added_to_the_sheet_opening(client_as, agent_a, citizen):
    client = client_as(agent_a)
    access = client.get(sheet_url(citizen)).context["access"]
    response = client.post(
        f"/console/usagers/{citizen.pk}/motif/", {"acces": access.pk, "motif": "Rappel"}
    )
    assert response.status_code == 200
    access.refresh_from_db()
    assert access.reason == "Rappel"


def test_reason_field_labels_and_errors(client_as, agent_a, citizen):
    client = client_as(agent_a)
    page = client.get(sheet_url(citizen))
    html = page.content.decode()
    assert (
        '<label class="fr-label" for="access-motif">Motif de la consultation (facultatif)' in html
    )
    assert (
        'maxlength="300" class="fr-input" id="access-motif" aria-describedby="access-motif-hint"'
        in html
    )
    assert 'id="access-motif-hint"' in html and "aria-invalid" not in html
    access = page.context["access"]
    too_long = "<b>" + "x" * 300
    response = client.post(
        f"/console/usagers/{citizen.pk}/motif/",
        {"acces": access.pk, "motif": too_long},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'value="&lt;b&gt;xxx' in html and "<b>xxx" not in html  # typed text kept, escaped
    assert 'aria-invalid="true" aria-describedby="access-motif-messages"' in html
    assert 'id="access-motif-messages" aria-live="assertive"' in html
    assert "Le motif fait 303 caractères ; 300 au maximum." in html
    empty = client.post(f"/console/usagers/{citizen.pk}/motif/", {"acces": access.pk, "motif": ""})
    assert empty.status_code == 400
    assert "Saisissez le motif de la consultation." in empty.content.decode()


def test_sheet_of_a_non_citizen_is_404(client_as, agent_a, agent_b):
    assert client_as(agent_a).get(sheet_url(agent_b)).status_code == 404
    assert client_as(agent_a).get("/console/usagers/999999/").status_code == 404
    assert not AuditLog.objects.exists()


def test_supervisor_sees_every_case_of_their_services(
    client_as, supervisor, citizen, case_a, make_case, topic_b
):
    make_case(citizen, topic_b)
    sheet = client_as(supervisor).get(sheet_url(citizen)).context["sheet"]
    assert [c.reference for c in sheet.open_cases] == [case_a.reference]
    assert sheet.other_cases_count == 1


def test_internal_notes_are_not_counted_as_contacts(agent_a, citizen, case_a):
    from messaging import services as thread

    thread.add_internal_note(case_a, agent_a, "note")
    sheet = synthesis.synthesis(agent_a, citizen)
    assert sheet.total_contacts == 1


def test_contact_with_files_links_to_them_in_the_case(
    client_as, agent_a, citizen, case_a, pdf_upload
):
    from messaging import services as thread

    event = thread.post_agent_reply(
        case_a, agent_a, "Voici le formulaire.", files=[pdf_upload(), pdf_upload("b.pdf")]
    )
    html = client_as(agent_a).get(sheet_url(citizen)).content.decode()
    assert "2 pièces jointes" in html
    assert f"/console/demandes/{case_a.reference}/#evenement-{event.pk}" in html


def test_long_contact_bodies_are_shortened(agent_a, citizen, case_a):
    from contactcenter.services import add_event

    add_event(case_a, "contact", actor=agent_a, channel="phone", body="x" * 2000)
    page = synthesis.contact_page(citizen, [case_a])
    long_one = next(e for e in page.events if e.type == "contact")
    assert len(long_one.excerpt) == 600 and long_one.excerpt.endswith("…")
    assert long_one.author == agent_a.display_name


def test_htmx_tampered_cursor_is_a_400_partial(client_as, agent_a, citizen, case_a):
    response = client_as(agent_a).get(sheet_url(citizen), {"apres": "zzz"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    html = response.content.decode()
    assert "<html" not in html and "Ce lien de page n'est pas valide." in html
