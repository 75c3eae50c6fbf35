"""A real SIP phone for the tests: Debian's baresip, driven through its ctrl_tcp module
(netstring JSON commands), recording what it hears with its sndfile module. It sends a tone
(or silence) as its microphone, and can answer calls by itself (the agent's phone)."""

from __future__ import annotations

import array
import io
import json
import math
import shutil
import socket
import subprocess
import tempfile
import time
import wave
import weakref
from pathlib import Path

from tests.voice.process import free_port


class Phone:
    """One baresip, driven through its ctrl_tcp module (netstring JSON commands)."""

    def __init__(
        self,
        workdir: Path,
        number: str,
        *,
        tone: int = 0,
        auto_answer: bool = False,
        seconds: int = 90,
    ) -> None:
        self.dir = workdir / f"baresip-{number}"
        self.dir.mkdir(parents=True)
        # baresip's sndfile module builds the dump path in a 128-byte buffer and silently
        # writes nothing when it is longer: pytest's tmp paths under xdist can exceed it.
        self.rec = Path(tempfile.mkdtemp(prefix="baresip-rec-"))
        weakref.finalize(self, shutil.rmtree, self.rec, True)
        # The microphone: ``seconds`` of silence, or of a sine at ``tone`` Hz (heard by the other
        # side). baresip hangs up when its source file ends: long scenarios need more.
        source = self.dir / "source.wav"
        write_tone(source, tone, seconds)
        self.seconds = seconds
        self.ctrl_port = free_port()
        self.sip_port = free_port(tls_next=True)
        self.number = number
        (self.dir / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen 127.0.0.1:{self.sip_port}",
                    "audio_player alsa,null",
                    "audio_alert alsa,null",
                    f"audio_source aufile,{source}",
                    "module_path /usr/lib/baresip/modules",
                    "module g711.so",
                    "module aufile.so",
                    "module alsa.so",
                    "module sndfile.so",
                    "module_app account.so",
                    "module_app menu.so",
                    "module_app ctrl_tcp.so",
                    f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
                    f"snd_path {self.rec}",
                    "",
                ]
            )
        )
        answer = ";answermode=auto" if auto_answer else ""
        (self.dir / "accounts").write_text(
            f"<sip:{number}@127.0.0.1>;regint=0;audio_codecs=PCMU{answer}\n"
        )
        self.log = open(self.dir / "baresip.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            ["baresip", "-4", "-n", "127.0.0.1", "-f", str(self.dir)],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.log.flush()
                    raise AssertionError((self.dir / "baresip.log").read_text()) from None
                time.sleep(0.2)
        self.buffer = b""
        self.events: list[dict] = []

    def command(self, command: str, params: str = "") -> None:
        data = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.sock.sendall(str(len(data)).encode() + b":" + data + b",")

    def read_messages(self, timeout: float) -> None:
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return
        self.buffer += chunk
        while b":" in self.buffer:
            length, _, rest = self.buffer.partition(b":")
            size = int(length)
            if len(rest) < size + 1:
                return
            message = json.loads(rest[:size])
            self.buffer = rest[size + 1 :]
            if message.get("event"):
                self.events.append(message)

    def wait_event(self, kind: str, timeout: float = 15) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events:
                if event.get("type") == kind:
                    return event
            self.read_messages(0.2)
        raise AssertionError(f"no {kind} event; got {[e.get('type') for e in self.events]}")

    def send_digits(self, digits: str) -> None:
        for digit in digits:
            self.command("sndcode", digit)
            time.sleep(0.25)

    def switch_tone(self, hz: int) -> None:
        """Change the microphone during the call (baresip's ``ausrc`` command): from now on the
        other side hears a sine at ``hz`` (baresip reads the new file from its start)."""
        source = self.dir / f"source-{hz}.wav"
        if not source.exists():
            write_tone(source, hz, self.seconds)
        self.command("ausrc", f"aufile,{source}")

    def play(self, source: Path) -> None:
        """Change the microphone during the call to a WAV file (8 kHz 16-bit mono), read from
        its start (baresip's ``ausrc`` command)."""
        self.command("ausrc", f"aufile,{source}")

    def close(self) -> None:
        self.sock.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()

    def received_audio(self) -> array.array:
        (dump,) = self.rec.glob("dump-*-dec.wav")
        with wave.open(str(dump)) as wav:
            assert wav.getframerate() == 8000 and wav.getsampwidth() == 2
            samples = array.array("h", wav.readframes(wav.getnframes()))
        return samples


def write_tone(path: Path, hz: int, seconds: int) -> None:
    """``seconds`` of a sine at ``hz`` (silence for 0), 8 kHz 16-bit mono WAV."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        step = 2 * math.pi * hz / 8000
        samples = array.array("h", (int(8000 * math.sin(step * i)) for i in range(8000 * seconds)))
        wav.writeframes(samples.tobytes())


def loud_frames(samples: array.array, rate: int = 8000) -> int:
    """Number of 20 ms frames whose mean absolute amplitude is above the noise floor."""
    size = rate // 50
    count = 0
    for start in range(0, len(samples) - size + 1, size):
        frame = samples[start : start + size]
        if sum(abs(s) for s in frame) / size > 300:
            count += 1
    return count


def tone_frames(samples: array.array, hz: int, rate: int = 8000) -> int:
    """Number of loud 20 ms frames carrying a sine of ``hz`` (its zero crossings: 2 × hz a
    second, ±15 %): the other phone's tone, not the voice server's speech."""
    size = rate // 50
    expected = 2 * hz / 50
    count = 0
    for start in range(0, len(samples) - size + 1, size):
        frame = samples[start : start + size]
        if sum(abs(s) for s in frame) / size <= 300:
            continue
        crossings = sum(1 for a, b in zip(frame, frame[1:], strict=False) if (a < 0) != (b < 0))
        if abs(crossings - expected) <= 0.15 * expected:
            count += 1
    return count


def write_speech(
    path: Path, text: str, seconds: int, voice: str = "fr+m1", speed: int = 130
) -> None:
    """``text`` said by espeak-ng (French, ``voice``), then silence up to ``seconds``: an 8 kHz
    16-bit mono WAV for a phone's microphone (baresip hangs up when its source file ends)."""
    spoken = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
        capture_output=True,
        check=True,
    ).stdout
    with wave.open(io.BytesIO(spoken)) as wav:
        rate = wav.getframerate()
        source = array.array("h", wav.readframes(wav.getnframes()))
    import numpy as np

    count = len(source) * 8000 // rate
    narrow = np.interp(np.arange(count) * rate / 8000, np.arange(len(source)), source)
    samples = array.array("h", narrow.astype(np.int16).tobytes())
    samples.extend([0] * max(0, 8000 * seconds - len(samples)))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(samples.tobytes())


def agent_hangs_up(agent: Phone, caller: Phone, talk: float) -> None:
    """After ``talk`` seconds of conversation the agent hangs up: both phones see the call end,
    and the voice server is given the time to record it."""
    time.sleep(talk)
    agent.command("hangup")
    agent.wait_event("CALL_CLOSED")
    caller.wait_event("CALL_CLOSED")
    time.sleep(1.5)
