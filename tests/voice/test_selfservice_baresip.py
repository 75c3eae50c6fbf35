"""End-to-end self-service with Debian's baresip (a real SIP phone) calling the voice server
process on loopback: the date of birth as second factor, then a document request whose PDF
lands in the caller's secure messaging with the content-free alert. Reuses the ``Phone`` of
test_call_baresip.py."""

from __future__ import annotations

import shutil
import time

import pytest

from tests.voice.process import VoiceServer
from tests.voice.test_call_baresip import Phone, loud_frames

pytestmark = [
    pytest.mark.skipif(
        shutil.which("baresip") is None or shutil.which("espeak-ng") is None,
        reason="baresip and espeak-ng are installed by bin/setup --test",
    ),
    pytest.mark.xdist_group("voice_baresip_selfservice"),
    # A real peer: CI runs it in the PostgreSQL phase only (docs/testing.md).
    pytest.mark.backend_independent("postgresql"),
]

SETUP = """
import datetime, json
from accounts.models import OidcIdentity
from contactcenter.models import Service, Topic, User
from contactcenter.services import open_case
from voice.models import Menu, MenuNode
service = Service.objects.create(code="caf", name="Allocations", phone="+33140000001")
topic = Topic.objects.create(service=service, title="Aide au logement")
citizen = User.objects.create_user(
    username="louis", email="louis@example.fr", password="x", mobile_phone="+33611111111",
    first_name="Louis", last_name="Bernard",
)
OidcIdentity.objects.create(
    provider="franceconnect", sub="fc-louis", user=citizen, birthdate=datetime.date(1980, 3, 5)
)
case, _ = open_case(
    citizen=citizen, topic=topic, kind="question", channel="web", subject="Mon aide",
    route=False,
)
menu = Menu.objects.create(
    service=service, version=1, status="published", welcome="Bienvenue aux allocations.",
)
MenuNode.objects.create(
    menu=menu, digit="4", label="recevoir une attestation", action="document"
)
print(json.dumps({"reference": case.reference}))
"""

DELIVERED = """
import io, json
from pypdf import PdfReader
from contactcenter.models import Event
from messaging.models import Attachment, Notification
from voice.models import Call
attachment = Attachment.objects.get()
data = attachment.file.read()
call = Call.objects.get()
print(json.dumps({
    "case": attachment.case.reference,
    "name": attachment.original_name,
    "pdf": data[:5].decode(),
    "text": PdfReader(io.BytesIO(data)).pages[0].extract_text(),
    "event": [attachment.event.type, attachment.event.channel, attachment.event.internal],
    "alerts": list(Notification.objects.filter(kind="document").values_list("channel", "text")),
    "codes": Notification.objects.filter(kind="code").count(),
    "verified": [s.get("factor") for s in call.steps if s["step"] == "verified"],
    "self_service": [
        e.payload["self_service"] for e in Event.objects.filter(type="call", payload__call=call.pk)
    ],
}))
"""


@pytest.fixture(scope="module")
def voice_server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("voice")
    server = VoiceServer(workdir, {"GUICHET_TEST_MEDIA_ROOT": str(workdir / "media")})
    server.data = server.shell(SETUP)
    yield server
    server.close()


def test_caller_checked_by_birthdate_gets_the_attestation_pdf(voice_server, tmp_path):
    reference = voice_server.data["reference"]
    phone = Phone(tmp_path, "0611111111")
    try:
        phone.command("dial", f"sip:+33140000001@127.0.0.1:{voice_server.sip_port}")
        phone.wait_event("CALL_ESTABLISHED")
        mark = voice_server.wait_log("Pour recevoir une attestation, tapez 4")
        phone.send_digits("4")
        mark = voice_server.wait_log("tapez 2 pour saisir votre date de naissance", after=mark)
        time.sleep(1)
        phone.send_digits("2")
        mark = voice_server.wait_log("Tapez votre date de naissance", after=mark)
        time.sleep(1)
        phone.send_digits("05031980#")
        mark = voice_server.wait_log("Pour recevoir l'attestation d'une demande", after=mark)
        time.sleep(1)
        phone.send_digits(reference.replace("-", "") + "#")
        voice_server.wait_log("vient d'être déposée dans votre messagerie", after=mark)
        time.sleep(2)
        phone.command("hangup")
        phone.wait_event("CALL_CLOSED")
        time.sleep(1.5)
    finally:
        phone.close()
    assert loud_frames(phone.received_audio()) > 50
    state = voice_server.shell(DELIVERED)
    assert state["case"] == reference
    assert state["name"] == f"attestation-{reference}.pdf" and state["pdf"] == "%PDF-"
    assert "Attestation de dépôt de demande" in state["text"]
    assert reference in state["text"] and "Louis Bernard" in state["text"]
    assert state["event"] == ["message", "phone", False]
    assert state["alerts"] and all("nouveau message" in text for _c, text in state["alerts"])
    assert state["codes"] == 0  # the date of birth, not an SMS code
    assert state["verified"] == ["birthdate"]
    assert state["self_service"] == [[{"kind": "document", "completed": True}]]
