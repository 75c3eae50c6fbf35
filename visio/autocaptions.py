"""Automatic captions of a visio room (docs/visio.md, "Automatic captions"): the part of the
room's socket that hears.

While the room's captions are on, each media participant's browser sends its microphone's audio
as binary frames (16-bit mono PCM at 16 kHz). The socket cuts utterances out of it with
``speech.Segmenter`` and hands each one to the process's speech worker (``speech.submit``), off
the event loop; the text comes back as a caption of kind ``auto``, stored like the typed ones
and shown to everyone in the room with who spoke. The worker takes at most
``speech.MAX_PENDING`` utterances: one more is skipped and its speaker told
(``auto_captions_busy``), so that captions never lag behind the conversation. No audio is kept:
an utterance lives in memory until it is transcribed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async

from contactcenter import speech
from contactcenter.exceptions import DomainError
from contactcenter.sockets import CLOSE_FLOOD, RateLimiter

from . import conf, services
from .models import Caption, Participant
from .protocol import CLOSE_FORBIDDEN, CLOSE_MALFORMED, ProtocolError, clean_audio

logger = logging.getLogger("visio.autocaptions")


class AutoCaptions:
    """Mixed into the room's consumer, which sets ``participant``, ``group``, ``admitted`` and
    ``auto_captions`` (the room's choice, kept up to date by its events)."""

    participant: Participant | None
    group: str
    admitted: bool
    auto_captions: bool
    channel_layer: Any
    channel_name: str
    send_json: Callable[[dict], Awaitable[None]]
    close_socket: Callable[[int, str], Awaitable[None]]

    def setup_auto_captions(self) -> None:
        self.can_hear = speech.configured()
        self.segmenter = speech.Segmenter()
        self.audio_limiter = RateLimiter(conf.get("AUDIO_RATE"), conf.get("AUDIO_RATE_SECONDS"))
        self.hearing: set[asyncio.Task] = set()

    async def handle_audio(self, data: bytes, participant: Participant) -> None:
        """A binary frame: the microphone's audio, while the captions are on."""
        if not participant.is_media:
            raise ProtocolError(CLOSE_FORBIDDEN, "only the citizen and the agent send audio")
        pcm = clean_audio(data)
        if not self.can_hear:
            raise ProtocolError(CLOSE_MALFORMED, "automatic captions are unavailable")
        if not self.auto_captions or not self.admitted:
            self.segmenter = speech.Segmenter()  # frames sent before the switch-off: dropped
            return
        if not self.audio_limiter.allow():
            if self.audio_limiter.flooding():
                await self.close_socket(CLOSE_FLOOD, "audio flood")
            else:
                await self.send_json({"type": "error", "code": "audio_rate", "detail": ""})
            return
        for utterance in self.segmenter.feed(pcm):
            self.recognise(utterance, participant)

    def recognise(self, pcm: bytes, participant: Participant) -> None:
        future = speech.submit(pcm, conf.get("CAPTION_LANGUAGE"))
        if future is None:
            logger.info("visio: an utterance of %s skipped (recognition busy)", participant.role)
            task = asyncio.ensure_future(
                self.send_json({"type": "error", "code": "auto_captions_busy", "detail": ""})
            )
        else:
            task = asyncio.ensure_future(self.caption(future, time.monotonic(), participant))
        self.hearing.add(task)
        task.add_done_callback(self.hearing.discard)

    async def caption(self, future: Any, cut_at: float, participant: Participant) -> None:
        try:
            transcript = await asyncio.wrap_future(future)
        except speech.SpeechUnavailable as error:
            logger.warning("visio: automatic captions unavailable: %s", error)
            await self.send_json({"type": "error", "code": "auto_captions_unavailable"})
            return
        text = " ".join(transcript.text.split())[: conf.get("MAX_CAPTION_CHARS")]
        if not text or not self.auto_captions:
            return
        try:
            line = await database_sync_to_async(services.add_caption)(
                participant.pk, text, Caption.Kind.AUTO
            )
        except DomainError as error:  # the room ended meanwhile, too many lines
            logger.info("visio: automatic caption not kept: %s", error)
            return
        logger.info(
            "visio: automatic caption of %s: %.1f s of audio, %.2f s CPU, shown %.2f s after "
            "the utterance's end",
            participant.role,
            transcript.seconds,
            transcript.cpu_seconds,
            time.monotonic() - cut_at + speech.END_SILENCE,
        )
        await self.channel_layer.group_send(
            self.group,
            {
                "type": "visio.text",
                "sender": self.channel_name,
                "role": participant.role,
                "kind": Caption.Kind.AUTO,
                "id": line.pk,
                "text": line.text,
                "author": participant.user.first_name or participant.user.display_name,
            },
        )

    def stop_hearing(self) -> None:
        for task in list(self.hearing):
            task.cancel()
        self.segmenter = speech.Segmenter()
