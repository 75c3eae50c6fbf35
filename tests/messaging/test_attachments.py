"""Upload validation: size, count and type checked by content, with precise French messages."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from messaging.attachments import check_upload, check_uploads
from messaging.demo import simple_pdf

from .conftest import EXE_BYTES, JPEG_BYTES, PNG_BYTES, big_pdf, exe_as_pdf

# Same on every database: CI runs it in the SQLite phase only (docs/testing.md).
pytestmark = pytest.mark.backend_independent

MAX = 10 * 1024 * 1024


def upload(name, content):
    return SimpleUploadedFile(name, content)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("avis.pdf", simple_pdf(["Avis"]), "application/pdf"),
        ("photo.png", PNG_BYTES, "image/png"),
        ("scan.jpg", JPEG_BYTES, "image/jpeg"),
        ("scan.JPEG", JPEG_BYTES, "image/jpeg"),
    ],
)
def test_pdf_jpeg_png_are_accepted_by_content(name, content, expected):
    checked = check_upload(upload(name, content))
    assert checked.content_type == expected
    assert checked.size == len(checked.content)
    if expected == "application/pdf":
        assert checked.content == content
    assert len(checked.sha256) == 64


def test_exactly_ten_megabytes_is_accepted():
    assert check_upload(big_pdf(MAX)).size == MAX


def test_oversized_file_is_refused_with_its_size():
    with pytest.raises(ValidationError) as exc:
        check_upload(big_pdf(MAX + 1, name="releve.pdf"))
    message = exc.value.messages[0]
    assert "releve.pdf" in message
    assert message == "Le fichier « releve.pdf » pèse plus de 10 Mo ; 10 Mo au maximum par fichier."
    assert exc.value.code == "file_too_large"


def test_oversized_file_message_gives_its_size():
    with pytest.raises(ValidationError) as exc:
        check_upload(big_pdf(MAX + 3 * 1024 * 1024 // 2, name="scan.pdf"))
    assert "pèse 11,5 Mo ; 10 Mo au maximum" in exc.value.messages[0]


def test_executable_renamed_pdf_is_refused_as_a_program():
    with pytest.raises(ValidationError) as exc:
        check_upload(exe_as_pdf("facture.pdf"))
    assert exc.value.code == "executable"
    assert "« facture.pdf » est un programme" in exc.value.messages[0]


def test_executable_with_a_pdf_header_glued_in_front_is_refused():
    # Starts like a PDF, but has no PDF structure (no %%EOF trailer): refused.
    content = b"%PDF-1.4\n" + EXE_BYTES
    with pytest.raises(ValidationError) as exc:
        check_upload(upload("piece.pdf", content))
    assert exc.value.code == "invalid_content"
    assert "n'est pas un fichier PDF valide" in exc.value.messages[0]


def test_png_named_pdf_is_accepted_and_renamed_to_its_real_type():
    checked = check_upload(upload("document.pdf", PNG_BYTES))
    assert checked.content_type == "image/png"
    assert checked.name == "document.png"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.txt", b"Bonjour, voici mes notes"),
        ("image.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
        ("page.html", b"<html><script>alert(1)</script></html>"),
        ("archive.zip", b"PK\x03\x04" + b"\x00" * 40),
    ],
)
def test_other_types_are_refused_with_the_list_of_accepted_ones(name, content):
    with pytest.raises(ValidationError) as exc:
        check_upload(upload(name, content))
    assert exc.value.code == "invalid_type"
    assert "seuls les fichiers PDF, JPEG et PNG" in exc.value.messages[0]
    assert name in exc.value.messages[0]


def test_empty_file_is_refused():
    with pytest.raises(ValidationError) as exc:
        check_upload(upload("vide.pdf", b""))
    assert "est vide" in exc.value.messages[0]


def test_truncated_jpeg_is_refused():
    with pytest.raises(ValidationError):
        check_upload(upload("coupe.jpg", JPEG_BYTES[:-2]))


def test_path_and_control_characters_are_stripped_from_the_name():
    checked = check_upload(upload("../../etc/pass\x00wd<>.pdf", simple_pdf(["x"])))
    assert "/" not in checked.name and "<" not in checked.name and "\x00" not in checked.name


def test_five_files_are_accepted_six_are_refused():
    five = [upload(f"p{i}.png", PNG_BYTES) for i in range(5)]
    assert len(check_uploads(five)) == 5
    with pytest.raises(ValidationError) as exc:
        check_uploads([*five, upload("p6.png", PNG_BYTES)])
    assert exc.value.messages == ["Vous avez joint 6 fichiers ; 5 au maximum par message."]


def test_drafts_already_attached_count_towards_the_limit():
    with pytest.raises(ValidationError):
        check_uploads([upload("p.png", PNG_BYTES)] * 2, already=4)


def test_every_bad_file_is_reported_not_only_the_first():
    with pytest.raises(ValidationError) as exc:
        check_uploads([exe_as_pdf("a.pdf"), upload("b.txt", b"texte"), upload("c.png", PNG_BYTES)])
    assert len(exc.value.messages) == 2
