"""Thread operations of both sides: statuses, timeline, files, notifications, atomicity."""

from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from contactcenter.models import Case, Event
from messaging import services
from messaging.models import Attachment, Notification

from .conftest import exe_as_pdf, pdf_file, png_file

pytestmark = pytest.mark.django_db


def stored_files():
    root = Path(settings.MEDIA_ROOT)
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def notified(django_capture_on_commit_callbacks):
    """Run the block's on-commit callbacks (notifications) as a real commit would."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


# --- create_request ------------------------------------------------------------------------


def test_create_request_opens_a_web_case_with_first_message_and_files(citizen, topic_a):
    case = services.create_request(
        citizen, topic_a, Case.Kind.CLAIM, "  Taxe   foncière ", "Bonjour", files=[pdf_file()]
    )
    assert case.channel == "web"
    assert case.status == Case.Status.NEW
    assert case.service == topic_a.service
    assert case.subject == "Taxe foncière"
    first = case.events.get()
    assert (first.type, first.actor, first.body) == ("message", citizen, "Bonjour")
    attachment = first.attachments.get()
    assert attachment.original_name == "justificatif.pdf"
    assert attachment.content_type == "application/pdf"
    assert Path(attachment.file.path).read_bytes().startswith(b"%PDF-")
    # Never the citizen's file name on disk.
    assert "justificatif" not in attachment.file.name


def test_create_request_routes_the_case_after_commit(
    citizen, topic_a, django_capture_on_commit_callbacks
):
    from contactcenter.signals import case_needs_routing

    received = []

    def receiver(sender, case_id, **kwargs):
        received.append(case_id)

    case_needs_routing.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            case = services.create_request(citizen, topic_a, "question", "Objet", "Texte")
        assert received == []  # nothing before commit
        for callback in callbacks:
            callback()
        assert received == [case.pk]
    finally:
        case_needs_routing.disconnect(receiver)


def test_create_request_reports_every_invalid_field(citizen, topic_a):
    with pytest.raises(ValidationError) as exc:
        services.create_request(citizen, topic_a, "nonsense", "", "", files=[exe_as_pdf()])
    errors = exc.value.message_dict
    assert set(errors) == {"kind", "subject", "body", "files"}
    assert errors["body"] == ["Le message ne peut pas être vide."]
    assert Case.objects.count() == 0


def test_body_over_10000_characters_is_refused_with_its_length(citizen, topic_a):
    with pytest.raises(ValidationError) as exc:
        services.create_request(citizen, topic_a, "question", "Objet", "a" * 10_001)
    assert exc.value.message_dict["body"] == [
        "Le message fait 10001 caractères ; 10000 au maximum."
    ]
    services.create_request(citizen, topic_a, "question", "Objet", "a" * 10_000)


def test_staff_cannot_create_a_request(agent_a, topic_a):
    with pytest.raises(ValidationError):
        services.create_request(agent_a, topic_a, "question", "Objet", "Texte")


def test_chatbot_handoff_puts_the_conversation_on_the_timeline(
    citizen, topic_a, chatbot_conversation
):
    case = services.create_request(
        citizen,
        topic_a,
        "question",
        "Carte perdue",
        "Je confirme",
        chatbot_conversation=chatbot_conversation.pk,
    )
    chatbot = case.events.get(type=Event.Type.CHATBOT)
    assert "Ma carte vitale est perdue" in chatbot.body
    assert chatbot.payload["conversation"] == chatbot_conversation.pk
    case.refresh_from_db()
    assert case.fragile is True  # the assistant detected distress
    chatbot_conversation.refresh_from_db()
    assert chatbot_conversation.handed_off_at is not None


def test_someone_elses_conversation_is_not_attached(citizen2, topic_a, chatbot_conversation):
    case = services.create_request(
        citizen2,
        topic_a,
        "question",
        "Objet",
        "Texte",
        chatbot_conversation=chatbot_conversation.pk,
    )
    assert not case.events.filter(type=Event.Type.CHATBOT).exists()
    assert case.fragile is False


def test_a_failing_handoff_never_blocks_the_request(citizen, topic_a):
    with mock.patch(
        "knowledge.services.attach_conversation_to_case", side_effect=RuntimeError("kb down")
    ):
        case = services.create_request(
            citizen, topic_a, "question", "Objet", "Texte", chatbot_conversation=99
        )
    assert case.events.filter(type=Event.Type.MESSAGE).count() == 1


def test_failed_request_leaves_no_case_and_no_file(citizen, topic_a):
    before = stored_files()
    with (
        mock.patch.object(Attachment, "save", side_effect=RuntimeError("disk full")),
        pytest.raises(RuntimeError),
    ):
        services.create_request(citizen, topic_a, "question", "Objet", "Texte", files=[pdf_file()])
    assert Case.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert stored_files() == before


def test_failed_message_deletes_the_files_it_wrote(case_a, citizen):
    before = stored_files()
    with mock.patch("messaging.services.change_status", side_effect=RuntimeError("boom")):
        case_a.status = Case.Status.WAITING_CITIZEN
        Case.objects.filter(pk=case_a.pk).update(status=Case.Status.WAITING_CITIZEN)
        with pytest.raises(RuntimeError):
            services.post_citizen_message(case_a, citizen, "Voici", files=[pdf_file(), png_file()])
    assert Attachment.objects.count() == 0
    assert stored_files() == before
    assert not case_a.events.filter(body="Voici").exists()


# --- citizen messages ------------------------------------------------------------------------


def test_citizen_reply_on_waiting_case_goes_back_to_in_progress(case_a, citizen, agent_a):
    services.request_details(case_a, agent_a, "Quel est votre numéro fiscal ?")
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.WAITING_CITIZEN
    services.post_citizen_message(case_a, citizen, "Le voici : 1234")
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.IN_PROGRESS


def test_citizen_reply_on_answered_case_goes_back_to_in_progress(case_a, citizen, agent_a):
    services.post_agent_reply(case_a, agent_a, "Réponse")
    services.post_citizen_message(case_a, citizen, "Une autre question")
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.IN_PROGRESS


def test_citizen_message_on_new_case_keeps_it_new(case_a, citizen):
    services.post_citizen_message(case_a, citizen, "Précision")
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.NEW
    assert case_a.events.filter(type="message").count() == 2


def test_citizen_cannot_write_in_a_closed_case(case_a, citizen, agent_a):
    services.close_case(case_a, agent_a, "answered")
    with pytest.raises(ValidationError) as exc:
        services.post_citizen_message(case_a, citizen, "Encore moi")
    assert "clôturée" in exc.value.messages[0]


def test_citizen_cannot_write_in_someone_elses_case(case_a, citizen2):
    with pytest.raises(ValidationError):
        services.post_citizen_message(case_a, citizen2, "Intrus")
    assert not case_a.events.filter(body="Intrus").exists()


def test_message_keeps_html_as_typed_for_escaping_at_display(case_a, citizen):
    event = services.post_citizen_message(case_a, citizen, "<script>alert(1)</script>")
    assert event.body == "<script>alert(1)</script>"


# --- agent side --------------------------------------------------------------------------------


def test_agent_reply_answers_marks_first_response_and_notifies(case_a, agent_a, notified):
    event = notified(
        services.post_agent_reply, case_a, agent_a, "Voici la réponse", files=[pdf_file()]
    )
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.ANSWERED
    assert case_a.first_response_at == event.created_at
    assert event.attachments.count() == 1
    notification = Notification.objects.get()
    assert (notification.kind, notification.case) == ("reply", case_a)


def test_first_response_time_is_not_moved_by_later_replies(case_a, agent_a):
    first = services.post_agent_reply(case_a, agent_a, "Un")
    services.post_agent_reply(case_a, agent_a, "Deux")
    case_a.refresh_from_db()
    assert case_a.first_response_at == first.created_at


def test_request_details_waits_on_citizen_and_notifies(case_a, agent_a, notified):
    event = notified(services.request_details, case_a, agent_a, "Joignez votre avis")
    case_a.refresh_from_db()
    assert event.type == "request_info"
    assert case_a.status == Case.Status.WAITING_CITIZEN
    assert Notification.objects.get().kind == "request_info"


def test_internal_note_is_internal_keeps_status_and_notifies_nobody(case_a, agent_a, notified):
    before = case_a.last_activity_at
    event = notified(services.add_internal_note, case_a, agent_a, "Dossier sensible")
    case_a.refresh_from_db()
    assert event.internal is True and event.type == "note"
    assert case_a.status == Case.Status.NEW
    assert case_a.first_response_at is None
    assert case_a.last_activity_at == before
    assert Notification.objects.count() == 0
    assert event not in services.thread_events(case_a, include_internal=False)
    assert event in services.thread_events(case_a, include_internal=True)


def test_agent_of_another_service_cannot_reply(case_a, agent_b):
    with pytest.raises(ValidationError):
        services.post_agent_reply(case_a, agent_b, "Pas mon service")
    assert not case_a.events.filter(body="Pas mon service").exists()


def test_citizen_cannot_use_agent_operations(case_a, citizen):
    with pytest.raises(ValidationError):
        services.post_agent_reply(case_a, citizen, "Je me réponds")
    with pytest.raises(ValidationError):
        services.add_internal_note(case_a, citizen, "Note")


def test_supervisor_of_the_service_may_reply(case_a, supervisor):
    services.post_agent_reply(case_a, supervisor, "Réponse du superviseur")
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.ANSWERED


def test_agent_cannot_reply_on_closed_case_but_can_note(case_a, agent_a):
    services.close_case(case_a, agent_a, "answered")
    with pytest.raises(ValidationError):
        services.post_agent_reply(case_a, agent_a, "Trop tard")
    services.add_internal_note(case_a, agent_a, "Pour mémoire")


# --- close / reopen ----------------------------------------------------------------------------


def test_agent_close_needs_a_resolution(case_a, agent_a):
    with pytest.raises(ValidationError) as exc:
        services.close_case(case_a, agent_a, "")
    assert "resolution" in exc.value.message_dict


def test_agent_close_with_message_notifies_and_records_resolution(case_a, agent_a, notified):
    notified(services.close_case, case_a, agent_a, "redirected", "Adressez-vous à la mairie")
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.CLOSED
    assert case_a.resolution == "redirected"
    assert case_a.closed_at is not None
    assert case_a.events.filter(type="message", body="Adressez-vous à la mairie").exists()
    assert Notification.objects.get().kind == "closed"


def test_citizen_close_does_not_notify_the_citizen(case_a, citizen, agent_a, notified):
    services.post_agent_reply(case_a, agent_a, "Réponse")
    Notification.objects.all().delete()
    notified(services.citizen_close, case_a, citizen)
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.CLOSED
    assert case_a.resolution == "answered"
    assert Notification.objects.count() == 0


def test_closing_twice_is_refused(case_a, citizen):
    services.citizen_close(case_a, citizen)
    with pytest.raises(ValidationError):
        services.citizen_close(case_a, citizen)


def test_reopen_goes_back_to_the_owner_in_progress(case_a, agent_a, citizen):
    Case.objects.filter(pk=case_a.pk).update(assigned_to=agent_a)
    case_a.assigned_to = agent_a
    services.close_case(case_a, agent_a, "answered")
    services.reopen_case(case_a, citizen)
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.IN_PROGRESS
    assert case_a.closed_at is None and case_a.resolution == ""


def test_reopen_without_owner_goes_back_to_the_queue(case_a, agent_a):
    services.close_case(case_a, agent_a, "answered")
    services.reopen_case(case_a, agent_a)
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.NEW


def test_reopen_of_an_open_case_is_refused(case_a, citizen):
    with pytest.raises(ValidationError):
        services.reopen_case(case_a, citizen)


def test_other_citizen_cannot_close_or_reopen(case_a, citizen2):
    with pytest.raises(ValidationError):
        services.citizen_close(case_a, citizen2)
    with pytest.raises(ValidationError):
        services.reopen_case(case_a, citizen2)


# --- draft attachments (API uploads) ---------------------------------------------------------


def make_draft(case, user):
    attachment = Attachment(
        case=case,
        uploaded_by=user,
        original_name="a.png",
        content_type="image/png",
        size=10,
        sha256="0" * 64,
    )
    attachment.file.save("png", png_file(), save=False)
    attachment.save()
    return attachment


def test_drafts_are_linked_to_the_message(case_a, citizen):
    draft = make_draft(case_a, citizen)
    event = services.post_citizen_message(case_a, citizen, "Avec brouillon", attachments=[draft])
    draft.refresh_from_db()
    assert draft.event == event
    assert event.payload["attachments"] == 1


def test_someone_elses_draft_cannot_be_attached(case_a, citizen, agent_a):
    draft = make_draft(case_a, agent_a)
    with pytest.raises(ValidationError):
        services.post_citizen_message(case_a, citizen, "Vol", attachments=[draft])


def test_thread_events_orders_by_time(case_a, citizen, agent_a):
    services.post_agent_reply(case_a, agent_a, "Deux")
    services.post_citizen_message(case_a, citizen, "Trois")
    bodies = [
        e.body
        for e in services.thread_events(case_a, include_internal=False)
        if e.type == Event.Type.MESSAGE
    ]
    assert bodies == ["Bonjour, j'ai déménagé. Comment prévenir les impôts ?", "Deux", "Trois"]
