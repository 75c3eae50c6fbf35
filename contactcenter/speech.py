"""Speech recognition: one interface for every channel that hears people (the phone's
callbot, visio captions), with a backend the operator chooses (docs/operations.md, "Speech
recognition").

``transcribe(pcm, language="fr")`` takes 16-bit mono PCM at 16 kHz (``to_16k`` converts other
rates) and returns a ``Transcript`` (text and a confidence between 0 and 1). The backend is
named by ``ASR_BACKEND`` (env ``GUICHET_ASR_BACKEND``):

- ``""``: none. ``available()`` is False, ``transcribe`` raises ``SpeechUnavailable``; the
  channels fall back on what needs no recognition (the voice server's keypad menus).
- ``"faster-whisper"``: OpenAI's Whisper run offline on the CPU by CTranslate2 (the
  ``faster-whisper`` package, extra ``[asr]``), from the model directory ``ASR_MODEL`` (env
  ``GUICHET_ASR_MODEL``; ``manage.py install_asr_model`` installs Whisper "base" there).

The model is loaded once a process, on first use, and used by one thread at a time (the CPU is
the limit, not the lock)."""

from __future__ import annotations

import array
import logging
import math
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings

logger = logging.getLogger("contactcenter.speech")

SAMPLE_RATE = 16000
BACKENDS = ("", "faster-whisper")
# A segment Whisper itself thinks is no speech, with a low likelihood: dropped (Whisper
# otherwise "hears" subtitles credits in silence or noise).
NO_SPEECH_PROB = 0.6
NO_SPEECH_LOGPROB = -1.0
MAX_TOKENS = 96  # about 30 s of speech: more than any utterance the channels send


class SpeechUnavailable(RuntimeError):
    """No backend configured, or the configured one cannot be loaded."""


@dataclass(frozen=True)
class Transcript:
    text: str
    confidence: float  # 0..1: the mean token probability of the kept segments
    seconds: float = 0.0  # length of the audio heard
    cpu_seconds: float = 0.0  # processor time of the process during the recognition
    language: str = "fr"


class Recognizer(Protocol):
    name: str

    def transcribe(self, samples: Any, language: str, hints: str = "") -> Transcript: ...


class WhisperRecognizer:
    """faster-whisper on the CPU, 8-bit weights, greedy decoding (beam 1): the cheapest
    setting that keeps the base model usable on a shared 2-core machine."""

    name = "faster-whisper"

    def __init__(self, model_dir: str, threads: int) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise SpeechUnavailable(
                "faster-whisper is not installed (pip install -e '.[asr]')"
            ) from exc
        if not (Path(model_dir) / "model.bin").is_file():
            raise SpeechUnavailable(
                f"no Whisper model in {model_dir} (python manage.py install_asr_model)"
            )
        self.model = WhisperModel(
            model_dir, device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1
        )
        self.lock = threading.Lock()

    def transcribe(self, samples: Any, language: str, hints: str = "") -> Transcript:
        with self.lock:
            segments, _info = self.model.transcribe(
                samples,
                language=language,
                beam_size=1,
                # One greedy pass: no fallback at higher temperatures (each is a new decoding)
                # and a bounded output, so that noise cannot cost seconds of CPU.
                temperature=0.0,
                max_new_tokens=MAX_TOKENS,
                initial_prompt=hints or None,
                condition_on_previous_text=False,
                without_timestamps=True,
            )
            kept = [
                s
                for s in segments
                if not (s.no_speech_prob > NO_SPEECH_PROB and s.avg_logprob < NO_SPEECH_LOGPROB)
            ]
        text = " ".join(s.text.strip() for s in kept).strip()
        if not kept or not text:
            return Transcript("", 0.0, language=language)
        weights = [max(1, len(s.tokens)) for s in kept]
        logprob = sum(s.avg_logprob * w for s, w in zip(kept, weights, strict=True)) / sum(weights)
        return Transcript(text, round(min(1.0, math.exp(logprob)), 3), language=language)


@lru_cache(maxsize=4)
def _load(name: str, model: str, threads: int) -> Recognizer:
    if name == "faster-whisper":
        started = time.monotonic()
        recognizer = WhisperRecognizer(model, threads)
        logger.info(
            "speech recognition: %s from %s (%.1f s)", name, model, time.monotonic() - started
        )
        return recognizer
    raise SpeechUnavailable(f"unknown speech recognition backend {name!r} (one of {BACKENDS})")


def backend() -> Recognizer | None:
    """The configured recognizer (loaded once), None when no backend is configured. Raises
    ``SpeechUnavailable`` when the configured one cannot be loaded."""
    name = settings.ASR_BACKEND
    if not name:
        return None
    return _load(name, str(settings.ASR_MODEL), int(settings.ASR_THREADS))


def available() -> bool:
    """Whether speech can be recognised here (a backend configured and loadable)."""
    try:
        return backend() is not None
    except SpeechUnavailable as exc:
        logger.warning("speech recognition unavailable: %s", exc)
        return False


def transcribe(pcm: bytes, language: str = "fr", hints: str = "") -> Transcript:
    """What was said in ``pcm`` (16-bit mono little-endian PCM, 16 kHz). ``hints``: words
    likely to be said (the backend's context prompt), e.g. the answers a question expects."""
    recognizer = backend()
    if recognizer is None:
        raise SpeechUnavailable("no speech recognition backend is configured")
    samples = _floats(pcm)
    seconds = len(samples) / SAMPLE_RATE
    if not samples.size:
        return Transcript("", 0.0, 0.0, language=language)
    cpu = time.process_time()
    result = recognizer.transcribe(samples, language, hints)
    return Transcript(
        result.text,
        result.confidence,
        round(seconds, 2),
        round(time.process_time() - cpu, 2),
        language,
    )


def _floats(pcm: bytes) -> Any:
    import numpy as np

    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
    return samples.astype(np.float32) / 32768.0


def to_16k(pcm: bytes, rate: int) -> bytes:
    """16-bit mono PCM at ``rate`` -> the same at 16 kHz (linear interpolation; telephone
    audio at 8 kHz has nothing above 4 kHz to lose)."""
    if rate == SAMPLE_RATE:
        return pcm
    import numpy as np

    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32)
    if not samples.size:
        return b""
    count = int(len(samples) * SAMPLE_RATE / rate)
    positions = np.arange(count, dtype=np.float64) * rate / SAMPLE_RATE
    resampled = np.interp(positions, np.arange(len(samples)), samples)
    return bytes(np.clip(resampled, -32768, 32767).astype("<i2").tobytes())


def rms(samples: array.array) -> float:
    """Root mean square of native 16-bit samples (a frame's energy, for voice detection)."""
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))
