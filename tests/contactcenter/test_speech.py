"""The speech recognition interface (contactcenter/speech.py) with its real offline backend:
faster-whisper and the Whisper base model that ``bin/setup --test`` installs, on French speech
synthesised by espeak-ng (no SIP: the callbot's phone test is tests/voice/test_callbot_baresip)."""

from __future__ import annotations

import io
import shutil
import subprocess
import wave

import pytest
from django.conf import settings

from contactcenter import speech

# Same on every database: CI runs it in the SQLite phase only (docs/testing.md).
pytestmark = [pytest.mark.xdist_group("speech"), pytest.mark.backend_independent]

MODEL = settings.BASE_DIR / "var" / "asr" / "whisper-base"


def spoken(text: str, rate: int = 16000, speed: int = 140) -> bytes:
    """``text`` said by espeak-ng (a male French voice), as 16-bit mono PCM at ``rate``."""
    result = subprocess.run(
        ["espeak-ng", "-v", "fr+m3", "-s", str(speed), "--stdout", text],
        capture_output=True,
        check=True,
    )
    with wave.open(io.BytesIO(result.stdout)) as wav:
        pcm = wav.readframes(wav.getnframes())
        source = wav.getframerate()
    if rate == 16000:
        return speech.to_16k(pcm, source)
    import numpy as np

    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    count = int(len(samples) * rate / source)
    narrow = np.interp(np.arange(count) * source / rate, np.arange(len(samples)), samples)
    return narrow.astype("<i2").tobytes()


@pytest.fixture
def whisper(settings):
    pytest.importorskip("faster_whisper", reason="installed by bin/setup --test (extra asr)")
    if not (MODEL / "model.bin").is_file():
        pytest.skip("the model is installed by bin/setup --test (manage.py install_asr_model)")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is installed by bin/setup")
    settings.ASR_BACKEND = "faster-whisper"
    settings.ASR_MODEL = MODEL
    return speech.backend()


def test_without_a_backend_nothing_is_recognised(settings):
    settings.ASR_BACKEND = ""
    assert speech.backend() is None and not speech.available()
    with pytest.raises(speech.SpeechUnavailable):
        speech.transcribe(b"\0\0" * 16000)


def test_an_unknown_backend_or_a_missing_model_is_unavailable(settings, tmp_path):
    settings.ASR_BACKEND = "dragon"
    assert not speech.available()
    settings.ASR_BACKEND = "faster-whisper"
    settings.ASR_MODEL = tmp_path
    if shutil.which("espeak-ng") is not None:
        pytest.importorskip("faster_whisper")
    assert not speech.available()
    with pytest.raises(speech.SpeechUnavailable, match="install_asr_model"):
        speech.transcribe(b"\0\0" * 16000)


def test_to_16k_keeps_the_duration():
    one_second_8k = b"\x10\x00" * 8000
    resampled = speech.to_16k(one_second_8k, 8000)
    assert len(resampled) == 2 * 16000
    assert set(resampled[:200]) == {0x10, 0x00}
    assert speech.to_16k(one_second_8k, 16000) is one_second_8k
    assert speech.to_16k(b"", 8000) == b""


def test_french_speech_is_transcribed(whisper):
    pcm = spoken("Bonjour, je voudrais renouveler mon passeport.")
    result = speech.transcribe(pcm, language="fr")
    assert "passeport" in result.text.lower(), result
    assert "bonjour" in result.text.lower(), result
    assert 0.3 < result.confidence <= 1
    assert 2 < result.seconds < 5
    print(f"heard {result.text!r} ({result.seconds} s of audio, {result.cpu_seconds} s CPU)")


def test_telephone_audio_is_transcribed(whisper):
    """The callbot's audio: 8 kHz (G.711's band) brought back to 16 kHz. Whisper base hears
    espeak-ng less well there: a slower voice (at 110 words a minute the beam of 5 hears the
    sentence right with 0 to 0.5 s of silence after it; at 115 it hears "mon papa" without)."""
    pcm = spoken("Bonjour, je voudrais renouveler mon passeport.", 8000, speed=110)
    result = speech.transcribe(speech.to_16k(pcm, 8000))
    assert "renouveler mon passeport" in result.text.lower(), result
    print(f"heard {result.text!r} ({result.seconds} s of audio, {result.cpu_seconds} s CPU)")


def test_silence_is_no_speech(whisper):
    result = speech.transcribe(b"\0\0" * 16000 * 2)
    assert result.text == "" and result.confidence == 0
