"""The agent workstation (/console/poste/): page, partials, permissions, actions from a tab."""

import json

import pytest
from django.test import Client

import routing
from contactcenter.models import AuditLog, Case, Event
from contactcenter.services import add_event

from .conftest import new_case

POSTE = "/console/poste/"


def item_url(case, suffix=""):
    return f"{POSTE}demandes/{case.reference}/{suffix}"


HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def mine(citizen, topic_a, agent_a):
    return new_case(citizen, topic_a, subject="Ma demande", assigned_to=agent_a)


def test_anonymous_goes_to_login_and_citizen_gets_403(client, citizen, case_a):
    for path in (
        POSTE,
        f"{POSTE}liste/",
        f"{POSTE}file/",
        item_url(case_a),
        item_url(case_a, "usager/"),
    ):
        response = client.get(path)
        assert response.status_code == 302 and response.url.startswith("/connexion/")
    citizen_client = Client()
    citizen_client.force_login(citizen)
    assert citizen_client.get(POSTE).status_code == 403
    assert citizen_client.get(item_url(case_a)).status_code == 403


def test_page_lists_my_items_with_load_and_compact_header(client_as, agent_a, mine, case_a):
    response = client_as(agent_a).get(POSTE)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="ws-header"' in html and "fr-header__brand" not in html  # no full banner
    assert 'id="routing-status-widget"' in html  # presence selector always visible
    assert "Tchat 0/2" in html and "Messages 1" in html
    assert mine.reference in html
    assert case_a.reference not in html  # in the queue, not mine
    assert "<script>" not in html  # CSP: no inline script


def test_items_newest_activity_first_with_unread_counts(client_as, agent_a, citizen, topic_a):
    old = new_case(citizen, topic_a, subject="Ancienne", assigned_to=agent_a)
    new = new_case(citizen, topic_a, subject="Récente", assigned_to=agent_a)
    add_event(new, type=Event.Type.MESSAGE, actor=citizen, body="Un autre message")
    Case.objects.filter(pk=old.pk).update(last_activity_at=new.last_activity_at.replace(year=2020))
    html = client_as(agent_a).get(f"{POSTE}liste/", **HX).content.decode()
    assert html.index(new.reference) < html.index(old.reference)
    assert "2 non lus" in html  # the first message and the follow-up, unanswered
    assert 'id="ws-load"' in html and 'hx-swap-oob="true"' in html


def test_reply_from_the_workstation_answers_with_the_tab(client_as, agent_a, mine, citizen):
    client = client_as(agent_a)
    response = client.post(
        f"/console/demandes/{mine.reference}/repondre/",
        {"body": "Voici la réponse", "action": "reply", "poste": "1"},
        **HX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-ws-case="{mine.reference}"' in html and "Voici la réponse" in html
    assert response["HX-Trigger"] == "guichet:worklist-changed"
    unread = client.get(f"{POSTE}liste/", **HX).content.decode()
    assert "non lu" not in unread


def test_reply_errors_stay_in_the_tab(client_as, agent_a, mine):
    response = client_as(agent_a).post(
        f"/console/demandes/{mine.reference}/repondre/",
        {"body": "", "action": "reply", "poste": "1"},
        **HX,
    )
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()


def test_note_and_close_from_the_workstation(client_as, agent_a, mine):
    client = client_as(agent_a)
    response = client.post(
        f"/console/demandes/{mine.reference}/note/", {"body": "Vu au téléphone", "poste": "1"}, **HX
    )
    assert response.status_code == 200 and "Note interne ajoutée." in response.content.decode()
    response = client.post(
        f"/console/demandes/{mine.reference}/cloturer/",
        {"resolution": "answered", "body": "Bonne journée", "poste": "1"},
        **HX,
    )
    assert response.status_code == 200
    mine.refresh_from_db()
    assert mine.status == Case.Status.CLOSED


def test_transfer_from_a_tab_replaces_the_tab(client_as, agent_a, mine, service_b, topic_b):
    client = client_as(agent_a)
    form = client.get(item_url(mine, "transfert/"), **HX).content.decode()
    assert f"transfer-{mine.reference.replace('-', '')}-to_service" in form
    response = client.post(
        f"/console/demandes/{mine.reference}/transferer/",
        {
            "to_service": service_b.pk,
            "to_topic": topic_b.pk,
            "reason": "Hors compétence",
            "poste": "1",
        },
        **HX,
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == f'[data-ws-case="{mine.reference}"]'
    mine.refresh_from_db()
    assert mine.service_id == service_b.pk
    # An invalid transfer shows the form again with its errors, in place.
    other = client.post(
        f"/console/demandes/{mine.reference}/transferer/", {"reason": "", "poste": "1"}, **HX
    )
    assert other.status_code == 404  # no longer visible to the sender


def test_tab_and_citizen_panel_are_audited(client_as, agent_a, mine, citizen):
    client = client_as(agent_a)
    html = client.get(item_url(mine), **HX).content.decode()
    assert "Ma demande" in html and "data-ws-reply" in html
    panel = client.get(item_url(mine, "usager/"), **HX).content.decode()
    assert citizen.email in panel and "Demandes en cours" in panel
    actions = set(
        AuditLog.objects.filter(actor=agent_a, citizen=citizen).values_list("action", flat=True)
    )
    assert {AuditLog.Action.VIEW_CASE, AuditLog.Action.VIEW_SYNTHESIS} <= actions


@pytest.mark.parametrize("suffix", ["", "usager/", "transfert/"])
def test_agent_cannot_open_another_services_case_through_partials(
    client_as, agent_a, case_b, suffix
):
    response = client_as(agent_a).get(item_url(case_b, suffix), **HX)
    assert response.status_code == 404
    assert not AuditLog.objects.filter(actor=agent_a, case=case_b).exists()


def test_deep_link_opens_the_case_and_is_checked(client_as, agent_a, mine, case_b):
    client = client_as(agent_a)
    html = client.get(f"{POSTE}?ouvrir={mine.reference}").content.decode()
    assert f'data-initial="{mine.reference}"' in html
    assert client.get(f"{POSTE}?ouvrir={case_b.reference}").status_code == 404


def test_actions_of_another_service_are_404_even_from_the_workstation(client_as, agent_a, case_b):
    client = client_as(agent_a)
    for action, data in (
        ("repondre", {"body": "x", "action": "reply"}),
        ("note", {"body": "x"}),
        ("cloturer", {"resolution": "answered"}),
    ):
        response = client.post(
            f"/console/demandes/{case_b.reference}/{action}/", {**data, "poste": "1"}, **HX
        )
        assert response.status_code == 404


def test_take_from_the_queue_opens_the_item(client_as, agent_a, case_a):
    client = client_as(agent_a)
    queue = client.get(f"{POSTE}file/", **HX).content.decode()
    assert case_a.reference in queue and "Prendre" in queue
    response = client.post(f"/console/demandes/{case_a.reference}/prendre/", {"poste": "1"}, **HX)
    assert response.status_code == 200
    trigger = json.loads(response["HX-Trigger"])
    assert trigger["guichet:open-item"]["reference"] == case_a.reference
    assert trigger["guichet:open-item"]["url"] == item_url(case_a)
    case_a.refresh_from_db()
    assert case_a.assigned_to_id == agent_a.pk


def test_posts_need_csrf(agent_a, mine):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent_a)
    response = client.post(
        f"/console/demandes/{mine.reference}/note/", {"body": "x", "poste": "1"}, **HX
    )
    assert response.status_code == 403


def test_case_page_links_to_the_workstation(client_as, agent_a, mine):
    html = client_as(agent_a).get(f"/console/demandes/{mine.reference}/").content.decode()
    assert f"/console/poste/?ouvrir={mine.reference}" in html


def test_chat_item_opens_the_chat_panel_with_unread_citizen_messages(
    client_as, agent_a, citizen, topic_a
):
    from chat.models import ChatMessage, Conversation

    case = new_case(citizen, topic_a, subject="Tchat", channel="chat", assigned_to=agent_a)
    conversation = Conversation.objects.create(
        case=case, citizen=citizen, agent=agent_a, status="active", last_seq=4, agent_read_seq=1
    )
    for seq, kind in ((1, "citizen"), (2, "agent"), (3, "citizen"), (4, "citizen")):
        ChatMessage.objects.create(
            conversation=conversation,
            seq=seq,
            client_id=f"c{seq}xxxxxxx",
            kind=kind,
            sender=citizen if kind == "citizen" else agent_a,
            body="…",
        )
    html = client_as(agent_a).get(f"{POSTE}liste/", **HX).content.decode()
    assert f'data-url="/tchat/agent/{conversation.pk}/panneau/"' in html
    assert 'data-kind="chat"' in html
    assert "2 non lus" in html  # seq 3 and 4: past the read mark, from the citizen


def test_queue_is_in_routings_queue_order(agent_a, citizen, topic_a):
    from datetime import timedelta

    from console import workstation

    late = new_case(citizen, topic_a, subject="Échéance lointaine", sla_in=timedelta(days=9))
    soon = new_case(citizen, topic_a, subject="Échéance proche", sla_in=timedelta(days=1))
    none = new_case(citizen, topic_a, subject="Sans échéance")
    fragile = new_case(citizen, topic_a, subject="Fragile", sla_in=timedelta(days=20))
    head = new_case(citizen, topic_a, subject="Tête de file", sla_in=timedelta(days=30))
    Case.objects.filter(pk=fragile.pk).update(fragile=True)
    Case.objects.filter(pk=head.pk).update(priority=100)
    Case.objects.filter(pk=none.pk).update(sla_deadline=None)
    order = [item.case.pk for item in workstation.queue_items(agent_a)]
    expected = Case.objects.filter(pk__in=order).order_by(*routing.QUEUE_ORDER)
    assert order == [case.pk for case in expected]
    assert order[:4] == [head.pk, fragile.pk, soon.pk, late.pk] and order[-1] == none.pk


def test_live_chats_are_marked_to_open_at_load(client_as, agent_a, citizen, topic_a):
    from chat.models import Conversation

    live = new_case(citizen, topic_a, subject="En cours", channel="chat", assigned_to=agent_a)
    ended = new_case(
        citizen, topic_a, subject="Fini", channel="chat", assigned_to=agent_a, status="answered"
    )
    for case in (live, ended):
        Conversation.objects.create(case=case, citizen=citizen, agent=agent_a, status="active")
    html = client_as(agent_a).get(f"{POSTE}liste/", **HX).content.decode()
    assert html.count(" data-live") == 1
    assert html.index(" data-live") > html.index(f'data-reference="{live.reference}"')


def test_partials_in_english_have_no_french_interface_words(agent_a, mine, case_a):
    import re

    from tests.contactcenter.test_english_pages import FRENCH

    client = Client()
    client.cookies["django_language"] = "en"
    client.force_login(agent_a)
    for path in (
        POSTE,
        f"{POSTE}liste/",
        f"{POSTE}file/",
        item_url(mine),
        item_url(mine, "usager/"),
        item_url(mine, "transfert/"),
    ):
        html = client.get(path, **HX).content.decode()
        text = re.sub(r"<[^>]+>", " ", html)
        found = [p for p in FRENCH if re.search(p, text)]
        assert not found, (path, found)
    assert "Work list" in client.get(POSTE).content.decode()


def _chat(citizen, topic, agent, messages=4):
    from chat.models import ChatMessage, Conversation

    case = new_case(citizen, topic, subject="Tchat", channel="chat", assigned_to=agent)
    conversation = Conversation.objects.create(
        case=case, citizen=citizen, agent=agent, status="active", last_seq=messages
    )
    for seq in range(1, messages + 1):
        kind = "citizen" if seq % 2 else "agent"
        ChatMessage.objects.create(
            conversation=conversation,
            seq=seq,
            client_id=f"c{seq}xxxxxxx",
            kind=kind,
            sender=citizen if kind == "citizen" else agent,
            body=f"Message {seq}",
        )
    return conversation


def test_every_workstation_fragment_stays_within_ten_queries(
    client_as, agent_a, agent_b, citizen, topic_a, topic_b, django_assert_max_num_queries
):
    # The budget: at most 10 queries per partial, whatever the number of rows (several
    # cases, chats with messages, transfer targets in another service), session and user
    # included.
    cases = [new_case(citizen, topic_a, subject=f"Q{i}", assigned_to=agent_a) for i in range(3)]
    for case in cases:
        add_event(case, type=Event.Type.MESSAGE, actor=citizen, body="Relance")
    new_case(citizen, topic_a, subject="En file")
    chats = [_chat(citizen, topic_a, agent_a, messages=6) for _ in range(2)]
    case = cases[0]
    client = client_as(agent_a)
    paths = [
        POSTE,
        f"{POSTE}liste/",
        f"{POSTE}file/",
        item_url(case),
        item_url(case, "usager/"),
        item_url(case, "transfert/"),
        *(f"/tchat/agent/{chat.pk}/panneau/" for chat in chats),
    ]
    for path in paths:
        client.get(path, **HX)  # warm the per-process caches (translations, templates)
        with django_assert_max_num_queries(10, info=path):
            response = client.get(path, **HX)
        assert response.status_code == 200, path


def test_record_a_contact_in_the_workstation_dialog(client_as, agent_a, mine, citizen):
    client = client_as(agent_a)
    url = f"/console/contacts/nouveau/{citizen.pk}/"
    form = client.get(url, {"poste": "1", "demande": mine.reference}, **HX)
    html = form.content.decode()
    assert form.status_code == 200 and "<html" not in html
    assert 'id="ws-dialog-title"' in html and 'id="ws-contact-summary"' in html
    assert f'value="{mine.pk}" checked' in html or f'value="{mine.pk}" selected' in html
    errors = client.post(url, {"poste": "1", "channel": "phone", "case": mine.pk}, **HX)
    assert errors.status_code == 400 and 'aria-invalid="true"' in errors.content.decode()
    response = client.post(
        url,
        {"poste": "1", "channel": "phone", "case": mine.pk, "summary": "Appel : pièce reçue"},
        **HX,
    )
    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"]) == {
        "guichet:worklist-changed": {},
        "guichet:case-changed": {"reference": mine.reference},
    }
    assert f'data-reference="{mine.reference}"' in response.content.decode()
    assert mine.events.filter(type=Event.Type.CONTACT, body__contains="pièce reçue").exists()
    # The full page keeps redirecting to the case.
    full = client.post(url, {"channel": "phone", "case": mine.pk, "summary": "Rappel"})
    assert full.status_code == 302 and full.url == f"/console/demandes/{mine.reference}/"


def test_citizen_panel_actions_open_in_the_dialog_not_new_windows(client_as, agent_a, mine):
    html = client_as(agent_a).get(item_url(mine, "usager/"), **HX).content.decode()
    assert 'target="_blank"' not in html.split("Demandes en cours")[0].split("Actions")[1]
    assert html.count('hx-target="#ws-dialog-body"') == 4  # contact, diagnosis, co-browsing, visio
    page = client_as(agent_a).get(POSTE).content.decode()
    assert 'id="ws-dialog-body"' in page and "cobrowse/js/agent.js" in page
