"""The co-browsing wire protocol: close codes, message validation and server-side masking.

Pure functions (no database, no channel layer) so that they are easy to test and to reuse from
the benchmark. docs/cobrowse.md documents the same codes and messages for client authors.
"""

from __future__ import annotations

import json
import math
import re
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


# --- rrweb events: validation, masking and URL scrubbing -----------------------------------------
# rrweb EventType / IncrementalSource / NodeType values (rrweb 2.x, @rrweb/types).
EV_DOM_CONTENT_LOADED, EV_LOAD, EV_FULL_SNAPSHOT, EV_INCREMENTAL, EV_META = 0, 1, 2, 3, 4
SRC_MUTATION, SRC_INPUT, SRC_CANVAS = 0, 5, 9
SRC_STYLE_SHEET_RULE, SRC_STYLE_DECLARATION, SRC_ADOPTED_STYLE_SHEET = 8, 13, 15
NODE_ELEMENT, NODE_TEXT = 2, 3
# Kept sources: mutation, mouse move, mouse interaction, scroll, viewport resize, input (masked),
# touch move, media, style sheet rules, drag, style declaration, selection, adopted style
# sheets, custom elements. Dropped: canvas (never recorded here), fonts (a URL to load) and
# console logs.
ALLOWED_SOURCES = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 14, 15, 16})
ALLOWED_EVENT_TYPES = frozenset({EV_DOM_CONTENT_LOADED, EV_LOAD, EV_FULL_SNAPSHOT, EV_INCREMENTAL})

# Inputs whose value is a label chosen by the site, not something the citizen typed.
UNMASKED_INPUT_TYPES = frozenset({"submit", "button", "reset", "checkbox", "radio", "image"})
VALUE_TAGS = frozenset({"input", "textarea", "select", "option"})
# Attributes that may carry secrets of the citizen's session (the CSRF token for htmx), or that
# rrweb would turn into a load (inlined images, frames' sources).
DROPPED_ATTRIBUTES = frozenset({"hx-headers", "hx-vals", "rr_dataurl", "rr_src", "srcdoc"})
DROPPED_ATTRIBUTES |= frozenset({"http-equiv", "selected"})  # meta refresh; the chosen option
# Attributes holding a URL the browser may load or navigate to (local name, without "xlink:").
URL_ATTRIBUTES = frozenset(
    {
        "src", "href", "srcset", "imagesrcset", "action", "formaction", "poster", "background",
        "data", "codebase", "cite", "longdesc", "lowsrc", "dynsrc", "ping", "manifest", "icon",
        "profile", "archive", "classid", "attributionsrc", "itemtype", "xmlns",
    }
)  # fmt: skip
# Elements never relayed: scripts, frames, plugins, base URL, meta (refresh), SVG animations
# (which can set an href), links other than the allowed style sheets.
DROPPED_TAGS = frozenset(
    {
        "script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "meta",
        "portal", "fencedframe", "set", "animate", "animatemotion", "animatetransform", "discard",
    }
)  # fmt: skip
BLOCK_ATTRIBUTE = "data-cobrowse-mask"
MASK_CHAR = "*"

# Per-node flags of the server's map of the shared page.
F_MASKED = 1  # inside [data-cobrowse-mask]: nothing of it is relayed
F_SECRET_TEXT = 2  # a textarea or contenteditable: its text is masked
F_DROPPED = 4  # a dropped element: nothing under it is relayed
F_STYLE = 8  # a <style> element: its text is CSS
INHERITED = F_MASKED | F_SECRET_TEXT | F_DROPPED
MAX_ANCESTORS = 4096

CSS_ESCAPE = re.compile(r"\\")
CSS_IMPORT = re.compile(r"@import\b[^;]*;?", re.IGNORECASE)
CSS_URL = re.compile(
    r"url\(\s*(?:\"([^\"]*)\"|'([^']*)'|([^)\"'\s]*))\s*\)", re.IGNORECASE
)  # fmt: skip
# Whatever could still load something (an unbalanced url(, image-set("..."), src("...")).
CSS_LOADERS = re.compile(
    r"(?<![\w-])((?:-webkit-)?image-set|url|src)\s*\((?!\"data:image/)", re.IGNORECASE
)
JAVASCRIPT = re.compile(r"(?:java|vb)script:|data:text/html", re.IGNORECASE)
INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")


def mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return MASK_CHAR * min(len(value), 64)
    return value


def clean_css(text: Any) -> Any:
    """CSS that loads nothing: no @import, every url() but data: ones replaced by ``none``.

    CSS escapes could spell ``url(`` in a way no pattern catches: CSS with a backslash is dropped.
    """
    if not isinstance(text, str):
        return text
    if CSS_ESCAPE.search(text):
        return ""
    text = CSS_IMPORT.sub("", text)

    def keep_data(match: re.Match) -> str:
        target = next((group for group in match.groups() if group is not None), "")
        if target.strip().lower().startswith("data:image/"):
            return f'url("{target}")' if '"' not in target else "none"
        return "none"

    text = CSS_URL.sub(keep_data, text)
    return CSS_LOADERS.sub(lambda m: "none" if m.group(1).lower() == "url" else "x-blocked(", text)


def stylesheet_paths() -> dict[str, str]:
    """URL path of each allowed style sheet (as the citizen's page links it) -> the same path."""
    from django.templatetags.static import static

    paths = {}
    for name in conf.get("STYLESHEETS"):
        path = urlsplit(static(name)).path
        paths[path] = path
    return paths


def _is_javascript(value: str) -> bool:
    return bool(JAVASCRIPT.search(INVISIBLE.sub("", value)))


class PageScrubber:
    """The server's second line of defence on one citizen socket's page frames.

    It keeps a map of the page's nodes (id -> parent, tag, flags) from the full snapshot and
    the mutations, so that a mutation is judged by where its node is: text under
    ``[data-cobrowse-mask]`` never leaves, text of a textarea or a contenteditable is masked,
    nothing is added under a dropped element. Every URL of the page is dropped (links keep a
    ``#``) except Guichet's own style sheets (``COBROWSE_STYLESHEETS``), rewritten to their path:
    the agent's replay can load nothing else.
    """

    def __init__(self):
        self.nodes: dict[int, tuple[int | None, str, int]] = {}
        self.children: dict[int, set[int]] = {}  # to forget a removed node's whole subtree
        self.stylesheets = stylesheet_paths()

    # --- the node map ---------------------------------------------------------------------
    def _register(self, node_id: int, parent: int | None, tag: str, flags: int) -> None:
        previous = self.nodes.get(node_id)
        if previous is None and len(self.nodes) >= conf.get("MAX_NODES"):
            raise ProtocolError(CLOSE_TOO_LARGE, "too many nodes")
        if previous is not None and previous[0] is not None and previous[0] != parent:
            self.children.get(previous[0], set()).discard(node_id)  # moved elsewhere
        self.nodes[node_id] = (parent, tag, flags)
        if parent is not None:
            self.children.setdefault(parent, set()).add(node_id)

    def _forget(self, node_id: Any) -> None:
        """Drop a removed node and everything under it from the map."""
        entry = self.nodes.get(node_id) if isinstance(node_id, int) else None
        if entry is None:
            return
        if entry[0] is not None:
            self.children.get(entry[0], set()).discard(node_id)
        stack = [node_id]
        while stack:
            current = stack.pop()
            self.nodes.pop(current, None)
            stack.extend(self.children.pop(current, ()))

    def _flags(self, node_id: Any) -> int | None:
        """Flags of a node and of its ancestors, or None for a node the server never saw."""
        entry = self.nodes.get(node_id) if isinstance(node_id, int) else None
        if entry is None:
            return None
        flags = entry[2]
        parent = entry[0]
        for _step in range(MAX_ANCESTORS):
            if parent is None:
                return flags
            above = self.nodes.get(parent)
            if above is None:
                return flags
            flags |= above[2] & INHERITED
            parent = above[0]
        return flags | F_MASKED  # absurdly deep: relay nothing of it

    # --- attributes -----------------------------------------------------------------------
    def _link_href(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        parts = urlsplit(value.strip())
        return self.stylesheets.get(parts.path)

    def _clean_attributes(self, tag: str, attributes: dict[str, Any], *, mutation: bool) -> None:
        """Clean in place; in a mutation a removed attribute is sent as None (rrweb removes it)."""
        for name in list(attributes):
            value = attributes[name]
            lname = str(name).lower()
            local = lname.rsplit(":", 1)[-1]
            drop = False
            if lname in DROPPED_ATTRIBUTES or lname.startswith("on"):
                drop = True
            elif local in URL_ATTRIBUTES:
                if value is None:
                    continue
                if local == "href" and tag in ("a", "area"):
                    attributes[name] = "#"
                elif local == "href" and tag == "link" and self._link_href(value):
                    attributes[name] = self._link_href(value)
                else:
                    drop = True
            elif lname in ("style", "_csstext"):
                if isinstance(value, dict):  # a mutation's style diff: {property: value}
                    for key, part in list(value.items()):
                        if isinstance(part, list) and part:
                            part[0] = clean_css(part[0])
                        else:
                            value[key] = clean_css(part)
                else:
                    attributes[name] = clean_css(value)
            elif isinstance(value, str) and _is_javascript(value):
                drop = True
            elif lname == "value":
                # In a mutation the input's type is not at hand: every value is masked.
                input_type = str(attributes.get("type", "text")).lower()
                label = tag == "input" and input_type in UNMASKED_INPUT_TYPES
                if mutation or (tag in VALUE_TAGS and not label):
                    attributes[name] = mask_value(value)
            if drop:
                if mutation:
                    attributes[name] = None
                else:
                    del attributes[name]

    # --- nodes ----------------------------------------------------------------------------
    def _keep_element(self, tag: str, attributes: dict[str, Any]) -> bool:
        if tag in DROPPED_TAGS:
            return False
        if tag == "link":
            return "stylesheet" in str(attributes.get("rel", "")).lower().split() and bool(
                self._link_href(attributes.get("href"))
            )
        return True

    def _walk(self, root: Any, parent: int | None, inherited: int, parent_tag: str) -> bool:
        """Scrub a serialized node and its children in place and register them; False if the
        node itself must not be relayed. Iterative: a hostile page may be nested very deep."""
        if not self._scrub_one(root, parent, inherited, parent_tag):
            return False
        stack = [root]
        while stack:
            current = stack.pop()
            children = current.get("childNodes")
            if not isinstance(children, list):
                continue
            entry = self.nodes[current["id"]]
            flags = self._flags(current["id"]) or 0
            kept = []
            for child in children:
                if self._scrub_one(child, current["id"], flags, entry[1]):
                    kept.append(child)
                    stack.append(child)
            current["childNodes"] = kept
        return True

    def _scrub_one(self, node: Any, parent: int | None, inherited: int, parent_tag: str) -> bool:
        if not isinstance(node, dict):
            return False
        node_id = node.get("id")
        if isinstance(node_id, bool) or not isinstance(node_id, int):
            return False
        kind = node.get("type")
        if inherited & (F_MASKED | F_DROPPED):
            self._register(node_id, parent, "", F_DROPPED)
            return False
        if kind == NODE_ELEMENT:
            tag = str(node.get("tagName", "")).lower()
            attributes = node.get("attributes")
            if not isinstance(attributes, dict):
                attributes = node["attributes"] = {}
            if not self._keep_element(tag, attributes):
                self._register(node_id, parent, tag, F_DROPPED)
                return False
            self._clean_attributes(tag, attributes, mutation=False)
            flags = 0
            if BLOCK_ATTRIBUTE in attributes:
                # Blocked by the recorder already; never let its content through anyway.
                flags |= F_MASKED
                node["childNodes"] = []
            editable = attributes.get("contenteditable")
            if tag == "textarea" or (editable is not None and str(editable).lower() != "false"):
                flags |= F_SECRET_TEXT
            if tag == "style":
                flags |= F_STYLE
            self._register(node_id, parent, tag, flags)
            return True
        if kind == NODE_TEXT:
            text = node.get("textContent")
            if inherited & F_SECRET_TEXT:
                node["textContent"] = mask_value(text)
            elif parent_tag == "style" or node.get("isStyle"):
                node["textContent"] = clean_css(text)
            self._register(node_id, parent, "#text", F_STYLE if parent_tag == "style" else 0)
            return True
        self._register(node_id, parent, "", 0)
        return True

    # --- events ---------------------------------------------------------------------------
    def _full_snapshot(self, data: dict) -> bool:
        self.nodes, self.children = {}, {}
        root = data.get("node")
        return isinstance(root, dict) and self._walk(root, None, 0, "")

    def _mutation(self, data: dict) -> None:
        for removal in data.get("removes") or []:
            if isinstance(removal, dict):
                self._forget(removal.get("id"))
        adds = []
        for add in data.get("adds") or []:
            if not isinstance(add, dict):
                continue
            parent_id = add.get("parentId")
            flags = self._flags(parent_id)
            if flags is None or not isinstance(parent_id, int):
                continue  # under a node the server never relayed (_flags: None if not an int)
            parent_tag = self.nodes[parent_id][1]
            if self._walk(add.get("node"), parent_id, flags, parent_tag):
                adds.append(add)
        data["adds"] = adds
        texts = []
        for change in data.get("texts") or []:
            if not isinstance(change, dict):
                continue
            flags = self._flags(change.get("id"))
            if flags is None or flags & (F_MASKED | F_DROPPED):
                continue
            if flags & F_SECRET_TEXT:
                change["value"] = mask_value(change.get("value"))
            elif self.nodes[change["id"]][2] & F_STYLE:
                change["value"] = clean_css(change.get("value"))
            texts.append(change)
        data["texts"] = texts
        changes = []
        for change in data.get("attributes") or []:
            if not isinstance(change, dict) or not isinstance(change.get("attributes"), dict):
                continue
            node_id = change.get("id")
            flags = self._flags(node_id)
            if flags is None or flags & (F_MASKED | F_DROPPED) or not isinstance(node_id, int):
                continue
            parent, tag, own = self.nodes[node_id]
            attributes = change["attributes"]
            if BLOCK_ATTRIBUTE in attributes:
                # Masked from now on (the mark cannot be taken off: the removal is not relayed).
                if attributes[BLOCK_ATTRIBUTE] is None:
                    del attributes[BLOCK_ATTRIBUTE]
                else:
                    own |= F_MASKED
            if "contenteditable" in attributes:
                editable = attributes["contenteditable"]
                if editable is not None and str(editable).lower() != "false":
                    own |= F_SECRET_TEXT
            self.nodes[node_id] = (parent, tag, own)
            self._clean_attributes(tag, attributes, mutation=True)
            changes.append(change)
        data["attributes"] = changes

    def scrub(self, events: Any) -> list[dict[str, Any]]:
        """Validate a list of rrweb events and clean what must never reach the agent.

        The recorder already masks inputs (``maskAllInputs``) and blocks ``[data-cobrowse-mask]``;
        this is the server's second line: input values (typed, in snapshots and in mutations),
        textarea and contenteditable text and the chosen option are masked, session secrets in
        attributes are dropped, masked elements lose their content (and their later text
        changes), scripts, event handlers, frames and every URL but the allowed style sheets are
        dropped, query strings are cut from the page URL, unknown event kinds are dropped.
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
                    if parts.scheme in ("http", "https"):
                        data["href"] = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
                    else:
                        data["href"] = ""
            elif kind == EV_FULL_SNAPSHOT:
                if not self._full_snapshot(data):
                    continue
            elif kind == EV_INCREMENTAL:
                source = data.get("source")
                if source not in ALLOWED_SOURCES:
                    continue
                if source == SRC_INPUT:
                    data["text"] = mask_value(data.get("text", ""))
                elif source == SRC_MUTATION:
                    self._mutation(data)
                elif source == SRC_STYLE_SHEET_RULE:
                    self._rules(data.get("adds"))
                    for key in ("replace", "replaceSync"):
                        if key in data:
                            data[key] = clean_css(data[key])
                elif source == SRC_STYLE_DECLARATION:
                    declaration = data.get("set")
                    if isinstance(declaration, dict):
                        declaration["value"] = clean_css(declaration.get("value"))
                elif source == SRC_ADOPTED_STYLE_SHEET:
                    for style in data.get("styles") or []:
                        if isinstance(style, dict):
                            self._rules(style.get("rules"))
            elif kind not in ALLOWED_EVENT_TYPES:
                continue
            kept.append(event)
        return kept

    @staticmethod
    def _rules(rules: Any) -> None:
        for rule in rules if isinstance(rules, list) else []:
            if isinstance(rule, dict):
                rule["rule"] = clean_css(rule.get("rule"))


def scrub_events(events: Any) -> list[dict[str, Any]]:
    """Scrub one batch of events without memory of the page (a full snapshot comes first)."""
    return PageScrubber().scrub(events)
