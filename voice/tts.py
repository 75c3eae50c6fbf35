"""French speech synthesis of the prompts, cached as 8 kHz G.711 μ-law files.

espeak-ng (Debian package ``espeak-ng``) writes a 16-bit PCM WAV at its own rate (22 050 Hz);
it is resampled to 8 kHz and μ-law encoded with rtpsynth (the RTP library under sippy), then
stored as a headerless ``.ulaw`` file (Asterisk's format: one byte a sample, 8000 a second)
named by a hash of the text and the voice settings. A prompt is synthesised once: later calls
read the file. Uploaded recordings can be converted into the same format (docs/voice.md).
"""

from __future__ import annotations

import array
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

from django.conf import settings
from rtpsynth.RtpUtils import linear2ulaw, resample_linear
from sippy.Rtp.Core.AudioChunk import pcm16_from

SAMPLE_RATE = 8000


class SynthesisError(RuntimeError):
    pass


def cache_dir() -> Path:
    path = Path(settings.VOICE_PROMPT_CACHE)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _voice_args() -> list[str]:
    return ["-v", settings.VOICE_TTS_VOICE, "-s", str(settings.VOICE_TTS_SPEED)]


def cache_path(text: str) -> Path:
    key = "\0".join([text, *_voice_args(), "ulaw8k-1"])
    return cache_dir() / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.ulaw"


def _espeak() -> str:
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise SynthesisError("espeak-ng is not installed (apt-get install espeak-ng)")
    return binary


def wav_to_ulaw(data: bytes) -> bytes:
    """Mono 16-bit PCM WAV bytes -> 8 kHz μ-law bytes."""
    with wave.open(io.BytesIO(data)) as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise SynthesisError("expected mono 16-bit PCM audio")
        rate = wav.getframerate()
        pcm = pcm16_from(wav.readframes(wav.getnframes()))
    return pcm_to_ulaw(pcm, rate)


def recording_to_ulaw(data: bytes) -> bytes:
    """A recorded prompt (WAV, PCM 8 or 16 bits, mono or stereo, any rate) -> 8 kHz mono μ-law.
    Raises ``RecordingError`` for anything else (parsed by the stdlib ``wave``)."""
    try:
        with wave.open(io.BytesIO(data)) as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise RecordingError(str(exc)) from None
    if width not in (1, 2) or channels not in (1, 2) or not 4000 <= rate <= 96000:
        raise RecordingError(f"unsupported WAV: {width * 8} bits, {channels} channels, {rate} Hz")
    if width == 1:  # 8-bit WAV is unsigned
        samples = array.array("h", ((b - 128) << 8 for b in frames))
    else:
        samples = array.array("h")
        samples.frombytes(frames[: len(frames) // 2 * 2])
        if sys.byteorder == "big":
            samples.byteswap()
    if channels == 2:
        left, right = samples[::2], samples[1::2]
        samples = array.array("h", ((a + b) // 2 for a, b in zip(left, right, strict=False)))
    if len(samples) < rate // 10:
        raise RecordingError("the recording is shorter than 0.1 s")
    return pcm_to_ulaw(pcm16_from(samples.tobytes()), rate)


class RecordingError(ValueError):
    pass


def pcm_to_ulaw(pcm, rate: int) -> bytes:
    if rate != SAMPLE_RATE:
        pcm = resample_linear(pcm, rate, SAMPLE_RATE)
    return bytes(linear2ulaw(pcm))


def synthesise(text: str) -> bytes:
    """The prompt's μ-law audio, from the cache or synthesised now (then cached)."""
    path = cache_path(text)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    result = subprocess.run(
        [_espeak(), *_voice_args(), "--stdout", text],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0 or not result.stdout:
        raise SynthesisError(result.stderr.decode(errors="replace").strip() or "espeak-ng failed")
    audio = wav_to_ulaw(result.stdout)
    # Written under a temporary name then renamed: a concurrent reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(fd, "wb") as out:
        out.write(audio)
    os.replace(tmp, path)
    return audio


# Hold music: a soft arpeggio (A major, 300 ms a note with a fade) then a pause, 2.4 s a loop.
HOLD_NOTES = (440.0, 554.37, 659.25, 880.0, 659.25, 554.37)


def hold_music() -> bytes:
    """2.4 s of hold music (μ-law), played in a loop while an agent holds the call."""
    import math

    note = SAMPLE_RATE * 3 // 10
    samples = array.array("h")
    for hz in HOLD_NOTES:
        for i in range(note):
            envelope = min(1.0, i / 200, (note - i) / 400)
            samples.append(int(5000 * envelope * math.sin(2 * math.pi * hz * i / SAMPLE_RATE)))
    samples.extend([0] * (SAMPLE_RATE * 6 // 10))
    return pcm_to_ulaw(pcm16_from(samples.tobytes()), SAMPLE_RATE)
