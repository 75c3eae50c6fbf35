"""The utterance detector every hearing channel shares (contactcenter.speech.Segmenter): cut
by energy at any rate, from bytes or samples, and ``configured`` without loading a model."""

from __future__ import annotations

import array
import math

from contactcenter import speech


def tone(seconds: float, loud: bool, rate: int = 16000) -> array.array:
    """A 440 Hz sine (loud) or a faint one (quiet, under the voice level)."""
    amplitude = 6000 if loud else 100
    return array.array(
        "h",
        (
            int(amplitude * math.sin(2 * math.pi * 440 * i / rate))
            for i in range(round(seconds * rate))
        ),
    )


def feed_in_chunks(segmenter: speech.Segmenter, samples: array.array, chunk: int) -> list[bytes]:
    out = []
    for start in range(0, len(samples), chunk):
        out += segmenter.feed(samples[start : start + chunk].tobytes())
    return out


def test_an_utterance_is_cut_after_its_silence_with_its_attack():
    segmenter = speech.Segmenter(16000)
    assert feed_in_chunks(segmenter, tone(1, False), 4000) == []
    assert not segmenter.started
    assert feed_in_chunks(segmenter, tone(1.5, True), 4000) == []
    assert segmenter.started
    assert feed_in_chunks(segmenter, tone(0.5, False), 4000) == []  # a pause between words
    done = feed_in_chunks(segmenter, tone(0.5, False), 4000)
    assert len(done) == 1 and not segmenter.started
    seconds = len(done[0]) / 2 / 16000
    assert 2.4 <= seconds <= 2.6  # 0.2 s before the start, 1.5 s of sound, 0.8 s of quiet


def test_several_utterances_in_one_feed_and_the_eight_second_cut():
    segmenter = speech.Segmenter(8000)
    stream = array.array("h")
    for _ in range(2):
        stream += tone(1, True, 8000) + tone(1, False, 8000)
    stream += tone(10, True, 8000)
    done = segmenter.feed(stream)
    assert len(done) == 3
    assert [round(len(pcm) / 2 / 8000, 1) for pcm in done[:2]] == [
        1.8,
        2.0,
    ]  # pre-roll: none, 0.2 s
    assert len(done[2]) / 2 / 8000 <= speech.MAX_UTTERANCE + 0.2
    assert segmenter.started  # the rest of the 10 s goes on


def test_a_click_does_not_start_an_utterance_and_odd_bytes_are_kept_whole():
    segmenter = speech.Segmenter(16000)
    click = tone(0.04, True)  # 40 ms: under the 60 ms that start one
    assert segmenter.feed(click + tone(2, False)) == []
    assert not segmenter.started
    assert segmenter.feed(b"\x01\x02\x03") == []  # the odd byte is dropped, not misaligned
    assert len(segmenter.pending) == 1


def test_configured_checks_the_backend_without_loading_it(settings, tmp_path):
    settings.ASR_BACKEND = ""
    assert speech.configured() is False
    settings.ASR_BACKEND = "faster-whisper"
    settings.ASR_MODEL = tmp_path
    assert speech.configured() is False  # no model.bin
    (tmp_path / "model.bin").write_bytes(b"")
    speech._load.cache_clear()
    assert speech.configured() is (
        __import__("importlib").util.find_spec("faster_whisper") is not None
    )
    assert speech._load.cache_info().currsize == 0  # nothing was loaded


def test_submit_refuses_beyond_the_pending_bound(monkeypatch):
    import threading

    release = threading.Event()
    started = []

    def slow(pcm, language="fr", hints=""):
        started.append(pcm)
        release.wait(5)
        return speech.Transcript("ok", 1.0)

    monkeypatch.setattr(speech, "transcribe", slow)
    futures = [speech.submit(b"\x00\x00") for _ in range(speech.MAX_PENDING)]
    assert all(f is not None for f in futures)
    assert speech.submit(b"\x00\x00") is None  # the worker is full: skipped, not queued
    release.set()
    assert [f.result(5).text for f in futures if f is not None] == ["ok"] * speech.MAX_PENDING
    again = speech.submit(b"\x00\x00")
    assert again is not None and again.result(5).text == "ok"
