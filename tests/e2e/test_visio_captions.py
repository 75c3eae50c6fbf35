"""Automatic captions in real Chromium with real speech recognition (faster-whisper, the
Whisper base model that bin/setup --test installs).

The citizen's fake microphone plays a French sentence synthesised by espeak-ng
(``--use-file-for-fake-audio-capture``, looped), the agent's plays silence. Once both are in
the call the citizen switches the automatic captions on: the citizen's page sends its audio to
the server, which cuts the utterance, transcribes it and shows it to the agent, labelled as an
automatic caption of the citizen, in the captions log (aria-live polite)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import wave

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.e2e.conftest import ASR_MODEL, login
from tests.e2e.visio_helpers import admit, chromium, own_room

# Said by espeak-ng, transcribed directly by contactcenter.speech, Whisper base hears "Bonjour, je
# voudrais renouveler mon passeport" (not the rest); through the browser's audio processing
# (echo cancellation, noise suppression) "je voudrais" stays, "passeport" not always.
SENTENCE = "Bonjour, je voudrais renouveler mon passeport avant les vacances d'été."

pytestmark = [
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="bin/setup --test installs it"),
    pytest.mark.skipif(not ASR_MODEL.is_file(), reason="bin/setup --test installs the model"),
    # Loading the model takes seconds of CPU: once, on the production stack (PostgreSQL).
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="runs in the PostgreSQL phase",
    ),
]


def microphone(path, text: str = "") -> str:
    """A 16-bit mono WAV for Chromium's fake microphone, which loops it: ``text`` said by
    espeak-ng between 0.5 s and 1.5 s of silence (the pause that ends an utterance), or 3 s of
    silence."""
    spoken = b""
    rate = 22050
    if text:
        subprocess.run(["espeak-ng", "-v", "fr+m3", "-s", "140", "-w", str(path), text], check=True)
        with wave.open(str(path)) as wav:
            rate = wav.getframerate()
            spoken = wav.readframes(wav.getnframes())
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(bytes(rate) + spoken + bytes(3 * rate if text else 6 * rate))
    return str(path)


def microphone_file(wav: str) -> str:
    return f"--use-file-for-fake-audio-capture={wav}"


@pytest.fixture(scope="module")
def browser(playwright_instance, tmp_path_factory):
    """The agent's Chromium: a silent microphone."""
    wav = microphone(tmp_path_factory.mktemp("mic") / "q.wav")
    with chromium(playwright_instance, microphone_file(wav)) as browser:
        yield browser


@pytest.fixture(scope="module")
def speaking_browser(playwright_instance, tmp_path_factory):
    """The citizen's Chromium: the microphone says SENTENCE."""
    wav = microphone(tmp_path_factory.mktemp("mic") / "speech.wav", SENTENCE)
    with chromium(playwright_instance, microphone_file(wav)) as browser:
        yield browser


def test_the_citizens_words_reach_the_agent_as_automatic_captions(
    new_page, speaking_browser, check_a11y, demo, e2e_server
):
    with own_room(e2e_server) as paths:
        agent_room = new_page(demo.agent_fiscalite)
        agent_room.goto(paths["agent"])
        speak(agent_room, speaking_browser, paths, check_a11y, demo, e2e_server)


def speak(agent_room, speaking_browser, paths, check_a11y, demo, e2e_server) -> None:
    context = speaking_browser.new_context(
        base_url=e2e_server.url,
        locale="fr-FR",
        timezone_id="Europe/Paris",
        viewport={"width": 1280, "height": 900},
    )
    try:
        citizen = context.new_page()
        errors: list[str] = []

        def on_console(message) -> None:
            if message.type == "error":
                errors.append(message.text)

        citizen.on("console", on_console)
        login(citizen, demo.citizen)
        citizen.goto(paths["citizen"])
        admit(agent_room, citizen)  # captions need the call, not its media
        toggle = citizen.get_by_label(re.compile("^Sous-titres automatiques"))
        expect(toggle).not_to_be_checked()
        toggle.focus()
        citizen.keyboard.press("Space")
        expect(agent_room.get_by_label(re.compile("^Sous-titres automatiques"))).to_be_checked()
        started = time.monotonic()
        captions = agent_room.get_by_role("log", name="Sous-titres")
        heard = re.compile("voudrais|passeport|renouvel", re.I)
        line = captions.locator(".visio-caption--auto").filter(has_text=heard).first
        expect(line).to_be_visible(timeout=30_000)
        shown = time.monotonic() - started
        expect(line).to_contain_text("Sous-titres automatiques — Usager :")
        expect(captions).to_have_attribute("aria-live", "polite")
        check_a11y(agent_room, layout=False)
        log = e2e_server.log_tail(20_000)
        measured = re.findall(r"automatic caption of citizen: .*", log)
        print(f"caption shown {shown:.1f} s after the switch;", *measured[-2:], sep="\n")
        citizen.get_by_role("button", name="Raccrocher").click()
        expect(agent_room.locator("#visio-ended")).to_be_visible()
        assert errors == []
    finally:
        context.close()
