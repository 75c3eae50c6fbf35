"""Upload checks by parsing (contactcenter.attachments): disguises refused, images re-encoded."""

import hashlib
import io

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from contactcenter import attachments
from contactcenter.attachments import check_upload, check_uploads, hidden_executable
from tests import upload_samples as samples
from tests.upload_samples import DISGUISES, upload

# Same on every database: CI runs it in the SQLite phase only (docs/testing.md).
pytestmark = pytest.mark.backend_independent


@pytest.mark.parametrize("case", sorted(DISGUISES))
def test_disguised_file_is_refused_with_its_name_and_reason(case):
    name, build, code = DISGUISES[case]
    with pytest.raises(ValidationError) as exc:
        check_upload(upload(name, build()))
    assert exc.value.code == code
    assert f"« {name} »" in exc.value.messages[0]
    assert "refusé" in exc.value.messages[0]


def test_pdf_written_by_a_real_library_is_accepted_unchanged():
    content = samples.valid_pdf()
    checked = check_upload(upload("acte.pdf", content))
    assert checked.content_type == "application/pdf"
    assert checked.content == content


def test_pdf_with_an_owner_password_only_opens_and_is_accepted():
    content = samples.pdf_with_owner_password_only()
    assert check_upload(upload("acte.pdf", content)).content == content


def test_javascript_refusal_says_how_to_send_the_document_anyway():
    with pytest.raises(ValidationError) as exc:
        check_upload(upload("cerfa.pdf", samples.pdf_with_javascript()))
    assert "JavaScript" in exc.value.messages[0]
    assert "Enregistrer au format PDF" in exc.value.messages[0]


def test_photo_is_reencoded_without_its_gps_position_and_kept_upright():
    original = samples.jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
    checked = check_upload(upload("photo.jpg", original))
    stored = Image.open(io.BytesIO(checked.content))
    assert stored.format == "JPEG"
    assert not stored.getexif()
    assert b"Telephone 12" not in checked.content and b"Exif" not in checked.content
    # The EXIF orientation is applied before it is dropped: 40 x 20 shown as 20 x 40.
    assert stored.size == (20, 40)


def test_png_loses_its_text_chunks_and_what_was_appended():
    checked = check_upload(upload("scan.png", samples.png_with_text_and_trailing_data()))
    assert checked.content_type == "image/png"
    assert b"<script" not in checked.content and b"Lilas" not in checked.content
    assert checked.content.endswith(b"IEND\xaeB`\x82")
    assert Image.open(io.BytesIO(checked.content)).size == (32, 24)


def test_jpeg_with_html_appended_is_stored_without_it():
    checked = check_upload(upload("photo.jpg", samples.valid_jpeg() + samples.HTML_WITH_SCRIPT))
    assert b"<script" not in checked.content
    assert checked.content.endswith(b"\xff\xd9")


def test_size_and_digest_describe_the_stored_bytes():
    checked = check_upload(upload("scan.png", samples.png_with_text_and_trailing_data()))

    assert checked.size == len(checked.content)
    assert checked.sha256 == hashlib.sha256(checked.content).hexdigest()


def test_truncated_jpeg_is_refused():
    with pytest.raises(ValidationError) as exc:
        check_upload(upload("photo.jpg", samples.truncated_jpeg()))
    assert exc.value.code == "invalid_content"
    assert "n'est pas un fichier JPEG valide" in exc.value.messages[0]


def test_pixel_budget_is_a_setting(settings):
    settings.GUICHET_ATTACHMENT_MAX_PIXELS = 100
    with pytest.raises(ValidationError) as exc:
        check_upload(upload("photo.png", samples.valid_png((20, 20))))
    assert exc.value.code == "image_too_large"
    assert check_upload(upload("photo.png", samples.valid_png((10, 10))))


def test_two_bytes_mz_by_chance_are_not_a_program():
    data = b"\x00MZ" + bytes(range(256)) * 4 + b"PE\x00\x00"
    assert hidden_executable(data) is None
    assert hidden_executable(b"xx" + samples.windows_executable()) == "Windows"
    assert hidden_executable(b"xx" + samples.linux_executable()) == "Linux"
    assert hidden_executable(b"\x7fELF\x07\x09") is None


def test_one_disguised_file_refuses_the_whole_submission():
    with pytest.raises(ValidationError) as exc:
        check_uploads(
            [
                upload("bon.pdf", samples.valid_pdf()),
                upload("photo.jpg", samples.jpeg_markers_around_html()),
            ]
        )
    assert len(exc.value.messages) == 1
    assert "« photo.jpg »" in exc.value.messages[0]


def test_pdf_with_too_many_objects_is_refused_before_a_long_inspection(monkeypatch):
    monkeypatch.setattr(attachments, "MAX_PDF_OBJECTS", 4)
    content = samples.raw_pdf([*samples.PAGE_OBJECTS, b"(a)", b"(b)"])
    with pytest.raises(ValidationError) as exc:
        check_upload(upload("livre.pdf", content))
    assert exc.value.code == "pdf_too_complex"
    assert "« livre.pdf »" in exc.value.messages[0]
    assert check_upload(upload("court.pdf", samples.raw_pdf(samples.PAGE_OBJECTS)))


def test_reencoded_photo_keeps_its_quality_and_about_its_size():
    noisy = Image.effect_noise((400, 300), 60).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, format="JPEG", quality=40)
    checked = check_upload(upload("photo.jpg", out.getvalue()))
    assert abs(checked.size - len(out.getvalue())) < len(out.getvalue()) // 20


def test_multi_picture_jpeg_from_a_phone_is_stored_as_its_first_picture():
    first, depth = Image.new("RGB", (32, 24), (200, 0, 0)), Image.new("RGB", (32, 24), (0, 0, 0))
    out = io.BytesIO()
    first.save(out, format="MPO", save_all=True, append_images=[depth])
    checked = check_upload(upload("photo.jpg", out.getvalue()))
    stored = Image.open(io.BytesIO(checked.content))
    assert stored.format == "JPEG" and getattr(stored, "n_frames", 1) == 1
    assert checked.content.count(b"\xff\xd8\xff") == 1
