"""Visio settings, read at call time so that tests can override them.

``VISIO_ICE_SERVERS``: the STUN/TURN servers given to both browsers (RTCPeerConnection's
``iceServers``), from the environment in contactcenter/settings.py; empty on loopback, where
host candidates connect. Every other value can be set in settings (``VISIO_<NAME>``).
"""

from datetime import timedelta

from django.conf import settings

DEFAULTS = {
    "ICE_SERVERS": [],
    # A room not ended by a hang-up closes this long after it was opened.
    "ROOM_TTL": timedelta(hours=2),
    # Any websocket frame above this size is refused (close 4413): an SDP is a few kB.
    "MAX_FRAME_BYTES": 64 * 1024,
    # A citizen may enter a room with an appointment time (not_before) this long before it.
    "EARLY_ENTRY": timedelta(minutes=15),
    # Longest caption line.
    "MAX_CAPTION_CHARS": 500,
    # Captions kept for the written trace of one call (and as many chat messages).
    "MAX_CAPTIONS": 2000,
    # Text chat beside the video: longest message, and at most CHAT_RATE messages per
    # CHAT_RATE_SECONDS per socket (more are refused with an error frame; a socket that keeps
    # sending is closed 4429).
    "MAX_CHAT_CHARS": 1000,
    "CHAT_RATE": 5,
    "CHAT_RATE_SECONDS": 10.0,
    # Automatic captions: a binary frame is 16-bit mono PCM at 16 kHz (the browser sends 250 ms,
    # 8000 bytes), at most AUDIO_MAX_BYTES, and at most AUDIO_RATE frames per AUDIO_RATE_SECONDS
    # per socket (more are dropped with an error frame; a socket that keeps sending is closed
    # 4429). The language the speech is recognised in.
    "AUDIO_MAX_BYTES": 16000,
    "AUDIO_RATE": 12,
    "AUDIO_RATE_SECONDS": 2.0,
    "CAPTION_LANGUAGE": "fr",
}


def get(name: str):
    return getattr(settings, f"VISIO_{name}", DEFAULTS[name])
