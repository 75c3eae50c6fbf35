"""End-to-end: Debian's baresip (a real SIP phone, not Guichet's code) calls the voice server
(python manage.py voice_server, its own process) on loopback, types DTMF (RFC 4733), records
what it hears (sndfile module) and hangs up.

Proves: the prompts are heard (non-silent audio, as long as the prompts the server played),
the menu path, the second factor (the SMS code read from the outbox, a wrong one first), a
typed reference then reads out the case's status, the hang-up during a prompt is
on the case's timeline; an unidentified caller who hangs up during the welcome leaves a call
closed where it stopped. ``bin/setup --test`` installs baresip and espeak-ng."""

from __future__ import annotations

import array
import shutil
import time
from pathlib import Path

import pytest

from tests.voice.phone import Phone, loud_frames
from tests.voice.process import VoiceServer

pytestmark = [
    pytest.mark.skipif(
        shutil.which("baresip") is None or shutil.which("espeak-ng") is None,
        reason="baresip and espeak-ng are installed by bin/setup --test",
    ),
    # One worker runs the module: one voice server process for its tests (bin/test's loadgroup).
    pytest.mark.xdist_group("voice_baresip"),
    # A real peer: CI runs it in the PostgreSQL phase only (docs/testing.md).
    pytest.mark.backend_independent("postgresql"),
]

SETUP = """
import json
from contactcenter.models import Service, Topic, User
from contactcenter.services import open_case
from voice.models import Menu, MenuNode
service = Service.objects.create(code="sip", name="Service des impôts", phone="+33140000000")
topic = Topic.objects.create(service=service, title="Impôt sur le revenu")
citizen = User.objects.create_user(
    username="camille", email="camille@example.fr", password="x", mobile_phone="+33612345678"
)
case, _ = open_case(
    citizen=citizen, topic=topic, kind="question", channel="web", subject="Ma question",
    route=False,
)
menu = Menu.objects.create(
    service=service, version=1, status="published",
    welcome="Bienvenue au service des impôts des particuliers.",
)
MenuNode.objects.create(menu=menu, digit="1", label="suivre une demande", action="track_request")
MenuNode.objects.create(
    menu=menu, digit="2", label="connaître nos horaires", action="message",
    prompt="Nous sommes ouverts du lundi au vendredi, de 9 heures à 17 heures.",
)
import datetime
from contactcenter.models import AgentProfile
from routing.models import OpeningHours
agent = User.objects.create_user(
    username="alice", email="alice@example.fr", password="x", role="agent"
)
AgentProfile.objects.create(user=agent).services.set([service])
for weekday in range(7):
    OpeningHours.objects.create(
        service=service, weekday=weekday, start=datetime.time(0), end=datetime.time(23, 59)
    )
MenuNode.objects.create(
    menu=menu, digit="3", label="être rappelé", action="callback", topic=topic
)
MenuNode.objects.create(
    menu=menu, digit="5", label="changer de mobile", action="change_mobile"
)
print(json.dumps({"reference": case.reference}))
"""

BOOKINGS = """
import json
from routing.models import CallbackRequest
print(json.dumps([
    {"slot": b.slot_start.isoformat(), "phone": b.phone, "reference": b.case.reference}
    for b in CallbackRequest.objects.order_by("pk")
]))
"""

REPORT = """
import json
from contactcenter.models import Event
from voice.models import Call
calls = []
for call in Call.objects.order_by("pk"):
    events = [
        {"type": e.type, "channel": e.channel, "payload": e.payload}
        for e in Event.objects.filter(type="call", payload__call=call.pk)
    ]
    calls.append({
        "caller": call.caller, "ended_by": call.ended_by, "position": call.position,
        "menu_path": call.menu_path, "case": call.case.reference if call.case else None,
        "steps": call.steps, "events": events,
    })
print(json.dumps(calls))
"""


LAST_CODE = """
import json, re
from messaging.models import Notification
sms = Notification.objects.filter(kind="code", channel="sms").latest("pk")
assert sms.address == "+33612345678"
print(json.dumps(re.search(r"\\b(\\d{6})\\b", sms.text).group(1)))
"""


@pytest.fixture(scope="module")
def voice_server(tmp_path_factory):
    server = VoiceServer(tmp_path_factory.mktemp("voice"))
    server.data = server.shell(SETUP)
    yield server
    server.close()


def prompt_frames(cache: Path, texts: list[str]) -> int:
    """Loud frames of the prompts as synthesised (the server's cache files)."""
    from rtpsynth.RtpUtils import ulaw2linear

    from voice import tts

    total = 0
    for text in texts:
        with pytest.MonkeyPatch.context() as mp:
            from django.conf import settings

            mp.setattr(settings, "VOICE_PROMPT_CACHE", cache, raising=False)
            audio = tts.cache_path(text).read_bytes()
        total += loud_frames(array.array("h", ulaw2linear(audio)))
    return total


def played(server: VoiceServer) -> list[str]:
    return [
        line.split(" plays ", 1)[1].strip("'\"")
        for line in server.text().splitlines()
        if " plays " in line
    ]


def test_identified_caller_follows_a_request_then_hangs_up(voice_server, tmp_path):
    reference = voice_server.data["reference"]
    phone = Phone(tmp_path, "0612345678")
    try:
        phone.command("dial", f"sip:+33140000000@127.0.0.1:{voice_server.sip_port}")
        phone.wait_event("CALL_ESTABLISHED")
        mark = voice_server.wait_log("Pour suivre une demande, tapez 1")
        phone.send_digits("1")
        # Second factor: the code sent by SMS (read from the outbox), a wrong one first.
        mark = voice_server.wait_log("Pour vérifier votre identité", after=mark)
        time.sleep(1)
        code = voice_server.shell(LAST_CODE)
        wrong = f"{(int(code) + 1) % 1000000:06d}"
        phone.send_digits(wrong + "#")
        mark = voice_server.wait_log("Ce code est incorrect.", after=mark)
        mark = voice_server.wait_log("Pour vérifier votre identité", after=mark)
        time.sleep(1)
        phone.send_digits(code + "#")
        mark = voice_server.wait_log("Tapez les 10 chiffres", after=mark)
        time.sleep(1)
        phone.send_digits(reference.replace("-", "") + "#")
        mark = voice_server.wait_log("Votre demande numéro", after=mark)
        # Back at the menu: hang up while it is being read.
        voice_server.wait_log("Pour suivre une demande, tapez 1", after=mark, timeout=40)
        time.sleep(1.5)
        phone.command("hangup")
        phone.wait_event("CALL_CLOSED")
        time.sleep(1)
    finally:
        phone.close()

    texts = played(voice_server)
    status_line = next(t for t in texts if t.startswith("Votre demande numéro"))
    assert "2 0 2 6" in status_line
    assert "est : Nouvelle" in status_line

    # What baresip heard: real audio, at least as long as the two prompts played in full
    # (the welcome and the status; the others were cut short by a key or the hang-up).
    heard = loud_frames(phone.received_audio())
    full = prompt_frames(Path(voice_server.env["VOICE_PROMPT_CACHE"]), [texts[0], status_line])
    assert heard >= 0.8 * full, (heard, full)

    (call,) = [c for c in voice_server.shell(REPORT) if c["caller"] == "0612345678"]
    assert call["ended_by"] == "caller"
    assert call["menu_path"] == ["1"]
    steps = [s["step"] for s in call["steps"]]
    assert steps.count("verify_failed") == 1 and steps.count("verified") == 1
    assert steps.index("verified") < steps.index("self_service")
    assert call["case"] == reference
    assert call["position"] == "menu"
    (event,) = call["events"]
    assert event["type"] == "call" and event["channel"] == "phone"
    assert event["payload"]["menu_path"] == ["1"]
    assert event["payload"]["self_service"] == [{"kind": "track_request", "completed": True}]
    assert event["payload"]["ended_by"] == "caller"
    assert event["payload"]["during_prompt"] is True


def test_unidentified_caller_hangs_up_during_the_welcome(voice_server, tmp_path):
    phone = Phone(tmp_path, "0699999999")
    try:
        phone.command("dial", f"sip:+33140000000@127.0.0.1:{voice_server.sip_port}")
        phone.wait_event("CALL_ESTABLISHED")
        # Two seconds into a welcome of about five: on a loaded machine the first second may
        # carry little audio yet.
        time.sleep(2)
        phone.command("hangup")
        phone.wait_event("CALL_CLOSED")
        time.sleep(1.5)
    finally:
        phone.close()
    (call,) = [c for c in voice_server.shell(REPORT) if c["caller"] == "0699999999"]
    assert call["ended_by"] == "caller"
    assert call["position"] == "welcome"
    assert call["case"] is None and call["events"] == []
    assert [s["step"] for s in call["steps"]] == ["prompt", "hangup"]
    assert loud_frames(phone.received_audio()) > 10


def test_hold_and_resume_then_a_choice(voice_server, tmp_path):
    """baresip's hold and resume are re-INVITEs (sendonly, then sendrecv): the call goes on."""
    phone = Phone(tmp_path, "0677777777")
    try:
        phone.command("dial", f"sip:+33140000000@127.0.0.1:{voice_server.sip_port}")
        phone.wait_event("CALL_ESTABLISHED")
        mark = len(voice_server.text())
        phone.command("hold")
        time.sleep(1)
        phone.command("resume")
        mark = voice_server.wait_log("Pour connaître nos horaires, tapez 2", after=mark)
        phone.send_digits("2")
        voice_server.wait_log("Nous sommes ouverts", after=mark)
        time.sleep(1)
        phone.command("hangup")
        phone.wait_event("CALL_CLOSED")
        time.sleep(1.5)
    finally:
        phone.close()
    (call,) = [c for c in voice_server.shell(REPORT) if c["caller"] == "0677777777"]
    assert call["ended_by"] == "caller"
    assert call["menu_path"] == ["2"]
    assert call["position"] == "choice:2"


def test_identified_caller_books_a_callback(voice_server, tmp_path):
    """3, the SMS code, then the second of the three slots read out."""
    phone = Phone(tmp_path, "0612345678")
    try:
        phone.command("dial", f"sip:+33140000000@127.0.0.1:{voice_server.sip_port}")
        phone.wait_event("CALL_ESTABLISHED")
        mark = voice_server.wait_log("Pour être rappelé, tapez 3")
        phone.send_digits("3")
        mark = voice_server.wait_log("Pour vérifier votre identité", after=mark)
        time.sleep(1)
        phone.send_digits(voice_server.shell(LAST_CODE) + "#")
        mark = voice_server.wait_log(", tapez 2.", after=mark)
        time.sleep(1)
        phone.send_digits("2")
        mark = voice_server.wait_log("Votre rappel est réservé le", after=mark)
        time.sleep(1)
        phone.command("hangup")
        phone.wait_event("CALL_CLOSED")
        time.sleep(1.5)
    finally:
        phone.close()
    offer = next(t for t in played(voice_server) if t.startswith("Pour être rappelé le "))
    (booking,) = voice_server.shell(BOOKINGS)
    assert booking["phone"] == "+33612345678"
    second = offer.split(", tapez 1. ")[1].split(", tapez 2.")[0]
    booked = next(t for t in played(voice_server) if t.startswith("Votre rappel est réservé le"))
    assert second.removeprefix("Pour être rappelé le ") in booked
    calls = [c for c in voice_server.shell(REPORT) if c["caller"] == "0612345678"]
    call = calls[-1]
    assert call["case"] == booking["reference"] and call["menu_path"] == ["3"]
    (event,) = call["events"]
    assert event["payload"]["self_service"] == [{"kind": "callback", "completed": True}]


MOBILE = """
import json
from contactcenter.models import User
from messaging.models import Notification
alert = Notification.objects.filter(kind="code").latest("pk")
print(json.dumps({
    "mobile": User.objects.get(username="camille").mobile_phone,
    "alert_to": alert.address, "alert": alert.text,
}))
"""


def test_identified_caller_changes_the_sms_mobile(voice_server, tmp_path):
    """Last of the module: the citizen's mobile is no longer 0612345678 afterwards."""
    phone = Phone(tmp_path, "0612345678")
    try:
        phone.command("dial", f"sip:+33140000000@127.0.0.1:{voice_server.sip_port}")
        phone.wait_event("CALL_ESTABLISHED")
        mark = voice_server.wait_log("Pour changer de mobile, tapez 5")
        phone.send_digits("5")
        mark = voice_server.wait_log("Pour vérifier votre identité", after=mark)
        time.sleep(1)
        phone.send_digits(voice_server.shell(LAST_CODE) + "#")
        mark = voice_server.wait_log("Tapez votre nouveau numéro de mobile", after=mark)
        time.sleep(1)
        phone.send_digits("0698765432#")
        mark = voice_server.wait_log("Tapez ce numéro une seconde fois", after=mark)
        time.sleep(1)
        phone.send_digits("0698765432#")
        mark = voice_server.wait_log("C'est fait", after=mark)
        time.sleep(1)
        phone.command("hangup")
        phone.wait_event("CALL_CLOSED")
        time.sleep(1.5)
    finally:
        phone.close()
    state = voice_server.shell(MOBILE)
    assert state["mobile"] == "+33698765432"
    assert state["alert_to"] == "+33612345678" and "changé" in state["alert"]
    call = [c for c in voice_server.shell(REPORT) if c["caller"] == "0612345678"][-1]
    (changed,) = [s for s in call["steps"] if s["step"] == "mobile_changed"]
    assert changed["new"] == "32"
