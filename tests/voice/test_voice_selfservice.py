"""Self-service on a scripted line: the date of birth as second factor, the attestation of a
request posted as a PDF to the secure messaging (docs/voice.md)."""

from __future__ import annotations

import datetime
import io

import pytest
from pypdf import PdfReader

from accounts.models import OidcIdentity
from contactcenter.models import Event, User
from messaging.models import Attachment, Notification
from tests.voice.test_voice_units import CODE, phone_setup, run  # noqa: F401 (fixture)
from voice import documents, services
from voice.models import MenuNode

BORN = ["0", "5", "0", "3", "1", "9", "8", "0"]


@pytest.fixture
def born(phone_setup):  # noqa: F811
    citizen = phone_setup["case"].citizen
    OidcIdentity.objects.create(
        provider=OidcIdentity.Provider.FRANCECONNECT,
        sub="fc-cam",
        user=citizen,
        birthdate=datetime.date(1980, 3, 5),
    )
    return phone_setup


@pytest.fixture
def document_node(phone_setup):  # noqa: F811
    return MenuNode.objects.create(
        menu=phone_setup["menu"],
        digit="4",
        label="recevoir une attestation",
        action=MenuNode.Action.DOCUMENT,
    )


def test_birthdate_is_offered_only_when_certified(phone_setup):  # noqa: F811
    call = services.start_call("b0@h", "0612345678", "0140000000")
    assert services.birthdate(call) == ""
    line = run(call, ["1", None, None, None])
    assert not any("date de naissance" in text for text in line.said)


def test_birthdate_as_second_factor_then_the_status_is_read(born):
    case = born["case"]
    call = services.start_call("b1@h", "0612345678", "0140000000")
    assert services.birthdate(call) == "05031980"
    line = run(call, ["1", "2", *BORN, "#", *case.reference.replace("-", ""), "#"])
    assert any("Votre demande numéro" in text for text in line.said)
    assert [s["factor"] for s in call.steps if s["step"] == "verified"] == ["birthdate"]
    assert not Notification.objects.filter(kind="code").exists()  # no SMS code sent


def test_the_sms_code_is_still_offered_with_a_birthdate(born):
    case = born["case"]
    call = services.start_call("b2@h", "0612345678", "0140000000")
    run(call, ["1", "1", CODE, *case.reference.replace("-", ""), "#"])
    assert [s["factor"] for s in call.steps if s["step"] == "verified"] == ["sms"]


def test_three_wrong_birthdates_read_nothing(born):
    case = born["case"]
    call = services.start_call("b3@h", "0612345678", "0140000000")
    wrong = ["0", "6", "0", "3", "1", "9", "8", "0", "#"]
    line = run(call, ["1", "2", *wrong, *wrong, *wrong, *case.reference.replace("-", ""), "#"])
    assert line.said.count("Cette date de naissance ne correspond pas.") == 2
    assert any("aucune information personnelle" in text for text in line.said)
    assert not any("Votre demande numéro" in text for text in line.said)
    failed = [s for s in call.steps if s["step"] == "verify_failed"]
    assert [(s["attempt"], s["factor"]) for s in failed] == [(1, "birthdate"), (2, "birthdate")] + [
        (3, "birthdate")
    ]
    assert any(s["step"] == "transfer_offered" for s in call.steps)
    assert call.case is None
    assert not any("05031980" in str(s) for s in call.steps)  # never stored


def test_birthdate_choice_without_answer_fails_the_factor(born):
    call = services.start_call("b4@h", "0612345678", "0140000000")
    line = run(call, ["1", None, None, None])
    assert sum("date de naissance" in text for text in line.said) == 3
    assert not any(s["step"] == "verified" for s in call.steps)
    (done,) = [s for s in call.steps if s["step"] == "self_service"]
    assert done["reason"] == "second_factor"


def test_attestation_is_a_real_pdf(phone_setup):  # noqa: F811
    case = phone_setup["case"]
    User.objects.filter(pk=case.citizen_id).update(first_name="Zoë", last_name="Œuvrard")
    case.refresh_from_db()
    data = documents.attestation_pdf(case)
    assert data.startswith(b"%PDF-")
    text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert "Attestation de dépôt de demande" in text
    assert case.reference in text and "Zoë OEuvrard" in text
    assert "Nouvelle" in text


def test_document_request_posts_the_pdf_to_the_messaging(
    document_node,
    phone_setup,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    case = phone_setup["case"]
    call = services.start_call("d1@h", "0612345678", "0140000000")
    with django_capture_on_commit_callbacks(execute=True):
        line = run(call, ["4", CODE, *case.reference.replace("-", ""), "#"])
    assert any("vient d'être déposée dans votre messagerie" in text for text in line.said)
    (attachment,) = Attachment.objects.filter(case=case)
    assert attachment.content_type == "application/pdf" and attachment.uploaded_by is None
    assert attachment.original_name == f"attestation-{case.reference}.pdf"
    assert attachment.file.read().startswith(b"%PDF-")
    event = attachment.event
    assert event.type == Event.Type.MESSAGE and event.channel == "phone"
    assert not event.internal and event.actor is None
    assert event.payload == {"document": True, "attachments": 1}
    # The usual content-free alert, by the citizen's chosen channel (e-mail by default).
    alert = Notification.objects.get(kind="document", case=case)
    assert "nouveau message" in alert.text and "attestation" not in alert.text.lower()
    call.refresh_from_db()
    assert call.case == case
    done = [s for s in call.steps if s["step"] == "self_service"]
    assert done == [{**done[0], "kind": "document", "completed": True}]
    timeline = Event.objects.get(case=case, type=Event.Type.CALL)
    assert timeline.payload["self_service"] == [{"kind": "document", "completed": True}]
    case.refresh_from_db()
    assert case.status == "new"  # a document answers nothing


def test_document_request_refuses_another_citizens_case(document_node, phone_setup):  # noqa: F811
    other = phone_setup["other_case"]
    call = services.start_call("d2@h", "0612345678", "0140000000")
    line = run(
        call,
        ["4", CODE, *other.reference.replace("-", ""), "#", *"2026999999", "#"],
    )
    assert line.said.count(services.not_found_speech()) == 2
    assert not Attachment.objects.exists()
    (done,) = [s for s in call.steps if s["step"] == "self_service"]
    assert done["completed"] is False and done["reason"] == "not_found"


def test_document_request_needs_identification(document_node, phone_setup):  # noqa: F811
    call = services.start_call("d3@h", "0699999999", "0140000000")
    run(call, ["4"])
    assert not Attachment.objects.exists()
    (done,) = [s for s in call.steps if s["step"] == "self_service"]
    assert done["reason"] == "unidentified"


def test_lost_calls_offer_an_identified_caller_a_callback_by_sms(phone_setup):  # noqa: F811
    identified = services.start_call("l1@h", "0612345678", "0140000000")
    services.track_request(identified, phone_setup["case"].reference.replace("-", ""))
    anonymous = services.start_call("l2@h", "0699999999", "0140000000")
    assert services.close_lost_calls() == 2
    (sms,) = Notification.objects.filter(kind="voice_lost")
    assert sms.channel == "sms" and sms.address == "+33612345678"
    assert "/rappel/nouveau/" in sms.text and phone_setup["case"].reference not in sms.text
    identified.refresh_from_db()
    anonymous.refresh_from_db()
    assert identified.ended_by == anonymous.ended_by == "lost"
    assert [s["step"] for s in identified.steps][-2:] == ["lost", "callback_offered"]
    assert "callback_offered" not in [s["step"] for s in anonymous.steps]
    event = Event.objects.get(type=Event.Type.CALL, case=phone_setup["case"])
    assert event.payload["ended_by"] == "lost"
    # A second start finds nothing open and sends nothing more.
    assert services.close_lost_calls() == 0
    assert Notification.objects.filter(kind="voice_lost").count() == 1


def wav(channels: int, width: int, rate: int, seconds: float = 0.5) -> bytes:
    import math
    import struct
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        frames = bytearray()
        for n in range(int(rate * seconds)):
            value = int(12000 * math.sin(2 * math.pi * 440 * n / rate))
            sample = struct.pack("<h", value) if width == 2 else bytes([(value >> 8) + 128])
            frames += sample * channels
        out.writeframes(bytes(frames))
    return buffer.getvalue()


def test_recordings_are_converted_to_8khz_ulaw_or_refused():
    from voice import tts

    assert len(tts.recording_to_ulaw(wav(1, 2, 8000))) == 4000
    assert len(tts.recording_to_ulaw(wav(2, 2, 44100))) == pytest.approx(4000, abs=10)
    assert len(tts.recording_to_ulaw(wav(1, 1, 16000))) == pytest.approx(4000, abs=10)
    for bad in (b"ID3\x03 not a wav at all", wav(1, 2, 8000)[:30], wav(1, 2, 8000, 0.01)):
        with pytest.raises(tts.RecordingError):
            tts.recording_to_ulaw(bad)


def test_admin_uploads_a_recorded_prompt_used_instead_of_synthesis(
    phone_setup,  # noqa: F811
    settings,
    tmp_path,
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from voice.admin import MenuNodeForm

    settings.MEDIA_ROOT = tmp_path
    node = MenuNode.objects.get(menu=phone_setup["menu"], label="les horaires")
    data = {
        "parent": node.parent_id,
        "digit": node.digit,
        "label": node.label,
        "action": node.action,
        "prompt": node.prompt,
    }
    refused = MenuNodeForm(
        data,
        {"recording": SimpleUploadedFile("a.mp3", b"ID3\x03 fake mp3", "audio/mpeg")},
        instance=node,
    )
    assert not refused.is_valid()
    assert "pas un enregistrement WAV utilisable" in refused.errors["recording"][0]
    form = MenuNodeForm(
        data,
        {"recording": SimpleUploadedFile("h.wav", wav(2, 2, 44100), "audio/wav")},
        instance=node,
    )
    assert form.is_valid(), form.errors
    form.save()
    node.refresh_from_db()
    assert node.recording.name.endswith(".ulaw")
    audio = services.recording(node)
    assert audio is not None and len(audio) == pytest.approx(4000, abs=10)

    played: list[bytes | None] = []

    class Recorder:
        def __init__(self, keys):
            self.keys = list(keys)

        def say(self, text, audio=None):
            played.append(audio)
            return True

        def next_digit(self, timeout):
            if not self.keys:
                from voice.ivr import HungUp

                raise HungUp
            return self.keys.pop(0)

        def flush_digits(self):
            pass

        def hangup(self):
            pass

    from voice.ivr import Dialogue, HungUp

    call = services.start_call("r1@h", "0699999999", "0140000000")
    with pytest.raises(HungUp):
        Dialogue(Recorder(["2", "1"]), call).run()
    assert played.count(audio) == 1  # the recorded "les horaires" message, once
    assert sum(a is None for a in played) >= 3  # welcome and menus synthesised
    call.refresh_from_db()
    recorded = [s for s in call.steps if s["step"] == "prompt" and s["recorded"]]
    assert [s["text"] for s in recorded] == [node.prompt]
