"""Disguised uploads through every messaging path (citizen form, agent console, API): refused
with the file's name and the reason, nothing stored, not even the other files of the message;
accepted images are stored re-encoded, without metadata."""

import io
from pathlib import Path

import pytest
from django.urls import reverse
from PIL import Image

from contactcenter.models import Case, Event
from messaging.models import Attachment
from tests import upload_samples as samples
from tests.upload_samples import DISGUISES, upload

pytestmark = pytest.mark.django_db

ISSUE_CASES = [
    "pdf_header_windows_program",
    "pdf_header_linux_program",
    "pdf_header_html_script",
    "html_between_jpeg_markers",
]
MORE_CASES = [
    "pdf_javascript_name_tree",
    "pdf_launch_action",
    "pdf_embedded_file",
    "valid_pdf_carrying_a_program",
    "png_decompression_bomb",
]


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def disguise(case):
    name, build, _code = DISGUISES[case]
    return name, upload(name, build())


def new_request(files):
    return {"topic": "impots", "kind": "question", "subject": "Objet", "body": "Texte", **files}


@pytest.mark.parametrize("case", ISSUE_CASES + MORE_CASES)
def test_citizen_form_refuses_a_disguise_with_a_valid_file_and_stores_nothing(
    client_as, citizen, topic_a, media_root, case
):
    name, bad = disguise(case)
    response = client_as(citizen).post(
        reverse("messaging:new_request"),
        new_request({"files": [upload("bon.pdf", samples.valid_pdf()), bad]}),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert f"« {name} »" in page and "refusé" in page
    assert not Case.objects.exists()
    assert not Attachment.objects.exists()
    assert stored_files(media_root) == []


@pytest.mark.parametrize("case", ISSUE_CASES)
def test_citizen_reply_form_refuses_a_disguise(client_as, citizen, case_a, media_root, case):
    name, bad = disguise(case)
    response = client_as(citizen).post(
        reverse("messaging:case_reply", args=[case_a.reference]), {"body": "Voici", "files": [bad]}
    )
    assert response.status_code == 400
    assert f"« {name} »" in response.content.decode()
    assert not Event.objects.filter(case=case_a, body="Voici").exists()
    assert not Attachment.objects.exists()
    assert stored_files(media_root) == []


@pytest.mark.parametrize("case", ISSUE_CASES)
def test_agent_console_reply_refuses_a_disguise(client_as, agent_a, case_a, media_root, case):
    name, bad = disguise(case)
    response = client_as(agent_a).post(
        reverse("console:reply", args=[case_a.reference]),
        {
            "body": "Réponse",
            "action": "reply",
            "files": [upload("bon.png", samples.valid_png()), bad],
        },
    )
    assert response.status_code == 400
    assert f"« {name} »" in response.content.decode()
    assert not Event.objects.filter(case=case_a, body="Réponse").exists()
    assert not Attachment.objects.exists()
    assert stored_files(media_root) == []


@pytest.mark.parametrize("case", ISSUE_CASES + MORE_CASES)
def test_api_create_refuses_a_disguise_with_a_valid_file_and_stores_nothing(
    client_as, citizen, topic_a, media_root, case
):
    name, bad = disguise(case)
    response = client_as(citizen).post(
        "/api/cases/", new_request({"files": [upload("bon.jpg", samples.valid_jpeg()), bad]})
    )
    assert response.status_code == 400
    errors = response.json()["errors"]["files"]
    assert len(errors) == 1 and f"« {name} »" in errors[0]
    assert not Case.objects.exists()
    assert not Attachment.objects.exists()
    assert stored_files(media_root) == []


@pytest.mark.parametrize("case", ISSUE_CASES + MORE_CASES)
def test_api_draft_upload_refuses_a_disguise(client_as, citizen, case_a, media_root, case):
    name, bad = disguise(case)
    response = client_as(citizen).post(f"/api/cases/{case_a.reference}/attachments/", {"file": bad})
    assert response.status_code == 400
    assert f"« {name} »" in response.json()["errors"]["file"][0]
    assert not Attachment.objects.exists()
    assert stored_files(media_root) == []


@pytest.mark.parametrize("case", ISSUE_CASES)
def test_api_message_refuses_a_disguise(client_as, citizen, case_a, media_root, case):
    name, bad = disguise(case)
    response = client_as(citizen).post(
        f"/api/cases/{case_a.reference}/messages/", {"body": "Voici", "files": [bad]}
    )
    assert response.status_code == 400
    assert f"« {name} »" in response.json()["errors"]["files"][0]
    assert not Event.objects.filter(case=case_a, body="Voici").exists()
    assert stored_files(media_root) == []


def _stored_image(attachment: Attachment) -> bytes:
    with attachment.file.open("rb") as handle:
        return handle.read()


def test_form_stores_the_photo_without_its_gps_position(client_as, citizen, topic_a, media_root):
    response = client_as(citizen).post(
        reverse("messaging:new_request"),
        new_request({"files": [upload("photo.jpg", samples.jpeg_with_gps())]}),
    )
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    content = _stored_image(attachment)
    assert not Image.open(io.BytesIO(content)).getexif()
    assert b"Telephone 12" not in content
    assert attachment.size == len(content)
    assert [path.read_bytes() for path in stored_files(media_root)] == [content]


def test_api_draft_stores_the_png_without_what_was_appended(client_as, citizen, case_a, media_root):
    response = client_as(citizen).post(
        f"/api/cases/{case_a.reference}/attachments/",
        {"file": upload("scan.png", samples.png_with_text_and_trailing_data())},
    )
    assert response.status_code == 201
    content = _stored_image(Attachment.objects.get())
    assert b"<script" not in content and b"Lilas" not in content
    assert Image.open(io.BytesIO(content)).size == (32, 24)
