"""End-to-end: key 0 to an agent, with real SIP peers that are not Guichet's code.

A caller's baresip calls the voice server (its own process, SQLite) and presses 0. With the
agent on duty, routing gives the new phone case to the agent, the voice server rings the
agent's phone (a second baresip that answers by itself, at the SIP address of the agent's
profile) and relays the audio: each phone sends a tone of its own and records what it hears,
and each hears the other's tone. The agent hangs up: the call ends as hung up by the agent,
the case is answered (the phone slot is free again) and the timeline has the wait and the time
with the agent. With nobody on duty, the caller is offered a callback and books it."""

from __future__ import annotations

import shutil
import time

import pytest

from tests.voice.phone import Phone, tone_frames
from tests.voice.process import VoiceServer

pytestmark = [
    pytest.mark.skipif(
        shutil.which("baresip") is None or shutil.which("espeak-ng") is None,
        reason="baresip and espeak-ng are installed by bin/setup --test",
    ),
    pytest.mark.xdist_group("voice_agent"),
    # A real peer: CI runs it in the PostgreSQL phase only (docs/testing.md).
    pytest.mark.backend_independent("postgresql"),
]

SETUP = """
import datetime, json
from contactcenter.models import AgentProfile, Service, Topic, User
from routing.models import AgentPresence, OpeningHours
from voice.models import Menu, MenuNode
service = Service.objects.create(code="tel", name="Service des impôts", phone="+33140000000")
topic = Topic.objects.create(service=service, title="Impôt sur le revenu")
User.objects.create_user(
    username="camille", email="camille@example.fr", password="x", mobile_phone="+33612345678"
)
agent = User.objects.create_user(
    username="alice", email="alice@example.fr", password="x", role="agent"
)
AgentProfile.objects.create(user=agent).services.set([service])
AgentPresence.objects.create(user=agent, status="offline")
for weekday in range(7):
    OpeningHours.objects.create(
        service=service, weekday=weekday, start=datetime.time(0), end=datetime.time(23, 59)
    )
menu = Menu.objects.create(
    service=service, version=1, status="published", agent_topic=topic,
    welcome="Bienvenue au service des impôts.",
)
MenuNode.objects.create(
    menu=menu, digit="2", label="connaître nos horaires", action="message",
    prompt="Nous sommes ouverts tous les jours.",
)
print(json.dumps({"agent": agent.pk}))
"""

ON_DUTY = """
import json
from contactcenter.models import AgentProfile
from routing.models import AgentPresence
AgentProfile.objects.filter(user__username="alice").update(sip_extension="{extension}")
AgentPresence.objects.filter(user__username="alice").update(status="available")
print(json.dumps(True))
"""

LAST_CODE = """
import json, re
from messaging.models import Notification
sms = Notification.objects.filter(kind="code", channel="sms").latest("pk")
print(json.dumps(re.search(r"\\b(\\d{6})\\b", sms.text).group(1)))
"""

REPORT = """
import json
from contactcenter.models import Case, Event
from routing import free_capacity
from routing.models import CallbackRequest
from voice.models import Call
call = Call.objects.latest("pk")
case = call.case
print(json.dumps({
    "ended_by": call.ended_by, "agent": call.agent_id, "steps": call.steps,
    "wait": (call.answered_at - call.queued_at).total_seconds() if call.answered_at else None,
    "case": case and {
        "channel": case.channel, "status": case.status, "assigned_to": case.assigned_to_id,
        "events": [
            {"type": e.type, "payload": e.payload}
            for e in Event.objects.filter(case=case).order_by("pk")
        ],
    },
    "phone_cases": Case.objects.filter(channel="phone").count(),
    "callbacks": list(CallbackRequest.objects.values_list("phone", flat=True)),
    "free_phone": free_capacity(call.agent_id, "phone") if call.agent_id else None,
}))
"""


@pytest.fixture(scope="module")
def voice_server(tmp_path_factory):
    server = VoiceServer(tmp_path_factory.mktemp("voice"), {"VOICE_WAIT_ANNOUNCE": "60"})
    server.data = server.shell(SETUP)
    yield server
    server.close()


def test_no_agent_on_duty_offers_a_callback_then_books_it(voice_server, tmp_path):
    caller = Phone(tmp_path, "0612345678")
    try:
        caller.command("dial", f"sip:+33140000000@127.0.0.1:{voice_server.sip_port}")
        caller.wait_event("CALL_ESTABLISHED")
        mark = voice_server.wait_log("Pour parler à un conseiller, tapez 0")
        caller.send_digits("0")
        mark = voice_server.wait_log("Aucun conseiller n'est disponible", after=mark)
        mark = voice_server.wait_log("Pour vérifier votre identité", after=mark)
        time.sleep(1)
        caller.send_digits(voice_server.shell(LAST_CODE) + "#")
        mark = voice_server.wait_log(", tapez 1.", after=mark)
        time.sleep(1)
        caller.send_digits("1")
        voice_server.wait_log("Votre rappel est réservé le", after=mark)
        time.sleep(1)
        caller.command("hangup")
        caller.wait_event("CALL_CLOSED")
        time.sleep(1.5)
    finally:
        caller.close()
    report = voice_server.shell(REPORT)
    assert report["callbacks"] == ["+33612345678"]
    assert report["phone_cases"] == 0  # nobody to wait for: no phone case in a queue
    steps = {s["step"]: s for s in report["steps"]}
    assert steps["transfer"]["reason"] == "key"
    assert steps["callback_offered"]["reason"] == "no_agent"
    assert steps["self_service"]["kind"] == "callback" and steps["self_service"]["completed"]


def test_key_0_rings_the_agent_and_the_audio_flows_both_ways(voice_server, tmp_path):
    agent = Phone(tmp_path, "alice", tone=1000, auto_answer=True)
    caller = Phone(tmp_path, "0612345678", tone=600)
    try:
        voice_server.shell(ON_DUTY.replace("{extension}", f"sip:alice@127.0.0.1:{agent.sip_port}"))
        caller.command("dial", f"sip:+33140000000@127.0.0.1:{voice_server.sip_port}")
        caller.wait_event("CALL_ESTABLISHED")
        mark = voice_server.wait_log("Pour parler à un conseiller, tapez 0")
        caller.send_digits("0")
        voice_server.wait_log("Votre appel est transmis à un conseiller", after=mark)
        agent.wait_event("CALL_ESTABLISHED", timeout=30)
        time.sleep(4)  # they talk
        agent.command("hangup")
        agent.wait_event("CALL_CLOSED")
        caller.wait_event("CALL_CLOSED")
        time.sleep(1.5)
    finally:
        caller.close()
        agent.close()
    # Each phone heard the other's tone (not the voice server's speech): at least 2 s of it.
    assert tone_frames(agent.received_audio(), 600) >= 100
    assert tone_frames(caller.received_audio(), 1000) >= 100

    report = voice_server.shell(REPORT)
    assert report["ended_by"] == "agent"
    assert report["agent"] == voice_server.data["agent"]
    steps = [s["step"] for s in report["steps"]]
    assert steps.index("transfer") < steps.index("agent_ringing") < steps.index("agent_answered")
    case = report["case"]
    assert case["channel"] == "phone" and case["assigned_to"] == voice_server.data["agent"]
    # The call's end frees the agent's phone slot: the case waits for its close.
    assert case["status"] == "answered" and report["free_phone"] == 1
    queued = case["events"][0]
    assert queued["type"] == "call" and queued["payload"]["stage"] == "queued"
    assert queued["payload"]["menu_path"] == [] and queued["payload"]["reason"] == "key"
    assert any(e["type"] == "assignment" for e in case["events"])
    end = [e for e in case["events"] if e["type"] == "call"][-1]["payload"]
    assert end["ended_by"] == "agent" and end["agent"] == voice_server.data["agent"]
    assert end["talk"] >= 3 and end["wait"] >= 0
