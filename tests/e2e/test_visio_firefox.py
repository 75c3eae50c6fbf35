"""Visio between Firefox and Chromium: the citizen in Debian's Firefox ESR (fake camera and
microphone, driven over WebDriver BiDi: tests/e2e/firefox.py), the agent in Chromium.

The citizen waits in the waiting room (own camera, moving microphone meter) and receives
nothing until the agent admits them; then each side receives audio and video from the other
browser's engine (bytes and decoded frames increasing in getStats, the remote video playing);
a caption typed by the agent reaches the citizen; the citizen's hang-up in Firefox ends the call
for both and the visio lands on the case's timeline.
"""

import json

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DEMO_PASSWORD
from tests.e2e.firefox import ENTER, Firefox
from tests.e2e.visio_helpers import CAPTION, chromium, receiving

# Bytes received so far per kind and video frames decoded, from the page's peer connection.
RECEIVED = """(async () => ({
  audio: await window.guichetVisio.bytesReceived('audio'),
  video: await window.guichetVisio.bytesReceived('video'),
  frames: await window.guichetVisio.framesDecoded(),
}))()"""
# Two new frames of the remote video presented (Firefox counts no playback quality for a
# MediaStream: getVideoPlaybackQuality stays at 0 there).
PRESENTED = """new Promise((resolve) => {
  const video = document.getElementById('visio-remote');
  let seen = 0;
  const next = () => video.requestVideoFrameCallback(() => (++seen === 2 ? resolve(true) : next()));
  next();
  setTimeout(() => resolve(false), 5000);
})"""


@pytest.fixture(scope="module")
def browser(playwright_instance):
    """The agent's Chromium, with a fake camera and microphone granted without a prompt."""
    with chromium(playwright_instance) as browser:
        yield browser


@pytest.fixture
def firefox(e2e_server):
    driver = Firefox(e2e_server.url)
    yield driver
    errors = list(driver.console_errors)
    driver.close()
    assert not errors, "Firefox console errors:\n" + "\n".join(errors)


def firefox_login(firefox: Firefox, email: str) -> None:
    firefox.goto("/connexion/")
    firefox.type("input[name=username]", email)
    firefox.type("input[name=password]", DEMO_PASSWORD + ENTER)
    firefox.wait_for("location.pathname !== '/connexion/' && document.readyState === 'complete'")


def firefox_receiving(firefox: Firefox) -> None:
    """Connected, the remote video plays, and audio and video bytes and frames keep coming."""
    firefox.wait_for(
        "document.getElementById('visio').dataset.connection === 'connected'", timeout=20
    )
    firefox.wait_for(
        "(() => { const v = document.getElementById('visio-remote');"
        " return v.videoWidth > 0 && !v.paused; })()"
    )
    assert firefox.evaluate(PRESENTED)
    first = firefox.evaluate(RECEIVED)
    firefox.wait_for(
        f"(async () => {{ const before = {json.dumps(first)}; const now = await {RECEIVED};"
        " return now.audio > before.audio && now.video > before.video"
        " && now.frames > before.frames; })()",
        timeout=10,
    )


def chromium_receiving(page) -> None:
    """Audio and video bytes and decoded video frames keep coming from Firefox."""
    first = page.evaluate(RECEIVED)
    page.wait_for_function(
        f"async (before) => {{ const now = await {RECEIVED};"
        " return now.audio > before.audio && now.video > before.video"
        " && now.frames > before.frames; }",
        arg=first,
        timeout=10_000,
    )


def test_citizen_in_firefox_and_agent_in_chromium(new_page, demo, e2e_server, firefox, visio_room):
    paths = visio_room
    agent_room = new_page(demo.agent_fiscalite)
    agent_room.goto(paths["agent"])
    expect(agent_room.locator("#visio-status")).to_have_attribute("data-state", "waiting")

    firefox_login(firefox, demo.citizen)
    firefox.goto(paths["citizen"])
    # The waiting room in Firefox: own camera (the fake test pattern), the devices listed,
    # nothing of the agent received. (The microphone meter is not checked: Firefox runs no
    # AudioContext on a machine without a sound output, such as CI.)
    firefox.wait_for("document.getElementById('visio').dataset.phase === 'lobby'")
    firefox.wait_for("document.getElementById('visio-local').videoWidth > 0")
    firefox.wait_for(
        "document.querySelectorAll('#visio-camera-select option').length > 0"
        " && document.querySelectorAll('#visio-mic-select option').length > 0"
    )

    waiting = agent_room.locator("#visio-waiting")
    expect(waiting).to_contain_text("Camille Martin attend dans la salle d’attente.")
    assert firefox.evaluate("window.guichetVisio.bytesReceived()") == 0
    agent_room.get_by_role("button", name="Faire entrer").click()
    expect(waiting).to_be_hidden()
    firefox.wait_for("document.getElementById('visio').dataset.phase === 'call'")

    # Media both ways between the two engines.
    firefox_receiving(firefox)
    receiving(agent_room)
    chromium_receiving(agent_room)
    expect(agent_room.locator("#visio")).to_have_attribute("data-peer-video", "on")

    # A caption typed by the agent in Chromium is shown to the citizen in Firefox.
    agent_room.get_by_label("Sous-titre à afficher").fill(CAPTION)
    agent_room.get_by_role("button", name="Afficher le sous-titre").click()
    firefox.wait_for(
        f"document.getElementById('visio-captions').textContent.includes({json.dumps(CAPTION)})"
    )
    assert firefox.attribute("#visio-captions", "aria-live") == "polite"

    # The citizen hangs up in Firefox: the call ends on both sides.
    firefox.click("#visio-hangup")
    firefox.wait_for(
        "!document.getElementById('visio-ended').hidden"
        " && document.getElementById('visio').dataset.connection === 'closed'"
    )
    expect(agent_room.locator("#visio-ended")).to_be_visible()
    expect(agent_room.locator("#visio")).to_have_attribute("data-connection", "closed")
    recorded = e2e_server.shell_json(
        "from contactcenter.models import Event\n"
        f"e = Event.objects.filter(case__reference={paths['reference']!r}, type='visio').last()\n"
        "result = e and {'payload': e.payload, 'body': e.body}"
    )
    assert recorded["payload"]["end_reason"] == "citizen"
    assert {p["role"] for p in recorded["payload"]["participants"]} == {"citizen", "agent"}
    # The visio is on the case's timeline, as the citizen sees it in Firefox.
    summary = " ".join(recorded["body"].splitlines()[0].split())
    assert summary.startswith("Visio de ") and "Camille Martin" in summary
    firefox.goto(f"/espace/demandes/{paths['reference']}/")
    assert summary in " ".join(firefox.text("main").split())
