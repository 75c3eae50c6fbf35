"""RTP for one call: G.711 μ-law prompts out, RFC 4733 telephone-events in.

The endpoint is sippy's ``RTPEPoint``: its output worker paces the 20 ms packets from
rtpsynth's C thread (the Python side only queues audio), its input stream is replaced here by
one that reads the telephone-event packets (RFC 4733) and hands the digits over; the caller's
voice is passed on to ``audio_in`` only when a consumer (speech recognition) is attached."""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from typing import Any

from rtpsynth.RtpUtils import ulaw2linear
from sippy.Rtp.Codecs.G711 import G711Codec
from sippy.Rtp.Conf import RTPConf
from sippy.Rtp.Core.AudioChunk import AudioChunk
from sippy.Rtp.EPoint import RTPEPoint
from sippy.Rtp.Handlers import RTPHandlers
from sippy.Rtp.Ingest import RTPInStream
from sippy.Rtp.Params import RTPParams

SAMPLE_RATE = 8000
CHUNK = SAMPLE_RATE // 10  # audio handed to the output worker 100 ms at a time
AHEAD = 2 * CHUNK  # at most 200 ms queued: a key press stops a prompt within 200 ms
DTMF_EVENTS = "0123456789*#ABCD"
BRIDGE_BACKLOG = 4 * CHUNK  # most audio queued towards a bridged leg (400 ms)


def parse_telephone_event(packet: bytes, event_pt: int) -> tuple[int, str] | None:
    """An RTP packet carrying an RFC 4733 telephone-event -> (RTP timestamp, digit)."""
    if len(packet) < 16 or packet[0] >> 6 != 2:
        return None
    if packet[1] & 0x7F != event_pt:
        return None
    offset = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:  # header extension
        if len(packet) < offset + 4:
            return None
        (words,) = struct.unpack_from("!H", packet, offset + 2)
        offset += 4 + 4 * words
    if len(packet) < offset + 4:
        return None
    event = packet[offset]
    if event >= len(DTMF_EVENTS):
        return None
    (timestamp,) = struct.unpack_from("!I", packet, 4)
    return timestamp, DTMF_EVENTS[event]


class EventInStream(RTPInStream):
    """Input stream: telephone-events become digits (once per event: its packets repeat the
    event's timestamp, the end packet three times); voice goes to the jitter buffer only when
    someone listens."""

    event_pt: int | None = None
    on_digit: Callable[[str], None] | None = None
    listen_voice = False
    _last_event_ts: int | None = None

    def rtp_received(self, data: bytes, address: Any, rtime: float) -> None:
        if self.event_pt is not None:
            event = parse_telephone_event(data, self.event_pt)
            if event is not None:
                timestamp, digit = event
                if timestamp != self._last_event_ts:
                    self._last_event_ts = timestamp
                    if self.on_digit is not None:
                        self.on_digit(digit)
                return
        if self.listen_voice:
            super().rtp_received(data, address, rtime)


class CallMedia:
    """The RTP endpoint of one call."""

    def __init__(
        self,
        remote: tuple[str, int] | None,
        *,
        event_pt: int | None,
        on_digit: Callable[[str], None],
        port_range: tuple[int, int],
        local_host: str,
    ) -> None:
        params = RTPParams(remote, out_ptime=20, out_sr=SAMPLE_RATE)
        params.codec = G711Codec
        handlers = RTPHandlers()
        handlers.rtp_instream_cls = EventInStream
        self.endpoint = RTPEPoint(
            RTPConf(*port_range), params, lambda chunk: None, handlers=handlers
        )
        self.endpoint.rsess.event_pt = event_pt
        self.endpoint.rsess.on_digit = on_digit
        self.local_host = local_host

    def retarget(self, remote: tuple[str, int]) -> None:
        """Send to (and accept from) a new address, after a re-INVITE."""
        if remote == self.endpoint.rtp_params.rtp_target:
            return
        params = RTPParams(remote, out_ptime=20, out_sr=SAMPLE_RATE)
        params.codec = G711Codec
        self.endpoint.update(params)

    @property
    def local_port(self) -> int:
        return int(self.endpoint.rtp_params.rtp_lport)

    def queued_frames(self) -> int:
        writer = self.endpoint.writer
        if writer is None:
            return 0
        received, processed = writer.get_frm_ctrs()
        return int(received - processed)

    def play(self, ulaw: bytes, stop: threading.Event) -> bool:
        """Send a prompt in real time. Returns False when ``stop`` was set before its end
        (a key press, a hang-up): what is already queued (≤ 200 ms) still plays."""
        for start in range(0, len(ulaw), CHUNK):
            while self.queued_frames() >= AHEAD:
                if stop.wait(0.02):
                    return False
            if stop.is_set():
                return False
            pcm = ulaw2linear(ulaw[start : start + CHUNK])
            self.endpoint.soundout(AudioChunk(pcm, SAMPLE_RATE))
        while self.queued_frames() > 0:
            if stop.wait(0.02):
                return False
        return True

    def forward(self, chunk: AudioChunk) -> None:
        """Send audio decoded from the other leg of a bridge (voice.bridge); dropped when more
        than ``BRIDGE_BACKLOG`` is queued, so that the delay never grows."""
        if self.queued_frames() < BRIDGE_BACKLOG:
            self.endpoint.soundout(chunk)

    def hear(self, consumer: Callable[[AudioChunk], None]) -> None:
        """Pass the caller's voice (decoded, 100 ms chunks) to ``consumer``."""
        self.endpoint.connect(consumer)
        self.endpoint.rsess.listen_voice = True

    def close(self) -> None:
        self.endpoint.shutdown()
