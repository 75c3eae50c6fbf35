"""The e-mail channel's outgoing messages: an agent's answer on an e-mail case, and the
automatic messages (acknowledgement, notices), all sent through the same outbox rows
(``MailMessage``, claimed with ``contactcenter.outbox`` before sending).

A staff answer (``contactcenter.services.post_staff_message``) on an e-mail case is an
``Event``; ``on_event_saved`` writes an outgoing ``MailMessage`` in the same transaction and
queues its delivery after commit (``mail.tasks.send_mail_message``)."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone

from contactcenter import outbox
from contactcenter.models import Case, Channel, Event
from contactcenter.services import files_of_event

from .headers import message_key
from .models import UNIDENTIFIED_SENDER_EMAIL, Mailbox, MailMessage

logger = logging.getLogger("mail")

SEND_ATTEMPTS = 5
# An answer still "sending" after this belonged to a worker that died: sent again.
SENDING_LEASE = dt.timedelta(minutes=10)


def reply_subject(case: Case) -> str:
    """The subject of an answer: the case reference, so a reply threads even without headers."""
    subject = case.subject
    return f"[{case.reference}] Re: {subject}" if case.reference not in subject else subject


def on_event_saved(sender: type[Event], instance: Event, created: bool, **kwargs: Any) -> None:
    """A staff answer on an e-mail case goes out by e-mail (never an internal note)."""
    if not created or kwargs.get("raw") or instance.internal:
        return
    if instance.type not in (Event.Type.MESSAGE, Event.Type.REQUEST_INFO):
        return
    if instance.actor_id is None or instance.actor_id == instance.citizen_id:
        return
    if instance.case.channel != Channel.EMAIL:
        return
    queue_reply(instance)


def new_outbound(
    *,
    mailbox: Mailbox,
    case: Case,
    recipient: str,
    subject: str,
    body: str,
    kind: str = MailMessage.Kind.MESSAGE,
    answering: MailMessage | None = None,
    event: Event | None = None,
) -> MailMessage:
    """Write an outgoing message (threaded on ``answering``) and queue it after commit."""
    domain = mailbox.address.rsplit("@", 1)[-1]
    message_id = email.utils.make_msgid(domain=domain)
    references: list[str] = []
    if answering is not None and answering.message_id:
        references = [*answering.references.split(), answering.message_id]
    message = MailMessage.objects.create(
        mailbox=mailbox,
        direction=MailMessage.Direction.OUTBOUND,
        status=MailMessage.Status.PENDING,
        kind=kind,
        key=message_key(message_id, b""),
        message_id=message_id,
        in_reply_to=answering.message_id if answering is not None else "",
        references=" ".join(references[-20:]),
        sender=mailbox.address,
        recipient=recipient,
        subject=subject[:998],
        case=case,
        event=event,
        body=body,
        automatic=kind != MailMessage.Kind.MESSAGE,
        next_attempt_at=timezone.now(),
    )
    from .tasks import send_mail_message

    send_mail_message.delay_on_commit(message.pk)
    return message


def last_received(case: Case) -> MailMessage | None:
    """The last message a person (not a machine) sent on the case; on a citizen's case, only
    from a verified sender (an unverified one is never answered as the citizen)."""
    rows = MailMessage.objects.filter(case_id=case.pk, direction=MailMessage.Direction.INBOUND)
    if case.citizen.email != UNIDENTIFIED_SENDER_EMAIL:
        rows = rows.exclude(sender_verified=False)
    return (
        rows.exclude(automatic=True)
        .select_related("mailbox__service")
        .order_by("-created_at", "-id")
        .first()
    )


def queue_reply(event: Event) -> MailMessage | None:
    """Write the outgoing message of a staff answer and queue its delivery after commit."""
    last = last_received(event.case)
    if last is None or not last.sender:
        return None
    if last.sender == event.case.citizen.email.lower():
        # The answer reaches the citizen's own (verified) address: it is the alert, the
        # secure messaging's content-free notification is not sent as well (docs/mail.md).
        event.payload = {**(event.payload or {}), "delivered_to_citizen": "email"}
        Event.objects.filter(pk=event.pk).update(payload=event.payload)
    return new_outbound(
        mailbox=last.mailbox,
        case=event.case,
        recipient=last.sender,
        subject=reply_subject(event.case),
        body=event.body,
        answering=last,
        event=event,
    )


def build_email(message: MailMessage) -> EmailMessage:
    mailbox = message.mailbox
    from_email = email.utils.formataddr((mailbox.service.name, mailbox.address))
    headers = {"Message-ID": message.message_id, "Auto-Submitted": "no"}
    if message.kind != MailMessage.Kind.MESSAGE:
        # RFC 3834: an automatic answer says so (autoresponders must not answer it), and
        # Exchange is asked not to send its own automatic replies to it.
        headers["Auto-Submitted"] = "auto-replied"
        headers["X-Auto-Response-Suppress"] = "All"
    if message.in_reply_to:
        headers["In-Reply-To"] = message.in_reply_to
    if message.references:
        headers["References"] = message.references
    mail = EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=from_email,
        to=[message.recipient],
        headers=headers,
    )
    if message.kind == MailMessage.Kind.MESSAGE and message.event is not None:
        # The files the agent joined to the answer (checked by the core's upload checks
        # when they were joined: type by content, size, count), read when sending: a retry
        # sends them again.
        for name, content_type, data in files_of_event(message.event):
            mail.attach(name, data, content_type)
    return mail


def send_message(message_id: int) -> str:
    """Deliver one outgoing message (claimed first: a duplicate task sends nothing)."""
    now = timezone.now()
    if not outbox.claim(MailMessage.objects.all(), message_id, now):
        return "skipped"
    message = MailMessage.objects.select_related("mailbox__service", "event").get(pk=message_id)
    try:
        build_email(message).send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any transport failure is retried
        logger.warning("sending mail %s failed: %s", message_id, exc)
        failed = message.attempts >= SEND_ATTEMPTS
        MailMessage.objects.filter(pk=message_id).update(
            status=MailMessage.Status.FAILED if failed else MailMessage.Status.PENDING,
            next_attempt_at=now + settings.MAIL_RETRY_DELAY * 2 ** (message.attempts - 1),
            last_error=str(exc)[:2000],
        )
        return "failed" if failed else "retry"
    MailMessage.objects.filter(pk=message_id).update(
        status=MailMessage.Status.SENT, sent_at=timezone.now(), last_error=""
    )
    return "sent"


def due_outbound() -> list[int]:
    """Answers to send now, after making those of a dead worker due again."""
    rows = MailMessage.objects.all()
    outbox.release_stale_claims(rows, SENDING_LEASE)
    return outbox.due_ids(rows)
