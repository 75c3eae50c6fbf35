"""End-to-end: hold and blind transfer of a call answered by an agent, with three real baresip
phones (a caller, Alice of the tax service, Bruno of the health service).

The caller presses 0, Alice's phone answers; the workstation puts the call on hold (the caller
hears the hold message then the hold music, not Alice, and Alice hears nothing of the caller),
takes it back, then transfers the case
to the health service: the voice server hangs up Alice's phone, the caller waits in the other
queue, Bruno's phone rings and answers; the caller hears Bruno's tone. The case is the same,
with its whole history."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from tests.voice.phone import Phone, tone_frames
from tests.voice.process import ROOT, VoiceServer

pytestmark = [
    pytest.mark.skipif(
        shutil.which("baresip") is None or shutil.which("espeak-ng") is None,
        reason="baresip and espeak-ng are installed by bin/setup --test",
    ),
    pytest.mark.xdist_group("voice_transfer"),
    # A real peer: CI runs it in the PostgreSQL phase only (docs/testing.md).
    pytest.mark.backend_independent("postgresql"),
]

HELD_TONE = 1400  # what the caller's microphone plays while the call is on hold
AFTER_TONE = 2000  # and after, until the end (distinct zero crossings from 1,400 Hz ± 15 %)

SETUP = """
import datetime, json
from contactcenter.models import AgentProfile, Service, Topic, User
from routing.models import AgentPresence, OpeningHours
from voice.models import Menu
tax = Service.objects.create(code="tel", name="Service des impôts", phone="+33140000000")
health = Service.objects.create(code="sante", name="Assurance maladie")
topic = Topic.objects.create(service=tax, slug="impots", title="Impôt sur le revenu")
Topic.objects.create(service=health, slug="remboursements", title="Remboursements")
User.objects.create_user(
    username="camille", email="camille@example.fr", password="x", mobile_phone="+33612345678"
)
for name, service in (("alice", tax), ("bruno", health)):
    agent = User.objects.create_user(
        username=name, email=f"{name}@example.fr", password="x", role="agent"
    )
    AgentProfile.objects.create(user=agent).services.set([service])
    AgentPresence.objects.create(user=agent, status="available")
    for weekday in range(7):
        OpeningHours.objects.create(
            service=service, weekday=weekday, start=datetime.time(0), end=datetime.time(23, 59)
        )
Menu.objects.create(
    service=tax, version=1, status="published", agent_topic=topic,
    welcome="Bienvenue au service des impôts.",
)
AgentProfile.objects.filter(user__username="alice").update(sip_extension="{alice}")
AgentProfile.objects.filter(user__username="bruno").update(sip_extension="{bruno}")
print(json.dumps({u.username: u.pk for u in User.objects.filter(role="agent")}))
"""

# What Alice's workstation buttons do (console.workstation_views.call_hold, then the tab's
# "Transférer": console.views.transfer), in one process: `manage.py shell` starts slowly. The
# call is taken back when the test creates the file "{resume}".
AGENT = """
import time
from pathlib import Path
from contactcenter.cases import transfer_case
from contactcenter.models import Service, User
from voice import controls
from voice.models import Call
alice = User.objects.get(username="alice")
while True:  # the call answered by Alice's phone
    call = Call.objects.filter(agent=alice, answered_at__isnull=False).last()
    if call is not None:
        break
    time.sleep(0.2)
time.sleep(2.5)  # they talk
controls.set_hold(controls.agent_call(call.case, alice), True)
deadline = time.monotonic() + 60  # the hold message, then the music, until the test says
while not Path("{resume}").exists() and time.monotonic() < deadline:
    time.sleep(0.1)
controls.set_hold(controls.agent_call(call.case, alice), False)
time.sleep(3)  # talking again
transfer_case(
    call.case, to_service=Service.objects.get(code="sante"), reason="Remboursement de soins",
    by=alice,
)
"""

REPORT = """
import json
from contactcenter.models import Event
from voice.models import Call
call = Call.objects.latest("pk")
print(json.dumps({
    "agent": call.agent_id, "ended_by": call.ended_by, "steps": [s["step"] for s in call.steps],
    "service": call.case.service.code, "status": call.case.status,
    "events": [[e.type, e.payload.get("stage"), e.payload.get("reason")]
               for e in Event.objects.filter(case=call.case).order_by("pk")],
}))
"""


@pytest.fixture(scope="module")
def voice_server(tmp_path_factory):
    server = VoiceServer(tmp_path_factory.mktemp("voice"), {"VOICE_WAIT_ANNOUNCE": "60"})
    yield server
    server.close()


def test_hold_resume_then_blind_transfer_to_another_service(voice_server, tmp_path):
    # Long sources: the scenario can outlast 90 s on a loaded machine (baresip hangs up then).
    alice = Phone(tmp_path, "alice", tone=1000, auto_answer=True, seconds=240)
    bruno = Phone(tmp_path, "bruno", tone=800, auto_answer=True, seconds=240)
    caller = Phone(tmp_path, "0612345678", tone=600, seconds=240)
    try:
        voice_server.data = voice_server.shell(
            SETUP.replace("{alice}", f"sip:alice@127.0.0.1:{alice.sip_port}").replace(
                "{bruno}", f"sip:bruno@127.0.0.1:{bruno.sip_port}"
            )
        )
        resume = tmp_path / "resume"
        agent = subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", AGENT.replace("{resume}", str(resume))],
            cwd=ROOT,
            env=voice_server.env,
            stdout=subprocess.DEVNULL,
        )
        caller.command("dial", f"sip:+33140000000@127.0.0.1:{voice_server.sip_port}")
        caller.wait_event("CALL_ESTABLISHED")
        mark = voice_server.wait_log("Pour parler à un conseiller, tapez 0")
        caller.send_digits("0")
        mark = voice_server.wait_log("Votre appel est transmis à un conseiller", after=mark)
        alice.wait_event("CALL_ESTABLISHED", timeout=30)
        # Logged once the bridge is cut (voice.to_agent: leg.hold, then the hold message).
        mark = voice_server.wait_log("vous met en attente", after=mark, timeout=60)
        # While held, and only then, the caller's microphone plays 1,400 Hz: Alice must hear
        # none of it. Back to another tone (2,000 Hz) a second before the call is taken back:
        # the margin for the audio still on its way (baresip's buffers, the jitter buffer).
        caller.switch_tone(HELD_TONE)
        time.sleep(4)
        caller.switch_tone(AFTER_TONE)
        time.sleep(1)
        resume.touch()
        mark = voice_server.wait_log(": talk", after=mark)  # taken back
        voice_server.wait_log("transféré à un autre conseiller", after=mark)
        assert agent.wait(30) == 0
        alice.wait_event("CALL_CLOSED", timeout=15)  # the voice server hung up Alice's phone
        bruno.wait_event("CALL_ESTABLISHED", timeout=30)
        time.sleep(2.5)
        bruno.command("hangup")
        bruno.wait_event("CALL_CLOSED")
        caller.wait_event("CALL_CLOSED")
        time.sleep(1.5)
    finally:
        caller.close()
        alice.close()
        bruno.close()
    alice_heard = alice.received_audio()
    assert tone_frames(alice_heard, 600) >= 50  # the caller, before the hold
    assert tone_frames(alice_heard, AFTER_TONE) >= 25  # and after: the switch reached Alice
    assert tone_frames(alice_heard, HELD_TONE) == 0  # nothing of the caller while held
    heard = caller.received_audio()
    assert tone_frames(heard, 1000) >= 100  # Alice, before and after the hold
    assert tone_frames(heard, 800) >= 50  # Bruno, after the transfer
    assert tone_frames(heard, 440) >= 10  # the hold music's first note

    report = voice_server.shell(REPORT)
    steps = report["steps"]
    assert steps.index("agent_answered") < steps.index("hold") < steps.index("resume")
    assert steps.index("resume") < steps.index("requeued") < len(steps) - 1
    assert steps.count("agent_answered") == 2
    assert report["agent"] == voice_server.data["bruno"] and report["ended_by"] == "agent"
    # The same case, now in the health service, with its history.
    assert report["service"] == "sante" and report["status"] == "answered"
    types = [event[0] for event in report["events"]]
    assert types[0] == "call" and report["events"][0][1] == "queued"
    assert "transfer" in types
    assert ["call", "queued", "transfer"] in report["events"]
