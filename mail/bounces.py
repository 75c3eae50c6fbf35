"""Delivery status notifications (RFC 3464): a bounce of one of our messages is recorded on it
and on its case, and the agents are told by an internal note on the timeline.

A DSN is a ``multipart/report; report-type=delivery-status`` whose ``message/delivery-status``
part has one block per recipient (``Action``, ``Status``, ``Final-Recipient``,
``Diagnostic-Code``) and whose last part returns the original message or its headers: its
``Message-ID`` names the outgoing ``MailMessage`` that bounced."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage as ParsedMessage
from email.message import Message

from django.utils.translation import gettext as _

from contactcenter.models import Channel, Event
from contactcenter.services import add_event

from .headers import message_ids, message_key
from .models import MailMessage


@dataclass
class Failure:
    recipient: str
    action: str
    status: str
    diagnostic: str


@dataclass
class Report:
    original_message_id: str
    failures: list[Failure] = field(default_factory=list)

    @property
    def failed(self) -> list[Failure]:
        return [f for f in self.failures if f.action == "failed"]


def _address(value: str) -> str:
    # "rfc822; camille@example.fr"
    return value.split(";", 1)[-1].strip().strip("<>").lower()


def read_report(msg: ParsedMessage) -> Report | None:
    """The delivery report of a DSN, or None when the message is not one."""
    if msg.get_content_type() != "multipart/report":
        return None
    if str(msg.get_param("report-type", "")).lower() != "delivery-status":
        return None
    report = Report("")
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            blocks = part.get_payload()
            if not isinstance(blocks, list):
                blocks = []
            for block in blocks[1:]:  # the first block is about the message, then recipients
                if not isinstance(block, Message):
                    continue
                report.failures.append(
                    Failure(
                        recipient=_address(str(block.get("Final-Recipient", ""))),
                        action=str(block.get("Action", "")).strip().lower(),
                        status=str(block.get("Status", "")).strip(),
                        diagnostic=" ".join(str(block.get("Diagnostic-Code", "")).split())[:500],
                    )
                )
        elif kind in ("message/rfc822", "message/global") and not report.original_message_id:
            payload = part.get_payload()
            original = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(original, Message):
                report.original_message_id = (message_ids(original.get("Message-ID")) or [""])[0]
        elif kind == "text/rfc822-headers" and not report.original_message_id:
            data = part.get_payload(decode=True)
            headers = email.message_from_bytes(
                data if isinstance(data, bytes) else b"", policy=email.policy.default
            )
            report.original_message_id = (message_ids(headers.get("Message-ID")) or [""])[0]
    return report


def record_bounce(report: Report, received: MailMessage) -> MailMessage | None:
    """Mark the bounced message and tell the agents on its case (in the importing transaction).

    Returns the outgoing message that bounced, or None (not one of ours, or only delayed)."""
    if not report.original_message_id or not report.failed:
        return None
    original = (
        MailMessage.objects.filter(
            key=message_key(report.original_message_id, b""),
            direction=MailMessage.Direction.OUTBOUND,
        )
        .select_related("case")
        .first()
    )
    if original is None:
        return None
    reasons = "; ".join(
        f"{f.recipient or original.recipient} : {f.status} {f.diagnostic}".strip()
        for f in report.failed
    )
    MailMessage.objects.filter(pk=original.pk).update(
        status=MailMessage.Status.BOUNCED, last_error=reasons[:2000]
    )
    original.status = MailMessage.Status.BOUNCED
    received.case = original.case
    if original.case is not None:
        received.event = add_event(
            original.case,
            Event.Type.NOTE,
            channel=Channel.EMAIL,
            internal=True,
            body=_(
                "Le courriel « %(subject)s » n'a pas pu être remis à %(to)s (%(reason)s). "
                "Contactez l'usager par un autre moyen."
            )
            % {"subject": original.subject, "to": original.recipient, "reason": reasons},
            payload={
                "bounce": {
                    "mail_message": original.pk,
                    "recipient": original.recipient,
                    "reasons": reasons[:1000],
                }
            },
        )
    return original
