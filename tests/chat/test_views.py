"""Chat pages: the live button, starting, the conversation page, files, agent workspace."""

from __future__ import annotations

import io

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from PIL import Image

from chat import services
from chat.models import ChatAttachment, ChatMessage, Conversation
from contactcenter.models import AuditLog, Case, Event, Satisfaction
from tests.upload_samples import DISGUISES, jpeg_with_gps, valid_png

pytestmark = pytest.mark.django_db

PNG = valid_png()


def upload(name, content):
    file = io.BytesIO(content)
    file.name = name
    return file


def render_button(user, topic=None):
    request = RequestFactory().get("/espace/")
    request.user = user
    template = Template('{% include "chat/_chat_button.html" with topic=topic %}')
    return template.render(Context({"request": request, "topic": topic}))


# --- the live button ---------------------------------------------------------------------------


def test_chat_button_shows_only_while_an_agent_is_available(
    citizen, agent_a, topic_a, make_available
):
    html = render_button(citizen, topic_a)
    on, off = html.split("data-when-unavailable")
    assert "data-when-available hidden" in on
    assert "Envoyer un message sécurisé" in off and "/espace/demandes/nouvelle/?topic=impots" in off
    assert "/rappel/nouveau/?topic=impots" in off
    from django.core.cache import cache

    cache.clear()
    make_available(agent_a)
    html = render_button(citizen, "impots")
    on, off = html.split("data-when-unavailable")
    assert "data-when-available hidden" not in on
    assert reverse("chat:start") + "?topic=impots" in on
    assert off.lstrip().startswith("hidden")
    assert 'data-ws-path="/ws/availability/"' in html


def test_chat_button_is_not_shown_to_staff_or_anonymous(agent_a, topic_a):
    from django.contrib.auth.models import AnonymousUser

    assert "data-chat-availability" not in render_button(agent_a, topic_a)
    assert "data-chat-availability" not in render_button(AnonymousUser(), topic_a)


def test_availability_json_fallback(client_as, citizen, agent_a, topic_a, make_available):
    make_available(agent_a)
    response = client_as(citizen).get(reverse("chat:availability"))
    assert response.json() == {"topics": {"impots": True}}


# --- starting a chat ---------------------------------------------------------------------------


def test_start_page_prefills_topic_and_carries_the_handoff(client_as, citizen, topic_a):
    from knowledge.models import Conversation as BotConversation
    from knowledge.models import Turn

    bot = BotConversation.objects.create(user=citizen, topic=topic_a)
    Turn.objects.create(
        conversation=bot, seq=1, question="<b>aide</b> impôts", answer="?", outcome="dont_know"
    )
    url = reverse("chat:start") + f"?topic=impots&chatbot={bot.pk}&fragile=1"
    response = client_as(citizen).get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<option value="impots" selected>' in html
    assert f'name="chatbot" value="{bot.pk}"' in html and 'name="fragile" value="True"' in html
    assert "Usager : &lt;b&gt;aide&lt;/b&gt; impôts" in html


def test_starting_a_chat_opens_a_case_and_redirects_to_it(
    client_as, citizen, agent_a, topic_a, make_available, django_capture_on_commit_callbacks
):
    make_available(agent_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(citizen).post(
            reverse("chat:start"),
            {"topic": "impots", "body": "Ma question", "client_id": "startform-0001"},
        )
    conversation = Conversation.objects.get(citizen=citizen)
    assert response.status_code == 302
    assert response["Location"] == reverse("chat:conversation", args=[conversation.pk])
    assert conversation.case.channel == "chat"
    assert ChatMessage.objects.get(conversation=conversation, seq=1).client_id == "startform-0001"


def test_starting_without_available_agent_offers_message_or_callback(client_as, citizen, topic_a):
    response = client_as(citizen).post(
        reverse("chat:start"), {"topic": "impots", "body": "Ma question restée ici"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Aucun agent n'est disponible en tchat pour ce thème" in html
    assert "fr-message--error" not in html  # not an input error: no red message on a field
    assert "Ma question restée ici" in html  # what was typed is kept
    assert (
        "/espace/demandes/nouvelle/?topic=impots" in html
        and "/rappel/nouveau/?topic=impots" in html
    )
    assert not Case.objects.filter(citizen=citizen).exists()


def test_start_form_errors_are_precise(client_as, citizen, agent_a, make_available):
    make_available(agent_a)
    response = client_as(citizen).post(reverse("chat:start"), {"topic": "inconnu", "body": ""})
    html = response.content.decode()
    assert "Choisissez un des thèmes proposés." in html
    assert 'aria-invalid="true"' in html


def test_empty_first_message_is_refused_with_the_topic_kept(
    client_as, citizen, topic_a, agent_a, make_available
):
    make_available(agent_a)
    response = client_as(citizen).post(reverse("chat:start"), {"topic": "impots", "body": "  "})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Le message ne peut pas être vide." in html
    assert '<option value="impots" selected>' in html
    assert not Case.objects.filter(citizen=citizen).exists()


def test_staff_cannot_start_a_chat(client_as, agent_a):
    assert client_as(agent_a).get(reverse("chat:start")).status_code == 403


# --- conversation page -------------------------------------------------------------------------


def test_citizen_page_renders_messages_escaped_with_live_settings(
    client_as, live_chat, citizen, agent_a
):
    services.post_message(live_chat.pk, agent_a, "<script>alert(1)</script>", "xss-00000001")
    response = client_as(citizen).get(reverse("chat:conversation", args=[live_chat.pk]))
    html = response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert f'data-ws-path="/ws/tchat/{live_chat.pk}/"' in html
    assert f'data-last-seq="{live_chat.last_seq + 1}"' in html
    assert "Alice (agent)" in html and "Vous" in html
    assert 'id="chat-strings"' in html


def test_other_citizen_gets_404(client_as, live_chat, citizen2):
    assert (
        client_as(citizen2).get(reverse("chat:conversation", args=[live_chat.pk])).status_code
        == 404
    )


def test_supervisor_gets_the_read_only_page_and_is_audited(client_as, live_chat, supervisor):
    response = client_as(supervisor).get(reverse("chat:conversation", args=[live_chat.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-role="observer"' in html and "data-chat-composer" not in html
    assert AuditLog.objects.filter(actor=supervisor, case_id=live_chat.case_id).exists()


def test_assigned_agent_is_sent_to_the_workspace(client_as, live_chat, agent_a, agent_b):
    response = client_as(agent_a).get(reverse("chat:conversation", args=[live_chat.pk]))
    assert response["Location"] == reverse("chat:agent") + f"#tchat-{live_chat.pk}"
    assert (
        client_as(agent_b).get(reverse("chat:conversation", args=[live_chat.pk])).status_code == 404
    )


def test_no_javascript_fallback_sends_a_message(client_as, live_chat, citizen):
    response = client_as(citizen).post(
        reverse("chat:send", args=[live_chat.pk]),
        {"body": "Sans JavaScript", "client_id": "nojs-0000001"},
    )
    assert response.status_code == 302
    assert ChatMessage.objects.filter(conversation=live_chat, body="Sans JavaScript").count() == 1
    response = client_as(citizen).post(
        reverse("chat:send", args=[live_chat.pk]), {"body": "x" * 4001}
    )
    assert response.status_code == 400
    assert "Le message fait 4001 caractères ; 4000 au maximum." in response.content.decode()


def test_leave_then_rate(client_as, live_chat, citizen):
    client = client_as(citizen)
    response = client.post(reverse("chat:leave", args=[live_chat.pk]))
    assert response.status_code == 302
    live_chat.refresh_from_db()
    assert live_chat.end_reason == "citizen"
    page = client.get(reverse("chat:conversation", args=[live_chat.pk])).content.decode()
    assert "Êtes-vous satisfait de cet échange" in page
    response = client.post(reverse("chat:rate", args=[live_chat.pk]), {"score": "9"})
    assert response.status_code == 400
    assert (
        "Sélectionnez un choix valide" in response.content.decode()
        or "entre 1 et 5" in response.content.decode()
    )
    client.post(reverse("chat:rate", args=[live_chat.pk]), {"score": "5", "comment": "Merci"})
    assert Satisfaction.objects.get(case_id=live_chat.case_id).score == 5


# --- files ---------------------------------------------------------------------------------------


def test_citizen_sends_a_png_and_the_agent_downloads_it_with_audit(
    client_as, live_chat, citizen, agent_a
):
    response = client_as(citizen).post(
        reverse("chat:upload", args=[live_chat.pk]),
        {"file": upload("photo.png", PNG), "client_id": "file-00000001", "body": "Mon avis"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 201
    payload = response.json()["message"]
    assert payload["body"] == "Mon avis" and payload["attachments"][0]["name"] == "photo.png"
    attachment = ChatAttachment.objects.get()
    download = client_as(agent_a).get(payload["attachments"][0]["url"])
    assert download.status_code == 200
    stored = b"".join(download.streaming_content)
    assert stored == attachment.file.read()
    assert Image.open(io.BytesIO(stored)).tobytes() == Image.open(io.BytesIO(PNG)).tobytes()
    assert "attachment" in download["Content-Disposition"]
    assert AuditLog.objects.filter(actor=agent_a, action="view_attachment").exists()
    assert "photo.png" in services.transcript_text(live_chat)
    assert attachment.message.conversation_id == live_chat.pk


def test_disguised_executable_is_refused_with_a_precise_error(client_as, live_chat, citizen):
    response = client_as(citizen).post(
        reverse("chat:upload", args=[live_chat.pk]),
        {"file": upload("facture.pdf", b"MZ\x90\x00" + b"\x00" * 100)},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    assert "programme" in response.json()["errors"]["file"][0]
    assert not ChatAttachment.objects.exists()
    assert not ChatMessage.objects.filter(
        conversation=live_chat, client_id__startswith="file"
    ).exists()


@pytest.mark.parametrize(
    "case",
    [
        "pdf_header_windows_program",
        "pdf_header_linux_program",
        "pdf_header_html_script",
        "html_between_jpeg_markers",
        "pdf_javascript_name_tree",
        "pdf_embedded_file",
        "png_decompression_bomb",
    ],
)
def test_disguised_file_is_refused_in_chat_and_nothing_is_stored(
    client_as, live_chat, citizen, settings, tmp_path, case
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    name, build, _code = DISGUISES[case]
    response = client_as(citizen).post(
        reverse("chat:upload", args=[live_chat.pk]),
        {"file": upload(name, build()), "client_id": "file-00000002", "body": "Voici"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    error = response.json()["errors"]["file"][0]
    assert f"« {name} »" in error and "refusé" in error
    assert not ChatAttachment.objects.exists()
    assert not ChatMessage.objects.filter(conversation=live_chat, body="Voici").exists()
    assert not any(path.is_file() for path in (tmp_path / "media").rglob("*"))


def test_chat_form_post_shows_the_refusal(client_as, live_chat, citizen):
    name, build, _code = DISGUISES["pdf_header_windows_program"]
    response = client_as(citizen).post(
        reverse("chat:upload", args=[live_chat.pk]), {"file": upload(name, build())}, follow=True
    )
    assert "« avis.pdf » contient un programme Windows caché" in response.content.decode()
    assert not ChatAttachment.objects.exists()


def test_chat_photo_is_stored_without_its_gps_position(client_as, live_chat, citizen):
    response = client_as(citizen).post(
        reverse("chat:upload", args=[live_chat.pk]),
        {"file": upload("photo.jpg", jpeg_with_gps())},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 201
    attachment = ChatAttachment.objects.get()
    with attachment.file.open("rb") as handle:
        content = handle.read()
    assert not Image.open(io.BytesIO(content)).getexif()
    assert b"Telephone 12" not in content
    assert attachment.size == len(content)


def _sent_photo(client, chat):
    """A PNG sent in the chat: its attachment and download address."""
    response = client.post(
        reverse("chat:upload", args=[chat.pk]),
        {"file": upload("photo.png", PNG)},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 201
    attachment = ChatAttachment.objects.get()
    return attachment, reverse("chat:attachment", args=[chat.pk, attachment.public_id])


def test_attachment_of_another_conversation_is_404(client_as, live_chat, citizen, citizen2):
    attachment, url = _sent_photo(client_as(citizen), live_chat)
    assert client_as(citizen2).get(url).status_code == 404


def test_chat_attachment_is_served_like_every_private_file(client_as, live_chat, citizen):
    """Sandboxed, never cached, and a file missing from the storage is a 404, not a 500."""
    attachment, url = _sent_photo(client_as(citizen), live_chat)
    response = client_as(citizen).get(url)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Cache-Control"] == "no-store, private"
    assert response["Content-Disposition"].startswith("attachment;")
    assert b"".join(response.streaming_content) == attachment.file.read()
    attachment.file.delete(save=False)
    assert client_as(citizen).get(url).status_code == 404


# --- agent workspace ---------------------------------------------------------------------------


def test_workspace_shows_the_agents_chats_side_by_side(
    client_as, live_chat, agent_a, citizen2, start, topic_a
):
    second = start(citizen2, body="Deuxième question")
    response = client_as(agent_a).get(reverse("chat:agent"))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="tchat-{live_chat.pk}"' in html and f'id="tchat-{second.pk}"' in html
    assert "Deuxième question" in html
    assert 'data-ws-path="/ws/tchat/agent/"' in html
    assert "routing/js/presence.js" in html and "chat/js/desk.js" in html
    assert AuditLog.objects.filter(actor=agent_a, case_id=second.case_id).exists()


def test_workspace_is_for_agents(client_as, citizen, supervisor):
    assert client_as(citizen).get(reverse("chat:agent")).status_code == 403
    assert client_as(supervisor).get(reverse("chat:agent")).status_code == 403


def test_panel_of_a_chat_not_assigned_is_404(client_as, live_chat, agent_b):
    assert client_as(agent_b).get(reverse("chat:panel", args=[live_chat.pk])).status_code == 404
    assert not AuditLog.objects.filter(actor=agent_b).exists()


def test_panel_is_audited_once_with_the_chat_reason(client_as, live_chat, agent_a, citizen):
    # The workstation's chat tab: the access is checked once and written once.
    before = AuditLog.objects.filter(actor=agent_a, case_id=live_chat.case_id).count()
    response = client_as(agent_a).get(reverse("chat:panel", args=[live_chat.pk]))
    assert response.status_code == 200
    records = AuditLog.objects.filter(actor=agent_a, case_id=live_chat.case_id)
    assert records.count() == before + 1
    record = records.latest("pk")
    assert record.reason == "Tchat" and record.citizen_id == citizen.pk
    assert record.detail == {"conversation": live_chat.pk, "role": "agent"}


def test_agent_ends_with_a_summary_through_htmx(
    client_as, live_chat, agent_a, django_capture_on_commit_callbacks
):
    client = client_as(agent_a)
    url = reverse("chat:finish", args=[live_chat.pk])
    response = client.post(url, {"summary": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Le message ne peut pas être vide." in response.content.decode()
    live_chat.refresh_from_db()
    assert live_chat.is_open
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {"summary": "Prochaine étape : envoyer le formulaire 2042."},
            HTTP_HX_REQUEST="true",
        )
    assert f'data-chat-finished="{live_chat.pk}"' in response.content.decode()
    assert Event.objects.filter(
        case_id=live_chat.case_id, type=Event.Type.MESSAGE, body__contains="2042"
    ).exists()


def test_agent_transfer_form_errors_and_success(client_as, live_chat, agent_a, service_b, topic_b):
    client = client_as(agent_a)
    url = reverse("chat:transfer", args=[live_chat.pk])
    response = client.post(url, {"reason": ""}, HTTP_HX_REQUEST="true")
    assert "Indiquez le motif du transfert" in response.content.decode()
    response = client.post(
        url, {"to_service": service_b.pk, "reason": "Assurance maladie"}, HTTP_HX_REQUEST="true"
    )
    # The topic in the new service is asked, never guessed.
    assert "Choisissez le thème de la demande dans le service" in response.content.decode()
    assert Case.objects.get(pk=live_chat.case_id).service_id != service_b.pk
    response = client.post(
        url,
        {"to_service": service_b.pk, "to_topic": topic_b.pk, "reason": "Assurance maladie"},
        HTTP_HX_REQUEST="true",
    )
    assert f'data-chat-transferred="{live_chat.pk}"' in response.content.decode()
    assert Case.objects.get(pk=live_chat.case_id).service_id == service_b.pk


def test_supervision_lists_live_chats_of_own_services(client_as, live_chat, supervisor, service_b):
    from tests.conftest import make_staff

    html = client_as(supervisor).get(reverse("chat:supervision")).content.decode()
    assert live_chat.case.reference in html
    other = make_staff("sup.b@guichet.example.fr", "supervisor", [service_b], first="Yves")
    assert (
        live_chat.case.reference
        not in client_as(other).get(reverse("chat:supervision")).content.decode()
    )
