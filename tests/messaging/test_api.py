"""REST API: create, read, write, upload, download; 400 with field errors, never a 500."""

import pytest
from django.urls import reverse

from contactcenter.models import AuditLog, Case, Event
from messaging import services
from messaging.models import Attachment

from .conftest import exe_as_pdf, pdf_file, png_file

pytestmark = pytest.mark.django_db


def test_citizen_creates_a_case_with_files_in_multipart(client_as, citizen, topic_a):
    response = client_as(citizen).post(
        "/api/cases/",
        {
            "topic": "impots",
            "kind": "claim",
            "subject": "Taxe",
            "body": "Bonjour",
            "files": [pdf_file(), png_file()],
        },
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    case = Case.objects.get(reference=data["reference"])
    assert data["status"] == "new" and data["topic"] == "impots"
    assert case.events.get().attachments.count() == 2


def test_create_returns_field_errors(client_as, citizen, topic_a):
    response = client_as(citizen).post(
        "/api/cases/",
        {"topic": "inconnu", "kind": "autre", "subject": "", "body": ""},
        content_type="application/json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) >= {"topic", "kind"}
    assert errors["topic"] == ["Thème inconnu : choisissez un des thèmes proposés."]


def test_create_service_level_errors_are_400_with_fields(client_as, citizen, topic_a):
    response = client_as(citizen).post(
        "/api/cases/",
        {"topic": "impots", "kind": "question", "subject": "", "body": "x" * 10_001},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "subject": ["Indiquez l'objet de votre demande."],
        "body": ["Le message fait 10001 caractères ; 10000 au maximum."],
    }


def test_create_refuses_a_disguised_executable(client_as, citizen, topic_a):
    response = client_as(citizen).post(
        "/api/cases/",
        {
            "topic": "impots",
            "kind": "question",
            "subject": "S",
            "body": "B",
            "files": [exe_as_pdf()],
        },
    )
    assert response.status_code == 400
    assert "est un programme" in response.json()["errors"]["files"][0]
    assert not Case.objects.exists()


def test_malformed_json_is_a_400(client_as, citizen):
    response = client_as(citizen).post("/api/cases/", "{not json", content_type="application/json")
    assert response.status_code == 400


def test_unknown_status_filter_is_a_400(client_as, citizen, case_a):
    response = client_as(citizen).get("/api/cases/?status=perdu")
    assert response.status_code == 400
    assert response.json()["errors"] == {"status": ["Statut inconnu."]}


def test_status_filter(client_as, agent_a, case_a, citizen, topic_a):
    other = services.create_request(citizen, topic_a, "question", "S", "B")
    services.post_agent_reply(other, agent_a, "R")
    rows = client_as(agent_a).get("/api/cases/?status=answered").json()["results"]
    assert [r["reference"] for r in rows] == [other.reference]


def test_agent_reply_request_info_and_note(client_as, agent_a, case_a):
    client = client_as(agent_a)
    url = f"/api/cases/{case_a.reference}/messages/"
    assert (
        client.post(url, {"body": "Note", "type": "note"}, content_type="application/json").json()[
            "internal"
        ]
        is True
    )
    case_a.refresh_from_db()
    assert case_a.status == "new"
    client.post(url, {"body": "Précisez", "type": "request_info"}, content_type="application/json")
    case_a.refresh_from_db()
    assert case_a.status == "waiting_citizen"
    reply = client.post(url, {"body": "Voici", "files": [pdf_file()]})
    assert reply.status_code == 201
    assert reply.json()["attachments"][0]["name"] == "justificatif.pdf"
    case_a.refresh_from_db()
    assert case_a.status == "answered"


def test_citizen_cannot_post_a_note(client_as, citizen, case_a):
    response = client_as(citizen).post(
        f"/api/cases/{case_a.reference}/messages/",
        {"body": "x", "type": "note"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"type": ["Un usager envoie uniquement des messages."]}
    assert not case_a.events.filter(type="note").exists()


def test_citizen_thread_hides_notes_and_names_the_service(client_as, citizen, agent_a, case_a):
    services.add_internal_note(case_a, agent_a, "SECRET")
    services.post_agent_reply(case_a, agent_a, "Réponse")
    rows = client_as(citizen).get(f"/api/cases/{case_a.reference}/messages/").json()
    assert [r["body"] for r in rows][-1] == "Réponse"
    assert all(r["body"] != "SECRET" for r in rows)
    assert rows[-1]["author"] == case_a.service.name
    assert rows[0]["author"] == "Vous"


def test_agent_thread_includes_notes_and_audits_the_read(client_as, agent_a, case_a):
    services.add_internal_note(case_a, agent_a, "SECRET")
    rows = client_as(agent_a).get(f"/api/cases/{case_a.reference}/messages/").json()
    assert any(r["body"] == "SECRET" and r["internal"] for r in rows)
    assert AuditLog.objects.filter(actor=agent_a, case=case_a, action="view_case").exists()


def test_agent_case_detail_is_audited_citizen_is_not(client_as, agent_a, citizen, case_a):
    client_as(citizen).get(f"/api/cases/{case_a.reference}/")
    assert not AuditLog.objects.exists()
    data = client_as(agent_a).get(f"/api/cases/{case_a.reference}/").json()
    assert data["citizen"] == citizen.display_name
    assert AuditLog.objects.get().actor == agent_a


def test_upload_then_attach_a_draft(client_as, citizen, case_a):
    client = client_as(citizen)
    upload = client.post(f"/api/cases/{case_a.reference}/attachments/", {"file": png_file()})
    assert upload.status_code == 201
    draft_id = upload.json()["id"]
    assert upload.json()["message"] is None
    message = client.post(
        f"/api/cases/{case_a.reference}/messages/",
        {"body": "Avec PJ", "attachments": [draft_id]},
        content_type="application/json",
    )
    assert message.status_code == 201
    assert message.json()["attachments"][0]["id"] == draft_id
    # A draft is sent once only.
    again = client.post(
        f"/api/cases/{case_a.reference}/messages/",
        {"body": "Encore", "attachments": [draft_id]},
        content_type="application/json",
    )
    assert again.status_code == 409
    assert "attachments" in again.json()["errors"]


def test_upload_validation_errors_are_400(client_as, citizen, case_a):
    response = client_as(citizen).post(
        f"/api/cases/{case_a.reference}/attachments/", {"file": exe_as_pdf()}
    )
    assert response.status_code == 400
    assert "est un programme" in response.json()["errors"]["file"][0]
    missing = client_as(citizen).post(f"/api/cases/{case_a.reference}/attachments/", {})
    assert missing.status_code == 400 and "file" in missing.json()["errors"]
    assert not Attachment.objects.exists()


def test_download_streams_the_file_and_audits_staff(client_as, citizen, agent_a, case_a):
    event = services.post_citizen_message(case_a, citizen, "PJ", files=[pdf_file()])
    attachment = event.attachments.get()
    meta = client_as(citizen).get(f"/api/attachments/{attachment.public_id}/").json()
    response = client_as(agent_a).get(meta["download_url"])
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert AuditLog.objects.get().action == "view_attachment"


def test_close_reopen_and_rate(client_as, citizen, agent_a, case_a):
    agent = client_as(agent_a)
    missing = agent.post(
        f"/api/cases/{case_a.reference}/close/", {}, content_type="application/json"
    )
    assert missing.status_code == 400 and "resolution" in missing.json()["errors"]
    closed = agent.post(
        f"/api/cases/{case_a.reference}/close/",
        {"resolution": "answered", "body": "Réglé"},
        content_type="application/json",
    )
    assert closed.json()["status"] == "closed"
    me = client_as(citizen)
    rated = me.post(
        f"/api/cases/{case_a.reference}/rating/",
        {"score": 5, "comment": "Bien"},
        content_type="application/json",
    )
    assert rated.status_code == 201
    twice = me.post(
        f"/api/cases/{case_a.reference}/rating/", {"score": 1}, content_type="application/json"
    )
    assert twice.status_code == 409
    bad = me.post(
        f"/api/cases/{case_a.reference}/rating/", {"score": 9}, content_type="application/json"
    )
    assert bad.status_code == 400 and "score" in bad.json()["errors"]
    reopened = me.post(f"/api/cases/{case_a.reference}/reopen/")
    assert reopened.json()["status"] == "new"


def test_invalid_attachment_id_is_not_a_500(client_as, citizen):
    assert client_as(citizen).get("/api/attachments/not-a-uuid/").status_code == 404


def test_schema_documents_the_messaging_endpoints(client_as, citizen):
    response = client_as(citizen).get(reverse("api-schema"))
    assert response.status_code == 200
    schema = response.content.decode()
    for path in (
        "/api/cases/",
        "/api/cases/{reference}/messages/",
        "/api/cases/{reference}/attachments/",
        "/api/attachments/{public_id}/download/",
    ):
        assert path in schema


def test_message_types_in_api_match_the_timeline(client_as, agent_a, case_a):
    client_as(agent_a).post(
        f"/api/cases/{case_a.reference}/messages/",
        {"body": "Précisez", "type": "request_info"},
        content_type="application/json",
    )
    assert case_a.events.filter(type=Event.Type.REQUEST_INFO).count() == 1


def test_agent_list_includes_a_case_transferred_to_them_by_name(
    client_as, agent_b, agent_a, case_a, service_a, service_b
):
    from contactcenter.models import Transfer

    assert client_as(agent_b).get("/api/cases/").json()["results"] == []
    Transfer.objects.create(
        case=case_a,
        from_service=service_a,
        to_service=service_b,
        to_agent=agent_b,
        reason="Compétence sociale",
        created_by=agent_a,
    )
    rows = client_as(agent_b).get("/api/cases/").json()["results"]
    assert [r["reference"] for r in rows] == [case_a.reference]


def test_drafts_never_sent_are_purged_after_a_day(client_as, citizen, case_a):
    from datetime import timedelta
    from pathlib import Path

    from django.utils import timezone

    from messaging.tasks import flush_outbox

    upload = client_as(citizen).post(
        f"/api/cases/{case_a.reference}/attachments/", {"file": png_file()}
    )
    draft = Attachment.objects.get(public_id=upload.json()["id"])
    path = Path(draft.file.path)
    flush_outbox()
    assert Attachment.objects.filter(pk=draft.pk).exists()  # still fresh
    Attachment.objects.filter(pk=draft.pk).update(created_at=timezone.now() - timedelta(days=2))
    flush_outbox()
    assert not Attachment.objects.filter(pk=draft.pk).exists()
    assert not path.exists()
