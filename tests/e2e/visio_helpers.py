"""What the visio browser tests share (tests/e2e/test_visio*.py): Chromium with a fake camera
and microphone, a room of the test's own (the ``visio_room`` fixture of tests/e2e/conftest.py),
the agent letting the citizen in, and the check that the other side's media arrive."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

# Chromium's fake camera (a test pattern, 640 × 480) and microphone (a beep).
FAKE_DEVICES = "--use-fake-device-for-media-stream"
# Camera and microphone granted without a prompt (without it, a context has only the
# permissions it is given).
NO_PROMPT = "--use-fake-ui-for-media-stream"
CAPTION = "Bonjour Camille, je vois votre dossier."

# A new case of Camille's (the demo's own cases stay as they are), assigned to Alice, with its
# room open: the case's reference and both participants' room paths.
ROOM = """
from django.utils import timezone
from contactcenter.models import Case, User
from contactcenter.services import open_case
from visio import services
alice = User.objects.get(email="alice.durand@guichet.example.fr")
model = Case.objects.filter(
    service__code="fiscalite", citizen__email="camille.martin@example.fr").first()
case, _ = open_case(citizen=model.citizen, topic=model.topic, kind=model.kind, channel="web",
                    subject="Visio de test", body="Visio de test", route=False)
Case.objects.filter(pk=case.pk).update(
    assigned_to=alice, status="in_progress", assigned_at=timezone.now())
case.refresh_from_db()
room = services.open_room(case, alice)
result = {"reference": case.reference,
          **{p.role: services.join_url(p) for p in room.participants.all()}}
"""


@contextmanager
def chromium(playwright_instance, *args: str, prompt: bool = False) -> Iterator:
    """Chromium with the fake camera and microphone (granted without a prompt unless
    ``prompt``), and ``args``."""
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[*CHROMIUM_ARGS, FAKE_DEVICES, *args, *([] if prompt else [NO_PROMPT])],
    )
    try:
        yield browser
    finally:
        browser.close()


@contextmanager
def own_room(e2e_server) -> Iterator[dict[str, str]]:
    """ROOM's case and room, deleted afterwards (its events and room with it)."""
    paths = e2e_server.shell_json(ROOM)
    try:
        yield paths
    finally:
        e2e_server.shell(
            "from contactcenter.models import Case\n"
            f"Case.objects.filter(reference={paths['reference']!r}).delete()"
        )


def admit(agent_room, citizen) -> None:
    """The agent lets the waiting citizen in: the citizen's page is in the call."""
    expect(agent_room.locator("#visio-waiting")).to_be_visible()
    agent_room.get_by_role("button", name="Faire entrer").click()
    expect(citizen.locator("#visio")).to_have_attribute("data-phase", "call")


def receiving(page) -> None:
    """The call is connected and the remote video plays real frames with bytes flowing."""
    root = page.locator("#visio")
    expect(root).to_have_attribute("data-connection", "connected", timeout=20_000)
    page.wait_for_function(
        "() => { const v = document.getElementById('visio-remote');"
        " return v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 2; }",
        timeout=15_000,
    )
    first = page.evaluate("() => window.guichetVisio.bytesReceived()")
    page.wait_for_function(
        "async (before) => (await window.guichetVisio.bytesReceived()) > before",
        arg=first,
        timeout=10_000,
    )
