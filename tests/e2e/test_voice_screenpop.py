"""The phone screen-pop in a real browser: a baresip caller (Camille's mobile) calls the
fiscalité service's number and presses 0; routing gives the call to Alice, whose baresip phone
rings and answers while her workstation in Chromium opens the case with Camille's file in the
citizen panel, and the call's controls once it is answered.

The voice server is its own process sharing the site's database and channel layer (Redis: the
screen-pop crosses processes), so the test needs REDIS_URL like the CI's browser job."""

from __future__ import annotations

import os
import shutil
import time

import pytest
from playwright.sync_api import expect

from tests.voice.phone import Phone
from tests.voice.process import VoiceServer

pytestmark = [
    pytest.mark.skipif(
        shutil.which("baresip") is None or shutil.which("espeak-ng") is None,
        reason="baresip and espeak-ng are installed by bin/setup --test",
    ),
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL"),
        reason="the screen-pop goes from the voice server to the site through Redis",
    ),
]

SETUP = """
import datetime
from contactcenter.models import AgentProfile, Case, User
from routing.models import AgentPresence, OpeningHours
alice = User.objects.get(email="alice.durand@guichet.example.fr")
AgentProfile.objects.filter(user=alice).update(sip_extension="{extension}")
# Alice alone on duty, with a free phone slot; the service open all day today.
AgentPresence.objects.filter(user__agent_profile__services__code="fiscalite").exclude(
    user=alice).update(status="offline")
AgentPresence.objects.update_or_create(user=alice, defaults={"status": "available"})
# The caller's number names Camille alone (another test gives a new account the same mobile:
# two matches make an unidentified caller).
User.objects.filter(mobile_phone="+33612345678").exclude(
    email="camille.martin@example.fr").update(mobile_phone="")
# A clear desk: earlier tests may have left her cases that fill her phone slot (a call, a
# callback, an appointment at the counter) or her chats.
Case.objects.filter(assigned_to=alice).exclude(status="closed").update(
    status="closed", resolution="no_follow_up")
added = [
    OpeningHours.objects.create(
        service=alice.agent_profile.services.get(code="fiscalite"), weekday=day,
        start=datetime.time(0), end=datetime.time(23, 59), on_holidays=True,
    ).pk
    for day in range(7)
]
# Written behind the services' backs: the cached chat availability is recomputed.
from routing.availability import refresh_all
refresh_all()
result = added
"""

CLEANUP = """
from routing.models import OpeningHours
OpeningHours.objects.filter(pk__in={added!r}).delete()
"""


def test_call_to_an_agent_pops_the_citizens_file(new_page, check_a11y, demo, e2e_server, tmp_path):
    alice_phone = Phone(tmp_path, "alice", tone=1000, auto_answer=True)
    caller = Phone(tmp_path, "0612345678", tone=600)
    voice = None
    added: list[int] = []
    try:
        added = e2e_server.shell_json(
            SETUP.replace("{extension}", f"sip:alice@127.0.0.1:{alice_phone.sip_port}")
        )
        # The keypad menu (the callbot has its own phone test): no speech recognition.
        voice = VoiceServer(tmp_path, site_env={**e2e_server.env, "GUICHET_ASR_BACKEND": ""})
        agent = new_page(demo.agent_fiscalite, viewport={"width": 1280, "height": 720})
        agent.goto("/console/poste/")
        expect(agent.get_by_label("Mon statut")).to_have_value("available")

        caller.command("dial", f"sip:+33140000101@127.0.0.1:{voice.sip_port}")
        caller.wait_event("CALL_ESTABLISHED")
        voice.wait_log("Pour parler à un conseiller, tapez 0")
        caller.send_digits("0")
        # The case pops in a tab with the caller's file while the agent's phone rings.
        tab = agent.locator("[data-ws-tabs] [role=tab][data-kind]").filter(has_text="Camille")
        expect(tab).to_have_count(1, timeout=20_000)
        citizen = agent.locator("#ws-citizen")
        expect(citizen).to_contain_text("Camille", timeout=10_000)
        expect(citizen).to_contain_text("Demandes en cours")
        panel = agent.locator(".ws-panel:not([hidden])")
        expect(panel).to_contain_text("Appel transféré à un conseiller")
        alice_phone.wait_event("CALL_ESTABLISHED", timeout=20)
        # Answered: the tab, reloaded, shows the call's hold button.
        agent.reload()
        expect(agent.get_by_role("button", name="Mettre en attente")).to_be_visible(timeout=10_000)
        check_a11y(agent)
        caller.command("hangup")
        caller.wait_event("CALL_CLOSED")
        time.sleep(1)
    finally:
        caller.close()
        alice_phone.close()
        if voice is not None:
            voice.close()
        if added:
            e2e_server.shell(CLEANUP.replace("{added!r}", repr(added)))
