"""Reading the headers that matter to the channel: the idempotency key, Message-ID lists and
whether a message was written by a machine (RFC 3834)."""

from __future__ import annotations

import hashlib
import re
from email.message import EmailMessage as ParsedMessage

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def message_key(message_id: str, raw: bytes) -> str:
    """The idempotency key: the Message-ID's hash, or the source's when there is none."""
    basis = message_id.encode() if message_id else raw
    return hashlib.sha256(basis).hexdigest()


def message_ids(value: str | None) -> list[str]:
    """The Message-IDs of an ``In-Reply-To`` or ``References`` header, in order."""
    return _MESSAGE_ID.findall(str(value or ""))


def is_automatic(msg: ParsedMessage) -> bool:
    """An autoresponder, a list or bulk mail, or a bounce: never answered (RFC 3834)."""
    auto_submitted = str(msg.get("Auto-Submitted", "")).strip().lower()
    if auto_submitted and auto_submitted != "no":
        return True
    if msg.get("X-Autoreply") or msg.get("X-Autorespond"):
        return True
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if precedence in {"bulk", "auto_reply", "junk", "list"}:
        return True
    if msg.get("List-Id") or msg.get("List-Unsubscribe"):
        return True
    content_type = msg.get_content_type()
    if content_type == "multipart/report":
        return True
    # A bounce (delivery status notification) comes from the null sender.
    return str(msg.get("Return-Path", "")).strip() == "<>"
