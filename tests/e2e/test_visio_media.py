"""Visio media in real Chromium: the agent's screen share reaches the citizen; the citizen
switches to audio only and shares their screen once the agent allows it; a citizen without a
camera (camera permission denied, microphone granted) joins in audio only and is heard.

Screen capture: ``--use-fake-ui-for-media-stream`` with ``--auto-select-desktop-capture-source``
makes getDisplayMedia return Chromium's fake screen, whose frames are 16:9 (as high as the
viewport), unlike the fake camera's (640 × 480, 4:3), so the other side can tell which one it
receives.
"""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login
from tests.e2e.visio_helpers import admit, chromium, receiving

FAKE_SCREEN = "--auto-select-desktop-capture-source=Entire"


@pytest.fixture(scope="module")
def browser(playwright_instance):
    """Camera and microphone granted without a prompt; the fake screen for getDisplayMedia."""
    with chromium(playwright_instance, FAKE_SCREEN) as browser:
        yield browser


@pytest.fixture(scope="module")
def no_camera_browser(playwright_instance):
    """No fake permission prompt: a context gets only the permissions it is granted."""
    with chromium(playwright_instance, FAKE_SCREEN, prompt=True) as browser:
        yield browser


SCREEN = 16 / 9
CAMERA = 4 / 3  # the fake camera, 640 × 480


def wait_for_shape(page, ratio: float) -> None:
    """The remote video plays frames of this shape (the encoder may scale them down, keeping
    their shape: what tells a shared screen from the camera)."""
    page.wait_for_function(
        "(ratio) => { const v = document.getElementById('visio-remote');"
        " return v.videoHeight > 0 && Math.abs(v.videoWidth / v.videoHeight - ratio) < 0.05; }",
        arg=ratio,
        timeout=15_000,
    )


def join(new_page, demo, paths):
    agent_room = new_page(demo.agent_fiscalite)
    agent_room.goto(paths["agent"])
    citizen = new_page(demo.citizen)
    citizen.goto(paths["citizen"])
    admit(agent_room, citizen)
    receiving(citizen)
    return agent_room, citizen


def test_agent_shares_the_screen_and_the_citizen_receives_it(new_page, demo, visio_room):
    agent_room, citizen = join(new_page, demo, visio_room)
    wait_for_shape(citizen, CAMERA)
    share = agent_room.get_by_role("button", name="Partager mon écran")
    share.click()
    expect(share).to_have_attribute("aria-pressed", "true")
    sent = agent_room.evaluate("() => window.guichetVisio.sentVideo()")
    assert sent["screen"] is True
    expect(citizen.locator("#visio")).to_have_attribute("data-peer-video", "on")
    wait_for_shape(citizen, SCREEN)
    frames = citizen.evaluate(
        "() => document.getElementById('visio-remote').getVideoPlaybackQuality().totalVideoFrames"
    )
    citizen.wait_for_function(
        "(before) => document.getElementById('visio-remote')"
        ".getVideoPlaybackQuality().totalVideoFrames > before + 2",
        arg=frames,
    )
    # Stopping the share puts the camera back.
    share.click()
    expect(share).to_have_attribute("aria-pressed", "false")
    wait_for_shape(citizen, CAMERA)
    agent_room.get_by_role("button", name="Raccrocher").click()
    expect(citizen.locator("#visio-ended")).to_be_visible()


def test_citizen_goes_audio_only_and_shares_the_screen_with_the_agents_leave(
    new_page, demo, visio_room
):
    agent_room, citizen = join(new_page, demo, visio_room)
    # Audio only: the camera is released, the agent is told and receives no more video.
    citizen.get_by_role("button", name="Audio seul").click()
    expect(citizen.get_by_role("button", name="Audio seul")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert citizen.evaluate("() => window.guichetVisio.sentVideo()") is None
    expect(agent_room.locator("#visio-peer-audio-only")).to_be_visible()
    share = citizen.get_by_role("button", name="Partager mon écran")
    expect(share).to_be_hidden()
    # The agent's leave, given with the keyboard; the share goes out with the camera off.
    agent_room.get_by_label("Autoriser l’usager à partager son écran").focus()
    agent_room.keyboard.press("Space")
    expect(citizen.locator("#visio-notice")).to_contain_text("partager votre écran")
    share.click()
    expect(share).to_have_attribute("aria-pressed", "true")
    expect(agent_room.locator("#visio")).to_have_attribute("data-peer-video", "on")
    wait_for_shape(agent_room, SCREEN)
    # Withdrawing the leave stops the share.
    agent_room.get_by_label("Autoriser l’usager à partager son écran").focus()
    agent_room.keyboard.press("Space")
    expect(share).to_be_hidden()
    expect(agent_room.locator("#visio")).to_have_attribute("data-peer-video", "off")
    agent_room.get_by_role("button", name="Raccrocher").click()
    expect(citizen.locator("#visio-ended")).to_be_visible()


def test_citizen_without_camera_joins_in_audio_only_and_is_heard(
    new_page, no_camera_browser, check_a11y, demo, e2e_server, visio_room
):
    paths = visio_room
    agent_room = new_page(demo.agent_fiscalite)
    agent_room.goto(paths["agent"])
    context = no_camera_browser.new_context(
        base_url=e2e_server.url,
        locale="fr-FR",
        timezone_id="Europe/Paris",
        viewport={"width": 1280, "height": 900},
        permissions=["microphone"],  # the camera is denied
    )
    try:
        citizen = context.new_page()
        login(citizen, demo.citizen)
        citizen.goto(paths["citizen"])
        root = citizen.locator("#visio")
        expect(root).to_have_attribute("data-audio-only", "1")
        expect(citizen.locator("#visio-notice")).to_contain_text("audio seul")
        expect(citizen.get_by_role("button", name="Audio seul")).to_have_attribute(
            "aria-pressed", "true"
        )
        expect(citizen.get_by_role("button", name="Partager mon écran")).to_be_hidden()
        check_a11y(citizen)
        admit(agent_room, citizen)
        receiving(citizen)  # the citizen still sees the agent
        agent = agent_room.locator("#visio")
        expect(agent).to_have_attribute("data-connection", "connected", timeout=20_000)
        expect(agent).to_have_attribute("data-peer-video", "off")
        expect(agent_room.locator("#visio-peer-audio-only")).to_be_visible()
        heard = agent_room.evaluate("() => window.guichetVisio.bytesReceived('audio')")
        agent_room.wait_for_function(
            "async (before) => (await window.guichetVisio.bytesReceived('audio')) > before",
            arg=heard,
        )
        assert agent_room.evaluate("() => window.guichetVisio.bytesReceived('video')") < 2_000
        agent_room.get_by_role("button", name="Raccrocher").click()
        expect(root).to_have_attribute("data-ended", "1")
    finally:
        context.close()


# Records the page's RTCPeerConnection (test instrumentation only: the room's code and its
# quality check are untouched), so that the test can constrain the real video sender.
RECORD_PEERS = """(() => {
  const Native = window.RTCPeerConnection;
  window.__testPeers = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) { super(...args); window.__testPeers.push(this); }
  };
})();"""
# A real degraded link on the citizen's sending side: the video encoding capped at 8 kbit/s.
# Chromium then reports the outbound video as limited by bandwidth (qualityLimitationReason
# "bandwidth") at 0-1 frame/s, which is what the room's getStats check looks for.
CAP_VIDEO = """async () => {
  for (const pc of window.__testPeers) {
    for (const sender of pc.getSenders()) {
      if (!sender.track || sender.track.kind !== 'video') continue;
      const parameters = sender.getParameters();
      parameters.encodings[0].maxBitrate = 8000;
      await sender.setParameters(parameters);
    }
  }
}"""


def test_weak_connection_switches_to_audio_only_with_a_notice(new_page, demo, visio_room):
    paths = visio_room
    agent_room = new_page(demo.agent_fiscalite)
    agent_room.goto(paths["agent"])
    citizen = new_page(demo.citizen)
    citizen.add_init_script(RECORD_PEERS)
    citizen.goto(paths["citizen"])
    admit(agent_room, citizen)
    receiving(citizen)
    agent_room.wait_for_function(
        "async () => (await window.guichetVisio.bytesReceived('video')) > 0", timeout=15_000
    )
    root = citizen.locator("#visio")
    expect(root).not_to_have_attribute("data-audio-only", "1")
    citizen.evaluate(CAP_VIDEO)
    # Two bad checks in a row (every 4 s) after the encoder adapts: audio only, with a notice.
    expect(root).to_have_attribute("data-audio-only", "1", timeout=25_000)
    expect(citizen.locator("#visio-notice")).to_contain_text("Connexion faible")
    expect(citizen.get_by_role("button", name="Audio seul")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert citizen.evaluate("() => window.guichetVisio.sentVideo()") is None
    # The agent is told; video stops reaching them while audio keeps flowing (getStats).
    expect(agent_room.locator("#visio-peer-audio-only")).to_be_visible()
    video = agent_room.evaluate("() => window.guichetVisio.bytesReceived('video')")
    audio = agent_room.evaluate("() => window.guichetVisio.bytesReceived('audio')")
    agent_room.wait_for_function(
        "async (before) => (await window.guichetVisio.bytesReceived('audio')) > before + 2000",
        arg=audio,
        timeout=10_000,
    )
    # (a few hundred bytes of packets already in flight at most)
    assert agent_room.evaluate("() => window.guichetVisio.bytesReceived('video')") < video + 500
    agent_room.get_by_role("button", name="Raccrocher").click()
    expect(citizen.locator("#visio-ended")).to_be_visible()
