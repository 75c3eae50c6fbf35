"""The visio signalling protocol: close codes and frame validation (pure functions).

docs/visio.md documents the same codes and messages for client authors.
"""

from __future__ import annotations

import json
from typing import Any

from . import conf

CLOSE_ENDED = 4000  # the room ended (hang-up, expiry); not an error
# Not JSON, not an object, unknown type, bad fields; a binary frame that is not 16-bit PCM.
CLOSE_MALFORMED = 4400
CLOSE_UNAUTHENTICATED = 4401  # no logged-in user (also: the login session ended)
# A message this participant may not send (now): a citizen's caption, an interpreter's signal,
# a citizen's signal before being admitted, a screen shared without the agent's leave.
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404  # no such room for this user (someone else's token, unknown token)
CLOSE_REPLACED = 4409  # the same participant joined from another tab
CLOSE_TOO_LARGE = 4413  # a frame above VISIO_MAX_FRAME_BYTES (audio: VISIO_AUDIO_MAX_BYTES)

MESSAGE_TYPES = frozenset(
    {
        "signal",
        "media",
        "caption",
        "keep_captions",
        "chat",
        "keep_chat",
        "admit",
        "allow_screen",
        "auto_captions",
        "hangup",
        "ping",
    }
)
DESCRIPTION_TYPES = frozenset({"offer", "answer"})
MAX_SDP_CHARS = 32 * 1024
MAX_CANDIDATE_CHARS = 1024


class ProtocolError(Exception):
    def __init__(self, code: int, detail: str = ""):
        super().__init__(detail)
        self.code = code


def parse_frame(text: str | None) -> dict[str, Any]:
    """One client text frame as a dict with a known ``type``, or ProtocolError."""
    limit = conf.get("MAX_FRAME_BYTES")
    if text is None:
        raise ProtocolError(CLOSE_MALFORMED, "empty frame")
    if len(text) > limit or len(text.encode("utf-8")) > limit:
        raise ProtocolError(CLOSE_TOO_LARGE, "frame too large")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ProtocolError(CLOSE_MALFORMED, "not JSON") from None
    if not isinstance(data, dict) or data.get("type") not in MESSAGE_TYPES:
        raise ProtocolError(CLOSE_MALFORMED, "expected an object with a known 'type'")
    return data


def clean_audio(data: bytes) -> bytes:
    """A binary frame: microphone audio for the automatic captions, 16-bit mono PCM at 16 kHz
    (a whole number of samples, at most ``VISIO_AUDIO_MAX_BYTES``)."""
    if len(data) > conf.get("AUDIO_MAX_BYTES"):
        raise ProtocolError(CLOSE_TOO_LARGE, "audio frame too large")
    if not data or len(data) % 2:
        raise ProtocolError(CLOSE_MALFORMED, "audio frames are 16-bit PCM samples")
    return data


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _optional(value: Any, kind: type, limit: int = 256) -> Any:
    if value is None:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ProtocolError(CLOSE_MALFORMED, "bad candidate field")
    if isinstance(value, str) and len(value) > limit:
        raise ProtocolError(CLOSE_MALFORMED, "candidate field too long")
    if isinstance(value, int) and not 0 <= value < 1024:
        raise ProtocolError(CLOSE_MALFORMED, "bad m-line index")
    return value


def clean_signal(data: dict[str, Any]) -> dict[str, Any]:
    """Keep only a session description or an ICE candidate, with their known fields."""
    if "description" in data:
        description = data["description"]
        if (
            not isinstance(description, dict)
            or description.get("type") not in DESCRIPTION_TYPES
            or not isinstance(description.get("sdp"), str)
            or not description["sdp"]
            or len(description["sdp"]) > MAX_SDP_CHARS
        ):
            raise ProtocolError(CLOSE_MALFORMED, "bad session description")
        return {"description": {"type": description["type"], "sdp": description["sdp"]}}
    if "candidate" in data:
        candidate = data["candidate"]
        if candidate is None:  # end of candidates
            return {"candidate": None}
        if not isinstance(candidate, dict) or not isinstance(candidate.get("candidate"), str):
            raise ProtocolError(CLOSE_MALFORMED, "bad ICE candidate")
        if len(candidate["candidate"]) > MAX_CANDIDATE_CHARS:
            raise ProtocolError(CLOSE_MALFORMED, "ICE candidate too long")
        return {
            "candidate": {
                "candidate": candidate["candidate"],
                "sdpMid": _optional(candidate.get("sdpMid"), str),
                "sdpMLineIndex": _optional(candidate.get("sdpMLineIndex"), int),
                "usernameFragment": _optional(candidate.get("usernameFragment"), str),
            }
        }
    raise ProtocolError(CLOSE_MALFORMED, "a signal carries a description or a candidate")


def clean_media(data: dict[str, Any]) -> dict[str, bool]:
    state = {}
    for key in ("audio", "video", "screen"):
        value = data.get(key, False)
        if not isinstance(value, bool):
            raise ProtocolError(CLOSE_MALFORMED, f"'{key}' must be a boolean")
        state[key] = value
    return state


def clean_flag(data: dict[str, Any]) -> bool:
    value = data.get("value")
    if not isinstance(value, bool):
        raise ProtocolError(CLOSE_MALFORMED, "'value' must be a boolean")
    return value


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
