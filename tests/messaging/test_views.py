"""Citizen space pages: list, new request, thread, reply, close, rate, history, preferences."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from contactcenter.models import AuditLog, Case, Event, Satisfaction
from contactcenter.permissions import record_access
from contactcenter.services import add_event
from messaging import services
from messaging.models import Attachment

from .conftest import exe_as_pdf, pdf_file, png_file

pytestmark = pytest.mark.django_db


def html(response):
    return response.content.decode()


# --- list -----------------------------------------------------------------------------------


def test_space_lists_my_requests_with_reference_status_service_and_french_date(
    client_as, citizen, case_a, case_b
):
    Case.objects.filter(pk=case_a.pk).update(
        last_activity_at=timezone.make_aware(timezone.datetime(2026, 3, 5, 14, 7))
    )
    page = html(client_as(citizen).get(reverse("messaging:space")))
    assert case_a.reference in page
    assert case_b.reference not in page  # someone else's
    assert "Nouvelle" in page  # status badge
    assert case_a.service.name in page
    assert "5 mars 2026 à 14:07" in page


def test_action_expected_panel_lists_cases_waiting_on_me(
    client_as, citizen, case_a, agent_a, topic_a
):
    other = services.create_request(citizen, topic_a, "question", "Autre sujet", "Texte")
    services.request_details(case_a, agent_a, "Précisez")
    page = html(client_as(citizen).get(reverse("messaging:space")))
    panel = page.split('id="action-attendue"')[1].split("</section>")[0]
    assert case_a.reference in panel
    assert other.reference not in panel


def test_action_expected_panel_says_when_nothing_is_expected(client_as, citizen, case_a):
    page = html(client_as(citizen).get(reverse("messaging:space")))
    assert "Aucune action n'est attendue de votre part" in page


def test_space_is_paginated(client_as, citizen, topic_a):
    for i in range(25):
        services.create_request(citizen, topic_a, "question", f"Sujet {i}", "Texte")
    client = client_as(citizen)
    first = html(client.get(reverse("messaging:space")))
    second = html(client.get(reverse("messaging:space") + "?page=2"))
    assert first.count("/espace/demandes/2026-") + second.count("/espace/demandes/2026-") >= 25
    assert "Sujet 24" in first and "Sujet 0" in second


# --- new request ----------------------------------------------------------------------------


def test_new_request_starts_with_the_topics(client_as, citizen, topic_a, topic_b):
    page = html(client_as(citizen).get(reverse("messaging:new_request")))
    assert "Étape 1 sur 3" in page
    assert 'value="impots"' in page and 'value="sante"' in page


def test_then_the_kinds(client_as, citizen, topic_a):
    page = html(client_as(citizen).get(reverse("messaging:new_request") + "?topic=impots"))
    assert "Étape 2 sur 3" in page
    for label in (
        "Faire une réclamation",
        "Signaler une difficulté",
        "Poser une question",
        "Transmettre une information",
    ):
        assert label in page


def test_unknown_topic_shows_a_precise_error(client_as, citizen, topic_a):
    page = html(client_as(citizen).get(reverse("messaging:new_request") + "?topic=nope"))
    assert "Étape 1 sur 3" in page
    assert "Choisissez un des thèmes proposés." in page


def test_then_the_message_box_after_knowledge_suggestions(client_as, citizen, topic_a):
    url = reverse("messaging:new_request") + "?topic=impots&kind=question"
    page = html(client_as(citizen).get(url))
    assert "Étape 3 sur 3" in page
    assert 'name="body"' in page and 'name="files"' in page
    try:
        suggestions = reverse("knowledge:deflection_suggestions")
    except Exception:
        suggestions = None
    if suggestions:
        # The suggestions come before the message box.
        assert page.index('id="suggestions"') < page.index('name="body"')
        assert f'hx-get="{suggestions}?topic=impots' in page


def test_submitting_creates_the_request_with_its_pdf_and_shows_it(client_as, citizen, topic_a):
    client = client_as(citizen)
    response = client.post(
        reverse("messaging:new_request"),
        {
            "topic": "impots",
            "kind": "claim",
            "subject": "Taxe foncière",
            "body": "Bonjour",
            "files": [pdf_file()],
        },
    )
    case = Case.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("messaging:case_detail", args=[case.reference])
    assert case.kind == "claim" and case.channel == "web"
    assert Attachment.objects.get().event.case == case
    page = html(client.get(response["Location"]))
    assert "justificatif.pdf" in page
    assert f"Votre demande {case.reference} a bien été envoyée" in page


def test_errors_keep_what_was_typed(client_as, citizen, topic_a):
    response = client_as(citizen).post(
        reverse("messaging:new_request"),
        {"topic": "impots", "kind": "question", "subject": "Mon objet", "body": "x" * 10_001},
    )
    assert response.status_code == 400
    page = html(response)
    assert 'value="Mon objet"' in page
    assert "Le message fait 10001 caractères ; 10000 au maximum." in page
    assert 'aria-invalid="true"' in page
    assert Case.objects.count() == 0


def test_disguised_executable_is_refused_in_the_form(client_as, citizen, topic_a):
    response = client_as(citizen).post(
        reverse("messaging:new_request"),
        {
            "topic": "impots",
            "kind": "question",
            "subject": "Objet",
            "body": "Texte",
            "files": [exe_as_pdf("facture.pdf")],
        },
    )
    assert response.status_code == 400
    assert "« facture.pdf » est un programme" in html(response)
    assert Case.objects.count() == 0


def test_six_files_are_refused_in_the_form(client_as, citizen, topic_a):
    response = client_as(citizen).post(
        reverse("messaging:new_request"),
        {
            "topic": "impots",
            "kind": "question",
            "subject": "Objet",
            "body": "Texte",
            "files": [png_file(f"p{i}.png") for i in range(6)],
        },
    )
    assert response.status_code == 400
    assert "Vous avez joint 6 fichiers ; 5 au maximum par message." in html(response)


def test_chatbot_handoff_prefills_topic_fragility_and_shows_transcript(
    client_as, citizen, topic_a, chatbot_conversation
):
    client = client_as(citizen)
    pk = chatbot_conversation.pk
    # The assistant's link: topic known, so the citizen goes straight to the kind.
    step2 = html(client.get(reverse("messaging:new_request") + f"?topic=impots&chatbot={pk}"))
    assert "Étape 2 sur 3" in step2
    assert f'name="chatbot" value="{pk}"' in step2 and 'name="fragile" value="1"' in step2
    step3 = html(
        client.get(reverse("messaging:new_request") + f"?topic=impots&kind=question&chatbot={pk}")
    )
    assert "Ma carte vitale est perdue" in step3
    client.post(
        reverse("messaging:new_request"),
        {
            "topic": "impots",
            "kind": "question",
            "subject": "Suite",
            "body": "Merci",
            "chatbot": str(pk),
            "fragile": "True",
        },
    )
    case = Case.objects.get()
    assert case.fragile is True
    assert case.events.filter(type=Event.Type.CHATBOT).exists()


def test_chatbot_handoff_without_topic_uses_the_conversation_topic(
    client_as, citizen, topic_a, chatbot_conversation
):
    url = reverse("messaging:new_request") + f"?chatbot={chatbot_conversation.pk}"
    assert "Étape 2 sur 3" in html(client_as(citizen).get(url))


def test_someone_elses_conversation_is_ignored(client_as, citizen2, topic_a, chatbot_conversation):
    url = reverse("messaging:new_request") + (
        f"?topic=impots&kind=question&chatbot={chatbot_conversation.pk}"
    )
    page = html(client_as(citizen2).get(url))
    assert "Ma carte vitale" not in page
    assert f'value="{chatbot_conversation.pk}"' not in page


# --- detail and actions -----------------------------------------------------------------------


def test_detail_shows_the_thread_without_internal_notes(client_as, citizen, case_a, agent_a):
    services.add_internal_note(case_a, agent_a, "NOTE-SECRETE")
    services.post_agent_reply(case_a, agent_a, "Réponse visible", files=[pdf_file("reponse.pdf")])
    page = html(client_as(citizen).get(reverse("messaging:case_detail", args=[case_a.reference])))
    assert "Réponse visible" in page and "reponse.pdf" in page
    assert "NOTE-SECRETE" not in page
    # The agent's name is not shown to the citizen: the service speaks.
    assert agent_a.display_name not in page


def test_message_html_is_escaped_and_links_are_text(client_as, citizen, case_a):
    services.post_citizen_message(
        case_a, citizen, '<script>alert("x")</script> voir https://exemple.fr/piege'
    )
    page = html(client_as(citizen).get(reverse("messaging:case_detail", args=[case_a.reference])))
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert 'href="https://exemple.fr/piege"' not in page


def test_reply_with_file_goes_into_the_thread(client_as, citizen, case_a, agent_a):
    services.request_details(case_a, agent_a, "Envoyez votre avis")
    client = client_as(citizen)
    response = client.post(
        reverse("messaging:case_reply", args=[case_a.reference]),
        {"body": "Le voici", "files": [png_file("avis.png")]},
    )
    assert response.status_code == 302
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.IN_PROGRESS
    assert case_a.events.get(body="Le voici").attachments.get().original_name == "avis.png"


def test_empty_reply_re_renders_with_error(client_as, citizen, case_a):
    response = client_as(citizen).post(
        reverse("messaging:case_reply", args=[case_a.reference]), {"body": "   "}
    )
    assert response.status_code == 400
    assert "Le message ne peut pas être vide." in html(response)


def test_reply_on_closed_case_shows_the_reason(client_as, citizen, case_a):
    services.citizen_close(case_a, citizen)
    response = client_as(citizen).post(
        reverse("messaging:case_reply", args=[case_a.reference]), {"body": "Encore"}
    )
    assert response.status_code == 400
    assert "Rouvrez-la pour écrire à nouveau" in html(response)


def test_close_then_reopen(client_as, citizen, case_a):
    client = client_as(citizen)
    client.post(reverse("messaging:case_close", args=[case_a.reference]))
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.CLOSED
    page = html(client.get(reverse("messaging:case_detail", args=[case_a.reference])))
    assert "Rouvrir la demande" in page and 'name="body"' not in page
    client.post(reverse("messaging:case_reopen", args=[case_a.reference]))
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.NEW


def test_close_is_post_only(client_as, citizen, case_a):
    response = client_as(citizen).get(reverse("messaging:case_close", args=[case_a.reference]))
    assert response.status_code == 405


def test_rating_is_offered_once_answered_and_accepted_once(client_as, citizen, case_a, agent_a):
    client = client_as(citizen)
    detail = reverse("messaging:case_detail", args=[case_a.reference])
    assert "Votre avis sur la réponse" not in html(client.get(detail))
    services.post_agent_reply(case_a, agent_a, "Réponse")
    assert "Votre avis sur la réponse" in html(client.get(detail))
    rate = reverse("messaging:case_rate", args=[case_a.reference])
    client.post(rate, {"score": "4", "comment": "Rapide"})
    assert Satisfaction.objects.get(case=case_a).score == 4
    client.post(rate, {"score": "1"})
    assert Satisfaction.objects.get(case=case_a).score == 4
    assert "Vous avez donné la note de 4 sur 5" in html(client.get(detail))


def test_invalid_rating_shows_precise_error(client_as, citizen, case_a, agent_a):
    services.post_agent_reply(case_a, agent_a, "Réponse")
    response = client_as(citizen).post(
        reverse("messaging:case_rate", args=[case_a.reference]), {"score": "9", "comment": "hm"}
    )
    assert response.status_code == 400
    assert "Choisissez une note entre 1 et 5." in html(response)


def test_rating_before_answer_is_refused(client_as, citizen, case_a):
    response = client_as(citizen).post(
        reverse("messaging:case_rate", args=[case_a.reference]), {"score": "5"}
    )
    assert response.status_code == 400
    assert "une fois la demande traitée" in html(response)
    assert not Satisfaction.objects.exists()


# --- attachments ----------------------------------------------------------------------------


def test_attachment_download_is_a_private_stream_with_safe_headers(client_as, citizen, case_a):
    event = services.post_citizen_message(case_a, citizen, "PJ", files=[pdf_file("avis.pdf")])
    attachment = event.attachments.get()
    response = client_as(citizen).get(reverse("messaging:attachment", args=[attachment.public_id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "avis.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")
    assert not AuditLog.objects.exists()  # a citizen reading their own file is not audited


def test_staff_attachment_read_is_audited(client_as, citizen, case_a, agent_a):
    event = services.post_citizen_message(case_a, citizen, "PJ", files=[pdf_file()])
    attachment = event.attachments.get()
    response = client_as(agent_a).get(reverse("messaging:attachment", args=[attachment.public_id]))
    assert response.status_code == 200
    log = AuditLog.objects.get()
    assert (log.action, log.actor, log.case, log.citizen) == (
        "view_attachment",
        agent_a,
        case_a,
        citizen,
    )
    assert log.actor_service == case_a.service


def test_media_root_is_not_served_under_any_public_url(client_as, citizen, case_a):
    event = services.post_citizen_message(case_a, citizen, "PJ", files=[pdf_file()])
    path = event.attachments.get().file.name
    for prefix in ("/media/", "/static/", "/"):
        assert client_as(citizen).get(prefix + path).status_code == 404


# --- history, preferences, access log -------------------------------------------------------


def test_history_lists_every_channel_newest_first(client_as, citizen, case_a, agent_a):
    now = timezone.now()
    add_event(
        case_a,
        Event.Type.CONTACT,
        actor=agent_a,
        channel="phone",
        body="Appel",
        at=now + timedelta(minutes=1),
    )
    add_event(
        case_a,
        Event.Type.CONTACT,
        actor=agent_a,
        channel="counter",
        body="Accueil",
        at=now + timedelta(minutes=2),
    )
    add_event(
        case_a,
        Event.Type.NOTE,
        actor=agent_a,
        internal=True,
        body="interne",
        at=now + timedelta(minutes=3),
    )
    page = html(client_as(citizen).get(reverse("messaging:history")))
    rows = re.findall(r"<td>(Messagerie sécurisée|Téléphone|Accueil physique)</td>", page)
    assert rows == ["Accueil physique", "Téléphone", "Messagerie sécurisée"]
    assert "interne" not in page


def test_history_is_paginated(client_as, citizen, case_a):
    for i in range(30):
        add_event(case_a, Event.Type.CONTACT, channel="phone", body=str(i))
    client = client_as(citizen)
    assert "Page suivante" in html(client.get(reverse("messaging:history")))
    assert client.get(reverse("messaging:history") + "?page=2").status_code == 200


def test_preferences_save_email_and_sms_with_normalised_mobile(client_as, citizen):
    response = client_as(citizen).post(
        reverse("messaging:preferences"),
        {"notify_email": "on", "notify_sms": "on", "mobile_phone": "07 98 76 54 32"},
    )
    assert response.status_code == 302
    citizen.refresh_from_db()
    assert citizen.notify_email and citizen.notify_sms
    assert citizen.mobile_phone == "+33798765432"


@pytest.mark.parametrize(
    ("number", "stored"),
    [
        ("0692 12 34 56", "+262692123456"),
        ("+590 690 00 12 34", "+590690001234"),
        ("0696 20 12 34", "+596696201234"),
        ("+687 75 12 34", "+687751234"),
    ],
)
def test_preferences_accept_an_overseas_mobile(client_as, citizen, number, stored):
    response = client_as(citizen).post(
        reverse("messaging:preferences"), {"notify_sms": "on", "mobile_phone": number}
    )
    assert response.status_code == 302
    citizen.refresh_from_db()
    assert citizen.mobile_phone == stored


def test_preferences_none_is_allowed(client_as, citizen):
    client_as(citizen).post(reverse("messaging:preferences"), {"mobile_phone": ""})
    citizen.refresh_from_db()
    assert not citizen.notify_email and not citizen.notify_sms


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("01 23 45 67 89", "Ce numéro n'est pas un numéro de mobile"),
        ("06 12", "Ce numéro est trop court"),
        ("+44 7700 900123", "l'indicatif +44 n'est pas français"),
        ("abc", "Un numéro de téléphone ne contient que des chiffres"),
    ],
)
def test_preferences_refuse_a_non_french_mobile_and_keep_it(client_as, citizen, number, message):
    response = client_as(citizen).post(
        reverse("messaging:preferences"), {"notify_sms": "on", "mobile_phone": number}
    )
    assert response.status_code == 400
    page = html(response)
    assert message.replace("'", "&#x27;") in page
    assert f'value="{number}"' in page
    citizen.refresh_from_db()
    assert citizen.mobile_phone == "+33612345678"


def test_preferences_sms_without_number_is_refused(client_as, citizen):
    response = client_as(citizen).post(
        reverse("messaging:preferences"), {"notify_sms": "on", "mobile_phone": ""}
    )
    assert response.status_code == 400
    assert "Indiquez un numéro de mobile pour recevoir les alertes par SMS." in html(response)


def test_access_log_shows_services_and_dates_not_agent_names(client_as, citizen, case_a, agent_a):
    record_access(agent_a, AuditLog.Action.VIEW_CASE, case=case_a)
    page = html(client_as(citizen).get(reverse("messaging:access_log")))
    assert case_a.service.name in page
    assert "Consultation d&#x27;une demande" in page or "Consultation d'une demande" in page
    assert agent_a.first_name not in page.split("<main")[1]
    assert agent_a.email not in page


def test_access_log_groups_repeated_reads_of_one_agent_in_one_session(
    client_as, citizen, case_a, agent_a, supervisor
):
    start = timezone.now() - timedelta(hours=3)
    for minute in range(12):  # a chat: twelve reads, a few minutes apart
        record = record_access(agent_a, AuditLog.Action.VIEW_CASE, case=case_a)
        AuditLog.objects.filter(pk=record.pk).update(
            created_at=start + timedelta(minutes=2 * minute)
        )
    # Someone else meanwhile, and the first agent again two hours later: rows of their own.
    other = record_access(supervisor, AuditLog.Action.VIEW_CASE, case=case_a)
    AuditLog.objects.filter(pk=other.pk).update(created_at=start + timedelta(minutes=5))
    later = record_access(agent_a, AuditLog.Action.VIEW_CASE, case=case_a)
    AuditLog.objects.filter(pk=later.pk).update(created_at=start + timedelta(hours=2))
    page = html(client_as(citizen).get(reverse("messaging:access_log")))
    table = page.split("<tbody>")[1].split("</tbody>")[0]
    rows = table.split("<tr>")[1:]
    # Newest session first: the later read, the twelve reads, the other person's read.
    assert len(rows) == 3
    assert "(12 fois)" in rows[1] and "jusqu’à" in rows[1]
    assert "fois" not in rows[0] and "fois" not in rows[2]
    # The summary still counts every read.
    assert "14 consultations" in page


def test_access_log_lists_only_my_file(client_as, citizen, citizen2, case_b, agent_b):
    record_access(agent_b, AuditLog.Action.VIEW_CASE, case=case_b)
    page = html(client_as(citizen).get(reverse("messaging:access_log")))
    assert "Aucun service n'a encore consulté votre dossier." in page


@pytest.mark.parametrize("page", ["space", "history", "preferences", "access_log"])
def test_navigation_marks_the_current_page(client_as, citizen, page):
    body = html(client_as(citizen).get(reverse(f"messaging:{page}")))
    nav = body.split('id="navigation-principale"')[1].split("</nav>")[0]
    current = re.findall(r'href="([^"]+)" aria-current="page"', nav)
    assert current == [reverse(f"messaging:{page}")]


def test_posting_without_a_kind_goes_back_to_that_step_with_an_error(client_as, citizen, topic_a):
    response = client_as(citizen).post(
        reverse("messaging:new_request"),
        {"topic": "impots", "kind": "autre", "subject": "S", "body": "B"},
    )
    assert response.status_code == 400
    page = html(response)
    assert "Étape 2 sur 3" in page
    assert "Choisissez une des natures de demande proposées." in page
    assert Case.objects.count() == 0


@pytest.mark.parametrize("where", ["new_request", "case_detail"])
def test_file_fields_use_the_dsfr_upload_component(client_as, citizen, case_a, topic_a, where):
    url = (
        reverse("messaging:new_request") + f"?topic={topic_a.slug}&kind=question"
        if where == "new_request"
        else reverse("messaging:case_detail", args=[case_a.reference])
    )
    page = html(client_as(citizen).get(url))
    group = re.search(r'<div class="fr-upload-group">(.*?)</div>', page, re.S)
    assert group, "no DSFR upload group"
    assert re.search(r'<label class="fr-label" for="id_files">Pièces jointes', group.group(1))
    assert "PDF, JPEG ou PNG" in group.group(1)
    assert re.search(r'<input[^>]*type="file"[^>]*class="fr-upload"', group.group(1)) or re.search(
        r'<input[^>]*class="fr-upload"[^>]*type="file"', group.group(1)
    )
