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
