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
the limit, not the lock): ``WORKER`` is the process's one recognition thread, and ``submit``
gives it an utterance unless ``MAX_PENDING`` already wait (a live channel skips an utterance
rather than falling behind).

``Segmenter`` cuts utterances out of a stream of audio by its energy, the same way for every
channel: an utterance starts with 60 ms of sound above ``VOICE_LEVEL`` (with 200 ms kept before,
the first syllable's attack) and ends after 0.8 s of quiet or 8 s in all."""

from __future__ import annotations

import array
import logging
import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
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
BEAM_SIZE = 5
MAX_TOKENS = 96  # about 30 s of speech: more than any utterance the channels send
# The utterance detector (Segmenter): RMS of a 20 ms frame of 16-bit samples above which it is
# speech, how long a sound starts an utterance, the quiet that ends it, its longest length and
# what is kept before its start.
VOICE_LEVEL = 500
FRAME_SECONDS = 0.02
START_SECONDS = 0.06
END_SILENCE = 0.8
MAX_UTTERANCE = 8.0
PRE_ROLL = 0.2
MAX_PENDING = 2  # utterances waiting for the worker before ``submit`` refuses more

WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="speech")
_pending = threading.BoundedSemaphore(MAX_PENDING)


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
    """faster-whisper on the CPU, 8-bit weights, a beam of 5 and one pass: the base model stays
    usable on a shared 2-core machine, and its words don't flip on a few milliseconds of
    audio."""

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
                # A beam of 5: a greedy pass flips words on a few milliseconds more or less of
                # audio ("renouveler mon passeport" heard as "renouver", or "mon papa") where the
                # beam keeps them; it costs no measurable time on a short utterance, since the
                # encoder dominates. No fallback at higher temperatures (each is a new
                # decoding) and a bounded output, so that noise cannot cost seconds of CPU.
                beam_size=BEAM_SIZE,
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


def submit(pcm: bytes, language: str = "fr", hints: str = "") -> Future[Transcript] | None:
    """``transcribe`` in ``WORKER``; None (nothing queued) when ``MAX_PENDING`` utterances
    already wait or run."""
    if not _pending.acquire(blocking=False):
        return None

    def run() -> Transcript:
        try:
            return transcribe(pcm, language, hints)
        finally:
            _pending.release()

    try:
        return WORKER.submit(run)
    except RuntimeError:  # the interpreter is shutting down
        _pending.release()
        raise


def warm_up() -> None:
    """Load the backend in ``WORKER`` (not the caller's thread) if it is not loaded yet: a
    channel that is about to hear calls it so that the first utterance does not wait for it."""
    if settings.ASR_BACKEND and not _load.cache_info().currsize:
        WORKER.submit(available)


def configured() -> bool:
    """Whether a backend is configured with what it needs installed, without loading it (for a
    page that offers recognition: the model loads at the first utterance)."""
    name = settings.ASR_BACKEND
    if name != "faster-whisper":
        return False
    from importlib.util import find_spec

    return (
        find_spec("faster_whisper") is not None
        and (Path(settings.ASR_MODEL) / "model.bin").is_file()
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


class Segmenter:
    """Utterances cut from 16-bit mono audio at ``rate`` by its energy (not thread-safe: one
    feeder). ``feed`` returns the utterances its samples completed (16-bit PCM at ``rate``);
    ``started`` tells whether one is under way."""

    def __init__(
        self,
        rate: int = SAMPLE_RATE,
        *,
        level: float = VOICE_LEVEL,
        end_silence: float = END_SILENCE,
        max_seconds: float = MAX_UTTERANCE,
    ) -> None:
        self.rate = rate
        self.frame_samples = round(rate * FRAME_SECONDS)
        self.level = level
        self.start_frames = round(START_SECONDS / FRAME_SECONDS)
        self.end_frames = round(end_silence / FRAME_SECONDS)
        self.max_frames = round(max_seconds / FRAME_SECONDS)
        self.pre_roll = round(PRE_ROLL / FRAME_SECONDS)
        self.pending = array.array("h")
        self.frames: list[array.array] = []
        self.started = False
        self.loud = 0
        self.quiet = 0

    def feed(self, samples: array.array | bytes) -> list[bytes]:
        if isinstance(samples, bytes | bytearray | memoryview):
            chunk = array.array("h")
            chunk.frombytes(bytes(samples[: len(samples) // 2 * 2]))
            samples = chunk
        self.pending.extend(samples)
        done = []
        size = self.frame_samples
        while len(self.pending) >= size:
            frame = self.pending[:size]
            del self.pending[:size]
            utterance = self.frame(frame)
            if utterance is not None:
                done.append(utterance)
        return done

    def frame(self, frame: array.array) -> bytes | None:
        loud = rms(frame) > self.level
        self.frames.append(frame)
        if not self.started:
            self.loud = self.loud + 1 if loud else 0
            if self.loud >= self.start_frames:
                self.started = True
                self.quiet = 0
            else:
                del self.frames[: -self.pre_roll]
            return None
        self.quiet = 0 if loud else self.quiet + 1
        if self.quiet >= self.end_frames or len(self.frames) >= self.max_frames:
            return self.cut()
        return None

    def cut(self) -> bytes:
        """The utterance under way (or what is kept before one) as PCM; starts afresh."""
        samples = array.array("h")
        for frame in self.frames:
            samples.extend(frame)
        self.frames = []
        self.started = False
        self.loud = self.quiet = 0
        return samples.tobytes()
