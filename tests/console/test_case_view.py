"""Case view: full timeline, audit on opening, reply, details, note, close, reopen, reclassify."""

from django.core.files.uploadedfile import SimpleUploadedFile

from contactcenter.models import AuditLog, Case, Event
from contactcenter.services import citizen_history
from messaging import services as thread
from messaging.models import Attachment, Notification


def url(case, action=""):
    return f"/console/demandes/{case.reference}/" + (f"{action}/" if action else "")


def test_case_view_shows_thread_and_every_event_including_internal(client_as, agent_a, case_a):
    thread.add_internal_note(case_a, agent_a, "Dossier sensible, vérifier l'adresse.")
    thread.post_agent_reply(case_a, agent_a, "Voici la marche à suivre.")
    response = client_as(agent_a).get(url(case_a))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Bonjour, j&#x27;ai déménagé" in html
    assert "Dossier sensible, vérifier l&#x27;adresse." in html
    assert "Voici la marche à suivre." in html
    types = [e.type for e in response.context["events"]]
    assert types.count("note") == 1 and "status" in types
    # Every event of the case is listed, internal ones included.
    assert len(types) == Event.objects.filter(case=case_a).count()


def test_opening_a_case_writes_an_audit_record_without_a_reason_from_the_url(
    client_as, agent_a, case_a
):
    client = client_as(agent_a)
    client.get(url(case_a))
    # Anything that makes the agent's browser load this URL (an image in a co-browsed page, a
    # link) would otherwise write a reason of its choosing in the agent's name.
    response = client.get(url(case_a), {"motif": "Appel de l'usager"})
    assert response.status_code == 200
    records = list(AuditLog.objects.filter(case=case_a).order_by("id"))
    assert [r.action for r in records] == ["view_case", "view_case"]
    assert records[0].actor == agent_a and records[0].citizen == case_a.citizen
    assert records[0].actor_service_id == case_a.service_id
    assert [r.reason for r in records] == ["", ""]
    assert "Appel de l" not in response.content.decode()


def test_reason_can_be_added_once_to_this_opening(client_as, agent_a, agent_a2, case_a):
    client = client_as(agent_a)
    access = client.get(url(case_a)).context["access"]
    response = client.post(
        url(case_a, "motif"), {"acces": access.pk, "motif": "Courrier reçu"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "Courrier reçu" in response.content.decode()
    access.refresh_from_db()
    assert access.reason == "Courrier reçu"
    # No second reason, and nobody else may write on this record.
    again = client.post(
        url(case_a, "motif"), {"acces": access.pk, "motif": "Autre"}, HTTP_HX_REQUEST="true"
    )
    assert again.status_code == 400
    other = client_as(agent_a2).post(url(case_a, "motif"), {"acces": access.pk, "motif": "X"})
    assert other.status_code == 404
    access.refresh_from_db()
    assert access.reason == "Courrier reçu"
    assert AuditLog.objects.filter(case=case_a).count() == 1


def test_reply_answers_the_case_and_notifies_without_content(
    client_as, agent_a, case_a, pdf_upload, django_capture_on_commit_callbacks
):
    case_a.citizen.notify_email = True
    case_a.citizen.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(agent_a).post(
            url(case_a, "repondre"),
            {
                "body": "Votre adresse est mise à jour.",
                "action": "reply",
                "files": [pdf_upload("courrier.pdf")],
            },
        )
    assert response.status_code == 302
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.ANSWERED
    event = Event.objects.get(case=case_a, type=Event.Type.MESSAGE, actor=agent_a)
    assert Attachment.objects.get(event=event).original_name == "courrier.pdf"
    notification = Notification.objects.get(case=case_a, channel="email")
    assert "Votre adresse est mise à jour." not in notification.text


def test_ask_for_details_makes_the_case_wait_on_the_citizen(client_as, agent_a, case_a):
    response = client_as(agent_a).post(
        url(case_a, "repondre"), {"body": "Merci de joindre votre bail.", "action": "details"}
    )
    assert response.status_code == 302
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.WAITING_CITIZEN
    assert Event.objects.filter(case=case_a, type=Event.Type.REQUEST_INFO).exists()


def test_empty_reply_rerenders_with_precise_error_and_no_event(client_as, agent_a, case_a):
    before = Event.objects.filter(case=case_a).count()
    response = client_as(agent_a).post(url(case_a, "repondre"), {"body": "  ", "action": "reply"})
    assert response.status_code == 400
    assert "Le message ne peut pas être vide." in response.content.decode()
    assert Event.objects.filter(case=case_a).count() == before


def test_disguised_executable_is_refused_and_typed_text_kept(client_as, agent_a, case_a):
    exe = SimpleUploadedFile("facture.pdf", b"MZ\x90\x00" + b"\x00" * 100)
    response = client_as(agent_a).post(
        url(case_a, "repondre"),
        {"body": "Texte que je garde", "action": "reply", "files": [exe]},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "est un programme, pas un document" in html
    assert "Texte que je garde" in html
    assert not Event.objects.filter(case=case_a, actor=agent_a).exists()


def test_reply_without_choosing_an_action_is_refused(client_as, agent_a, case_a):
    response = client_as(agent_a).post(url(case_a, "repondre"), {"body": "Bonjour"})
    assert response.status_code == 400
    assert not Event.objects.filter(case=case_a, actor=agent_a).exists()


def test_internal_note_never_reaches_the_citizen(client_as, agent_a, case_a, citizen):
    response = client_as(agent_a).post(url(case_a, "note"), {"body": "Usager déjà rappelé."})
    assert response.status_code == 302
    note = Event.objects.get(case=case_a, type=Event.Type.NOTE)
    assert note.internal
    assert note not in citizen_history(citizen)
    citizen_page = client_as(citizen).get(f"/espace/demandes/{case_a.reference}/")
    assert "Usager déjà rappelé." not in citizen_page.content.decode()


def test_close_with_resolution_code(client_as, agent_a, case_a):
    response = client_as(agent_a).post(
        url(case_a, "cloturer"), {"resolution": "redirected", "body": "Voyez votre mairie."}
    )
    assert response.status_code == 302
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.CLOSED
    assert case_a.resolution == Case.Resolution.REDIRECTED


def test_close_without_resolution_says_which_field(client_as, agent_a, case_a):
    response = client_as(agent_a).post(url(case_a, "cloturer"), {"body": ""})
    assert response.status_code == 400
    assert "Choisissez la résolution de la demande." in response.content.decode()
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.NEW


def test_resolution_codes_offered_are_the_four_of_the_issue(client_as, agent_a, case_a):
    form = client_as(agent_a).get(url(case_a)).context["close_form"]
    labels = [str(label) for _value, label in form.fields["resolution"].choices]
    assert labels == ["Répondu", "Réorienté", "Hors compétence", "Sans suite"]


def test_reopen_a_closed_case(client_as, agent_a, case_a):
    thread.close_case(case_a, agent_a, "no_follow_up")
    response = client_as(agent_a).post(url(case_a, "rouvrir"), follow=True)
    assert "Demande rouverte." in response.content.decode()
    case_a.refresh_from_db()
    assert case_a.status != Case.Status.CLOSED


def test_reopen_an_open_case_explains_why_not(client_as, agent_a, case_a):
    response = client_as(agent_a).post(url(case_a, "rouvrir"), follow=True)
    assert "Cette demande n&#x27;est pas clôturée." in response.content.decode()


def test_change_topic_and_kind_within_the_service(client_as, agent_a, case_a, topic_a2):
    response = client_as(agent_a).post(
        url(case_a, "reclasser"), {"topic": topic_a2.pk, "kind": "claim"}
    )
    assert response.status_code == 302
    case_a.refresh_from_db()
    assert case_a.topic == topic_a2 and case_a.kind == "claim"
    event = Event.objects.get(case=case_a, type=Event.Type.STATUS, internal=True)
    assert event.payload["classification"]["topic"] == {"from": "Impôts", "to": "Titres"}
    page = client_as(agent_a).get(url(case_a)).content.decode()
    assert "Reclassement (thème : Impôts → Titres, nature" in page


def test_topic_of_another_service_is_refused_with_a_hint_to_transfer(
    client_as, agent_a, case_a, topic_b
):
    response = client_as(agent_a).post(
        url(case_a, "reclasser"), {"topic": topic_b.pk, "kind": "question"}
    )
    assert response.status_code == 400
    assert "Choisissez un des thèmes du service." in response.content.decode()
    case_a.refresh_from_db()
    assert case_a.topic_id != topic_b.pk


def test_unchanged_classification_writes_nothing(client_as, agent_a, case_a):
    client_as(agent_a).post(
        url(case_a, "reclasser"), {"topic": case_a.topic_id, "kind": "question"}
    )
    assert not Event.objects.filter(case=case_a, type=Event.Type.STATUS).exists()


def test_case_view_links_to_the_synthesis_sheet(client_as, agent_a, case_a):
    html = client_as(agent_a).get(url(case_a)).content.decode()
    assert f'href="/console/usagers/{case_a.citizen_id}/"' in html


def test_reply_box_has_the_id_canned_answers_insert_into(client_as, agent_a, case_a):
    html = client_as(agent_a).get(url(case_a)).content.decode()
    assert 'id="reply-body"' in html


def test_callback_case_shows_the_call_outcome_panel(
    client_as, agent_a, citizen, topic_a, make_case
):
    from datetime import timedelta

    from django.utils import timezone

    from routing.models import CallbackRequest

    case = make_case(citizen, topic_a, channel="callback", assigned_to=agent_a)
    start = timezone.now() + timedelta(hours=1)
    CallbackRequest.objects.create(
        case=case, phone="+33612345678", slot_start=start, slot_end=start + timedelta(minutes=30)
    )
    html = client_as(agent_a).get(url(case)).content.decode()
    assert f'id="callback-outcome-{case.pk}"' in html
    other = make_case(citizen, topic_a)
    assert "callback-outcome" not in client_as(agent_a).get(url(other)).content.decode()


def test_reply_box_offers_knowledge_search_that_inserts_into_it(client_as, agent_a, case_a):
    from django.urls import reverse

    html = client_as(agent_a).get(url(case_a)).content.decode()
    assert f'hx-get="{reverse("knowledge:agent_search")}"' in html
    assert 'name="target" value="reply-body"' in html
    assert "knowledge/js/insert.js" in html
