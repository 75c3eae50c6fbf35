"""Visio in real Chromium with fake camera and microphone, two browser contexts.

The agent starts a visio from the case in the workstation; the citizen joins from the case page
of their space into the waiting room (own camera, microphone meter, device choice) and receives
nothing of the agent until the agent admits them; then the WebRTC connection reaches
"connected" and each side receives video frames and bytes; a caption typed by the agent is shown
to the citizen; chat messages go both ways as plain text; the citizen's hang-up ends it for both
and the call lands on the case's timeline. tests/e2e/test_visio_media.py: screen share and the
audio-only fallback.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.visio_helpers import CAPTION, chromium, receiving

SETUP = """
from django.utils import timezone
from contactcenter.models import Case, User
alice = User.objects.get(email="alice.durand@guichet.example.fr")
case = (Case.objects.filter(service__code="fiscalite", channel="web",
        citizen__email="camille.martin@example.fr")
        .exclude(status="closed").order_by("id").first())
Case.objects.filter(pk=case.pk).update(
    assigned_to=alice, status="in_progress", assigned_at=timezone.now())
result = case.reference
"""
# What a citizen could try to inject into the agent's page: shown as text, never run.
MARKUP = '<img src=x onerror="window.injected=1"><b id="injected">gras</b>'
LINK = "https://www.impots.gouv.fr/accueil"


@pytest.fixture(scope="module")
def browser(playwright_instance):
    """Chromium with a fake camera and microphone, granted without a prompt."""
    with chromium(playwright_instance) as browser:
        yield browser


def test_agent_and_citizen_talk_with_captions_then_hang_up(new_page, check_a11y, demo, e2e_server):
    reference = e2e_server.shell_json(SETUP)
    agent = new_page(demo.agent_fiscalite)
    agent.goto(f"/console/poste/?ouvrir={reference}")
    panel = agent.locator("#ws-citizen")
    panel.get_by_role("button", name="Démarrer une visio").click()
    dialog = agent.locator("#ws-dialog")
    expect(dialog).to_contain_text("Visio ouverte")
    with agent.context.expect_page() as opened:
        dialog.get_by_role("link", name=re.compile("Rejoindre la visio")).click()
    agent_room = opened.value
    agent_room.wait_for_url(re.compile(r"/visio/salle/[\w-]+/$"))
    expect(agent_room.locator("#visio-status")).to_have_attribute("data-state", "waiting")

    citizen = new_page(demo.citizen)
    citizen.goto(f"/espace/demandes/{reference}/")
    citizen.get_by_role("link", name=re.compile("Rejoindre la visio")).click()
    citizen.wait_for_url(re.compile(r"/visio/salle/[\w-]+/$"))

    # The citizen waits until the agent, who sees who waits, admits them (keyboard).
    root = citizen.locator("#visio")
    expect(root).to_have_attribute("data-phase", "lobby")
    waiting = agent_room.locator("#visio-waiting")
    expect(waiting).to_contain_text("Camille Martin attend dans la salle d’attente.")
    agent_room.get_by_role("button", name="Faire entrer").focus()
    agent_room.keyboard.press("Enter")
    expect(waiting).to_be_hidden()
    expect(root).to_have_attribute("data-phase", "call")

    receiving(citizen)
    receiving(agent_room)

    agent_room.get_by_label(re.compile("Sous-titre à afficher")).fill(CAPTION)
    agent_room.get_by_role("button", name="Afficher le sous-titre").click()
    captions = citizen.get_by_role("log", name="Sous-titres")
    expect(captions).to_have_attribute("aria-live", "polite")
    expect(captions).to_contain_text(CAPTION)
    check_a11y(citizen)
    check_a11y(agent_room, layout=False)

    citizen.get_by_role("button", name="Raccrocher").click()
    for page in (citizen, agent_room):
        expect(page.locator("#visio-ended")).to_be_visible()
        expect(page.locator("#visio")).to_have_attribute("data-connection", "closed")
    recorded = e2e_server.shell_json(
        "from contactcenter.models import Event\n"
        f"e = Event.objects.filter(case__reference={reference!r}, type='visio').last()\n"
        "result = e and e.payload"
    )
    assert recorded["end_reason"] == "citizen" and recorded["chat_kept"] is False
    assert {p["role"] for p in recorded["participants"]} == {"citizen", "agent"}


def test_waiting_room_tests_the_devices_and_chat_is_text(new_page, check_a11y, demo, visio_room):
    paths = visio_room
    agent_room = new_page(demo.agent_fiscalite)
    agent_room.goto(paths["agent"])
    citizen = new_page(demo.citizen)
    citizen.goto(paths["citizen"])
    # The waiting room: own camera, a moving microphone meter, the devices to choose from.
    root = citizen.locator("#visio")
    expect(root).to_have_attribute("data-phase", "lobby")
    expect(citizen.locator("#visio-status")).to_have_attribute("data-state", "lobby")
    citizen.wait_for_function(
        "() => document.getElementById('visio-local').videoWidth > 0"
        " && Number(document.getElementById('visio-level').dataset.peak || 0) > 0",
        timeout=10_000,
    )
    expect(citizen.locator("#visio-camera-select option")).not_to_have_count(0)
    expect(citizen.locator("#visio-mic-select option")).not_to_have_count(0)
    check_a11y(citizen)
    # The agent sees who waits; nothing of the agent reaches the citizen meanwhile.
    expect(agent_room.locator("#visio-waiting")).to_contain_text("Camille Martin attend")
    citizen.wait_for_timeout(500)
    assert citizen.evaluate("() => window.guichetVisio.bytesReceived()") == 0
    expect(root).not_to_have_attribute("data-connection", "connected")
    # Chat works in the waiting room: the citizen's markup is text in the agent's page.
    citizen.get_by_label("Votre message").fill(MARKUP)
    citizen.get_by_label("Votre message").press("Enter")
    agent_chat = agent_room.get_by_role("log", name="Messages")
    expect(agent_chat).to_contain_text(MARKUP)
    assert agent_room.locator("#visio-chat img, #injected").count() == 0
    assert agent_room.evaluate("() => window.injected") is None
    # The agent's link is a link for the citizen.
    agent_room.get_by_label("Votre message").fill(f"Le formulaire : {LINK}")
    agent_room.get_by_role("button", name="Envoyer le message").click()
    citizen_chat = citizen.get_by_role("log", name="Messages")
    expect(citizen_chat.get_by_role("link", name=LINK)).to_have_attribute("href", LINK)
    check_a11y(agent_room)
    agent_room.get_by_role("button", name="Raccrocher").click()
    expect(root).to_have_attribute("data-ended", "1")
