"""The co-browsing wire protocol: close codes, message validation and server-side masking.

Pure functions (no database, no channel layer) so that they are easy to test and to reuse from
the benchmark. docs/cobrowse.md documents the same codes and messages for client authors.
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import conf

# --- Close codes (4000-4999 are application codes in RFC 6455) --------------------------------
CLOSE_ENDED = 4000  # the session ended (either side, logout, timeout); not an error
CLOSE_MALFORMED = 4400  # not JSON, not an object, unknown citizen message, bad fields, binary
CLOSE_UNAUTHENTICATED = 4401  # no logged-in user on the socket
CLOSE_FORBIDDEN = 4403  # wrong role, or a message type this side may not send (agent: click...)
CLOSE_NOT_FOUND = 4404  # no such session, or not this user's session
CLOSE_REPLACED = 4409  # the session was taken over by another tab of the citizen
CLOSE_TOO_LARGE = 4413  # a frame above COBROWSE_MAX_FRAME_BYTES, or a chunked message too big
CLOSE_CONSENT_REQUIRED = 4428  # page frames sent before the citizen accepted the session

CLOSE_CODES = {
    CLOSE_ENDED: "session ended",
    CLOSE_MALFORMED: "malformed frame",
    CLOSE_UNAUTHENTICATED: "authentication required",
    CLOSE_FORBIDDEN: "forbidden",
    CLOSE_NOT_FOUND: "unknown session",
    CLOSE_REPLACED: "session moved to another tab",
    CLOSE_TOO_LARGE: "frame too large",
    CLOSE_CONSENT_REQUIRED: "consent required",
}

# What the agent may send. Anything else closes the agent's socket with CLOSE_FORBIDDEN.
AGENT_MESSAGE_TYPES = frozenset({"pointer", "highlight", "end"})
CITIZEN_MESSAGE_TYPES = frozenset(
    {"ping", "resume", "accept", "decline", "rrweb", "chunk", "page", "end"}
)


class ProtocolError(Exception):
    """A frame the server refuses; ``code`` is the websocket close code to use."""

    def __init__(self, code: int, detail: str = ""):
        super().__init__(detail or CLOSE_CODES.get(code, ""))
        self.code = code
        self.detail = detail


def frame_too_large(text: str) -> bool:
    limit = conf.get("MAX_FRAME_BYTES")
    # A str of n characters is between n and 4n bytes in UTF-8: only encode when in doubt.
    if len(text) > limit:
        return True
    if len(text) * 4 <= limit:
        return False
    return len(text.encode("utf-8")) > limit


def parse_frame(text: str | None, bytes_data: bytes | None = None) -> dict[str, Any]:
    """Decode one client frame into a dict with a string ``type``, or raise ProtocolError."""
    if text is None:
        if bytes_data is not None and len(bytes_data) > conf.get("MAX_FRAME_BYTES"):
            raise ProtocolError(CLOSE_TOO_LARGE)
        raise ProtocolError(CLOSE_MALFORMED, "binary frames are not accepted")
    if frame_too_large(text):
        raise ProtocolError(CLOSE_TOO_LARGE)
    data = loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolError(CLOSE_MALFORMED, "expected an object with a string 'type'")
    return data


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def loads(text: str) -> Any:
    """Strict JSON (no NaN/Infinity), with nesting too deep for Python reported as malformed."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ProtocolError(CLOSE_MALFORMED, "invalid JSON")


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def parse_session_id(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise ProtocolError(CLOSE_MALFORMED, "invalid session id")


def _node_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ProtocolError(CLOSE_MALFORMED, "invalid node id")
    return value


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(CLOSE_MALFORMED, "invalid offset")
    value = float(value)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ProtocolError(CLOSE_MALFORMED, "offset must be between 0 and 1")
    return round(value, 4)


def clean_agent_message(data: dict[str, Any]) -> dict[str, Any]:
    """Validate an agent message and rebuild it from its known fields only.

    The result is what the citizen's page receives: nothing the agent adds beyond these fields
    ever reaches it.
    """
    kind = data["type"]
    if kind not in AGENT_MESSAGE_TYPES:
        raise ProtocolError(CLOSE_FORBIDDEN, f"agents may not send {kind!r}")
    if kind == "pointer":
        return {
            "type": "pointer",
            "node": _node_id(data.get("node")),
            "x": _fraction(data.get("x")),
            "y": _fraction(data.get("y")),
        }
    if kind == "highlight":
        return {"type": "highlight", "node": _node_id(data.get("node"))}
    return {"type": "end"}


def clean_page_path(value: Any) -> str:
    """Keep the path of a page URL only: no scheme, host, query string or fragment."""
    if not isinstance(value, str) or not value or len(value) > 2000:
        raise ProtocolError(CLOSE_MALFORMED, "invalid page")
    path = urlsplit(value).path
    if not path.startswith("/"):
        raise ProtocolError(CLOSE_MALFORMED, "invalid page")
    return path[:300]


def clean_chunk(data: dict[str, Any]) -> tuple[int, int, int, str]:
    """A piece of a large rrweb message: (message id, index, total, text)."""
    try:
        ident, index, total, part = data["id"], data["index"], data["total"], data["data"]
    except KeyError:
        raise ProtocolError(CLOSE_MALFORMED, "incomplete chunk")
    for number in (ident, index, total):
        if isinstance(number, bool) or not isinstance(number, int):
            raise ProtocolError(CLOSE_MALFORMED, "invalid chunk")
    if not isinstance(part, str) or total < 1:
        raise ProtocolError(CLOSE_MALFORMED, "invalid chunk")
    if total > conf.get("MAX_CHUNKS"):
        raise ProtocolError(CLOSE_TOO_LARGE, "too many chunks")
    if not 0 <= index < total:
        raise ProtocolError(CLOSE_MALFORMED, "invalid chunk index")
    return ident, index, total, part


class ChunkAssembler:
    """Reassemble one chunked rrweb message at a time, within MAX_CHUNKED_BYTES."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.ident: int | None = None
        self.parts: list[str] = []
        self.size = 0

    def add(self, data: dict[str, Any]) -> str | None:
        ident, index, total, part = clean_chunk(data)
        if index == 0:
            self.reset()
            self.ident = ident
        if ident != self.ident or index != len(self.parts):
            self.reset()
            raise ProtocolError(CLOSE_MALFORMED, "chunks out of order")
        self.size += len(part)
        if self.size > conf.get("MAX_CHUNKED_BYTES"):
            self.reset()
            raise ProtocolError(CLOSE_TOO_LARGE)
        self.parts.append(part)
        if len(self.parts) < total:
            return None
        text = "".join(self.parts)
        self.reset()
        return text


# --- rrweb events: validation and masking -------------------------------------------------------
# rrweb EventType / IncrementalSource / NodeType values (rrweb 2.x, @rrweb/types).
EV_DOM_CONTENT_LOADED, EV_LOAD, EV_FULL_SNAPSHOT, EV_INCREMENTAL, EV_META = 0, 1, 2, 3, 4
SRC_MUTATION, SRC_INPUT, SRC_CANVAS = 0, 5, 9
NODE_ELEMENT = 2
# Kept sources: mutation, mouse move, mouse interaction, scroll, viewport resize, input (masked),
# touch move, media, style sheet rules, font, drag, style declaration, selection, adopted
# style sheets, custom elements. Dropped: canvas (never recorded here) and console logs.
ALLOWED_SOURCES = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 13, 14, 15, 16})
ALLOWED_EVENT_TYPES = frozenset({EV_DOM_CONTENT_LOADED, EV_LOAD, EV_FULL_SNAPSHOT, EV_INCREMENTAL})

# Inputs whose value is a label chosen by the site, not something the citizen typed.
UNMASKED_INPUT_TYPES = frozenset({"submit", "button", "reset", "checkbox", "radio", "image"})
VALUE_TAGS = frozenset({"input", "textarea", "select", "option"})
# Attributes that may carry secrets of the citizen's session (the CSRF token for htmx).
DROPPED_ATTRIBUTES = frozenset({"hx-headers", "hx-vals", "rr_dataURL"})
BLOCK_ATTRIBUTE = "data-cobrowse-mask"
MASK_CHAR = "*"


def mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return MASK_CHAR * min(len(value), 64)
    return value


def _scrub_attributes(tag: str, attributes: dict[str, Any]) -> None:
    for name in DROPPED_ATTRIBUTES.intersection(attributes):
        del attributes[name]
    if "value" in attributes:
        input_type = str(attributes.get("type", "text")).lower()
        if tag in VALUE_TAGS and not (tag == "input" and input_type in UNMASKED_INPUT_TYPES):
            attributes["value"] = mask_value(attributes["value"])


def _scrub_node(node: Any) -> None:
    # Walk iteratively: a hostile page could be nested deeper than Python's recursion limit.
    stack = [node]
    while stack:
        current = stack.pop()
        if not isinstance(current, dict):
            continue
        children = current.get("childNodes")
        if current.get("type") == NODE_ELEMENT:
            tag = str(current.get("tagName", "")).lower()
            attributes = current.get("attributes")
            if isinstance(attributes, dict):
                _scrub_attributes(tag, attributes)
                if BLOCK_ATTRIBUTE in attributes:
                    # Blocked by the recorder already; never let its content through anyway.
                    current["childNodes"] = []
                    continue
        if isinstance(children, list):
            stack.extend(children)


def scrub_events(events: Any) -> list[dict[str, Any]]:
    """Validate a list of rrweb events and mask what must never reach the agent.

    The recorder already masks inputs (``maskAllInputs``) and blocks ``[data-cobrowse-mask]``;
    this is the server's second line: input values (typed, in snapshots and in mutations) are
    replaced by asterisks, session secrets in attributes are dropped, blocked elements lose
    their content, query strings are cut from the page URL, unknown event kinds are dropped.
    """
    if not isinstance(events, list) or len(events) > conf.get("MAX_EVENTS_PER_FRAME"):
        raise ProtocolError(CLOSE_MALFORMED, "expected a list of events")
    kept = []
    for event in events:
        if not isinstance(event, dict):
            raise ProtocolError(CLOSE_MALFORMED, "invalid event")
        kind, timestamp, data = event.get("type"), event.get("timestamp"), event.get("data")
        if isinstance(kind, bool) or not isinstance(kind, int):
            raise ProtocolError(CLOSE_MALFORMED, "invalid event type")
        if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
            raise ProtocolError(CLOSE_MALFORMED, "invalid event timestamp")
        if not isinstance(data, dict):
            raise ProtocolError(CLOSE_MALFORMED, "invalid event data")
        if kind == EV_META:
            href = data.get("href")
            if isinstance(href, str):
                parts = urlsplit(href)
                data["href"] = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        elif kind == EV_FULL_SNAPSHOT:
            _scrub_node(data.get("node"))
        elif kind == EV_INCREMENTAL:
            source = data.get("source")
            if source not in ALLOWED_SOURCES:
                continue
            if source == SRC_INPUT:
                data["text"] = mask_value(data.get("text", ""))
            elif source == SRC_MUTATION:
                for add in data.get("adds") or []:
                    if isinstance(add, dict):
                        _scrub_node(add.get("node"))
                for change in data.get("attributes") or []:
                    attributes = change.get("attributes") if isinstance(change, dict) else None
                    if isinstance(attributes, dict):
                        for name in DROPPED_ATTRIBUTES.intersection(attributes):
                            del attributes[name]
                        # Without the page's node map the tag is unknown: mask every value.
                        if "value" in attributes:
                            attributes["value"] = mask_value(attributes["value"])
        elif kind not in ALLOWED_EVENT_TYPES:
            continue
        kept.append(event)
    return kept
