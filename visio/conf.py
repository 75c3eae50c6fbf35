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
    # Captions kept for the written trace of one call.
    "MAX_CAPTIONS": 2000,
}


def get(name: str):
    return getattr(settings, f"VISIO_{name}", DEFAULTS[name])
