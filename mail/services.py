"""The e-mail channel's business logic: reading a message, importing it onto a case (once),
and preparing the agent's answer by e-mail.

Inbound: ``import_message`` parses the source with the standard library (``policy.default``),
finds the case it answers (``In-Reply-To``/``References`` against the Message-IDs stored per
case, else the reference in the subject from the case's own correspondent), identifies the
sender by a verified address, checks the attachments with the core's upload checks, and
commits. The caller flags the message on the server only after that commit.

Outbound: a staff answer (``contactcenter.services.post_staff_message``) on an e-mail case is
an ``Event``; ``on_event_saved`` writes an outgoing ``MailMessage`` in the same transaction and
queues its delivery after commit (``mail.tasks.send_mail_message``)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import hashlib
import html
import logging
import re
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage as ParsedMessage
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter import outbox
from contactcenter.attachments import CheckedFile, check_upload, max_count
from contactcenter.models import Case, Channel, Event, User
from contactcenter.services import add_event, change_status, open_case

from .models import MailAttachment, Mailbox, MailMessage, QuarantinedMail

logger = logging.getLogger("mail")

UNIDENTIFIED_SENDER_EMAIL = "expediteur-non-identifie@guichet.invalid"
REFERENCE_IN_SUBJECT = re.compile(r"\b(20\d{2}-\d{6})\b")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
MAX_BODY_CHARS = 100_000
SEND_ATTEMPTS = 5
# An answer still "sending" after this belonged to a worker that died: sent again.
SENDING_LEASE = dt.timedelta(minutes=10)


class Unreadable(Exception):
    """The message cannot be read: it goes to the quarantine with its source."""


@dataclass
class Inbound:
    """What the channel reads of a message."""

    key: str
    message_id: str
    in_reply_to: str
    references: list[str]
    sender: str
    subject: str
    body: str
    automatic: bool
    attachments: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass(frozen=True)
class ImportResult:
    outcome: str  # "created", "threaded", "duplicate", "ignored", "quarantined"
    message: MailMessage | None = None
    quarantined: QuarantinedMail | None = None


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


def trim_quoted(body: str) -> str:
    """The new text of a reply, without the quoted history nor the signature (for display)."""
    from mailparser_reply import EmailReplyParser

    try:
        latest: str = EmailReplyParser(languages=["fr", "en"]).parse_reply(text=body)
    except Exception:  # noqa: BLE001 - the full text is always a correct fallback
        logger.info("reply parser failed", exc_info=True)
        return body
    return latest.strip() or body


def parse(raw: bytes) -> Inbound:
    """Read a source; raise ``Unreadable`` saying why when it cannot be imported."""
    try:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # noqa: BLE001 - any parser failure is a quarantine reason
        raise Unreadable(f"parse: {exc!r}") from exc
    assert isinstance(parsed, ParsedMessage)
    msg = parsed
    try:
        from_header = msg.get("From")
        addresses = email.utils.getaddresses([str(from_header)]) if from_header else []
        sender = addresses[0][1].strip().lower() if addresses else ""
        if not sender or "@" not in sender:
            raise Unreadable(_("Expéditeur absent ou illisible (en-tête From)."))
        message_id = (message_ids(msg.get("Message-ID")) or [""])[0]
        subject = " ".join(str(msg.get("Subject", "")).split())
        part = msg.get_body(preferencelist=("plain", "html"))
        text = ""
        if part is not None:
            content = part.get_content()
            text = content if isinstance(content, str) else content.decode("utf-8", "replace")
            if part.get_content_type() == "text/html":
                import nh3

                # The text only: no markup, scripts and styles dropped, entities decoded (the
                # timeline escapes what it shows).
                text = html.unescape(nh3.clean(text, tags=set())).strip()
        attachments: list[tuple[str, bytes]] = []
        for item in msg.iter_attachments():
            if not isinstance(item, ParsedMessage):
                continue
            payload = item.get_content()
            data = payload.encode() if isinstance(payload, str) else bytes(payload)
            if isinstance(payload, ParsedMessage):
                data = payload.as_bytes()
            attachments.append((item.get_filename() or "document", data))
    except Unreadable:
        raise
    except Exception as exc:  # noqa: BLE001 - unknown charset, broken encoding...
        raise Unreadable(f"{type(exc).__name__}: {exc}") from exc
    return Inbound(
        key=message_key(message_id, raw),
        message_id=message_id,
        in_reply_to=(message_ids(msg.get("In-Reply-To")) or [""])[0],
        references=message_ids(msg.get("References")),
        sender=sender,
        subject=subject[:998],
        body=text[:MAX_BODY_CHARS],
        automatic=is_automatic(msg),
        attachments=attachments,
    )


def verified_citizen(address: str) -> User | None:
    """The citizen whose verified address this is: an active account (a sign-up not yet
    verified is inactive and has a pending verification)."""
    matches = list(
        User.objects.filter(
            email__iexact=address,
            role=User.Role.CITIZEN,
            is_active=True,
            pending_verification__isnull=True,
        )[:2]
    )
    return matches[0] if len(matches) == 1 else None


def unidentified_sender() -> User:
    """The account that holds the cases of senders who are not (yet) known citizens."""
    user, created = User.objects.get_or_create(
        email=UNIDENTIFIED_SENDER_EMAIL,
        defaults={
            "username": UNIDENTIFIED_SENDER_EMAIL,
            "first_name": _("Expéditeur non identifié"),
            "role": User.Role.CITIZEN,
            "is_active": False,
            "notify_email": False,
        },
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def find_thread(mailbox: Mailbox, inbound: Inbound) -> Case | None:
    """The case this message answers, or None for a new request."""
    ids = [i for i in [inbound.in_reply_to, *inbound.references] if i]
    if ids:
        known = (
            MailMessage.objects.filter(
                key__in=[message_key(i, b"") for i in ids], case__isnull=False
            )
            .select_related("case")
            .order_by("-created_at")
            .first()
        )
        if known is not None and known.case is not None:
            return known.case
    match = REFERENCE_IN_SUBJECT.search(inbound.subject)
    if match:
        # Only the case's own correspondent may write onto it by quoting its reference.
        case = (
            Case.objects.filter(reference=match.group(1), service_id=mailbox.service_id)
            .filter(
                Q(citizen__email__iexact=inbound.sender)
                | Q(mail_messages__sender__iexact=inbound.sender)
            )
            .first()
        )
        if case is not None:
            return case
    return None


def check_attachments(
    attachments: list[tuple[str, bytes]],
) -> tuple[list[CheckedFile], list[dict[str, str]]]:
    """The core's upload checks on each attachment: accepted files and refusals with reasons."""
    accepted: list[CheckedFile] = []
    refused: list[dict[str, str]] = []
    for name, data in attachments:
        if len(accepted) >= max_count():
            refused.append(
                {
                    "name": name,
                    "reason": _("%(max)s pièces jointes au maximum par message.")
                    % {"max": max_count()},
                }
            )
            continue
        try:
            accepted.append(check_upload(SimpleUploadedFile(name, data)))
        except ValidationError as exc:
            refused.append({"name": name, "reason": " ".join(exc.messages)})
    return accepted, refused


def quarantine(mailbox: Mailbox, raw: bytes, error: str, uid: int | None = None) -> QuarantinedMail:
    item, _created = QuarantinedMail.objects.get_or_create(
        mailbox=mailbox,
        key=hashlib.sha256(raw).hexdigest(),
        defaults={"raw": raw, "error": error[:10_000], "uid": uid},
    )
    logger.warning("mail quarantined in %s (uid %s): %s", mailbox, uid, error)
    return item


def import_message(mailbox: Mailbox, raw: bytes, uid: int | None = None) -> ImportResult:
    """Import one message onto a case, at most once; commits before returning."""
    try:
        inbound = parse(raw)
    except Unreadable as exc:
        return ImportResult("quarantined", quarantined=quarantine(mailbox, raw, str(exc), uid))
    existing = MailMessage.objects.filter(mailbox=mailbox, key=inbound.key).first()
    if existing is not None:
        return ImportResult("duplicate", existing)
    accepted, refused = check_attachments(inbound.attachments)
    try:
        with transaction.atomic():
            return _store(mailbox, raw, inbound, accepted, refused)
    except IntegrityError:
        # Imported meanwhile by another worker: the unique key kept it once.
        existing = MailMessage.objects.filter(mailbox=mailbox, key=inbound.key).first()
        if existing is None:
            raise
        return ImportResult("duplicate", existing)


def _store(
    mailbox: Mailbox,
    raw: bytes,
    inbound: Inbound,
    accepted: list[CheckedFile],
    refused: list[dict[str, str]],
) -> ImportResult:
    message = MailMessage(
        mailbox=mailbox,
        direction=MailMessage.Direction.INBOUND,
        status=MailMessage.Status.IMPORTED,
        key=inbound.key,
        message_id=inbound.message_id,
        in_reply_to=inbound.in_reply_to,
        references=" ".join(inbound.references),
        sender=inbound.sender,
        recipient=mailbox.address,
        subject=inbound.subject,
        automatic=inbound.automatic,
        body=inbound.body,
        refused_attachments=refused,
        raw=raw,
    )
    case = find_thread(mailbox, inbound)
    if case is not None and case.status == Case.Status.CLOSED and not inbound.automatic:
        case = None  # a closed request is not reopened by mail: a new one starts
    display = trim_quoted(inbound.body) or _("(message sans texte)")
    attachment_ids = [uuid.uuid4() for _checked in accepted]
    payload: dict[str, Any] = {
        "mail": {"from": inbound.sender, "subject": inbound.subject[:200]},
        # What the workstation lists (mail.MailAttachment ids), and what was refused and why.
        "mail_attachments": [
            {
                "id": str(pk),
                "name": checked.name,
                "content_type": checked.content_type,
                "size": checked.size,
            }
            for pk, checked in zip(attachment_ids, accepted, strict=True)
        ],
        "refused_attachments": refused,
    }
    if case is None and inbound.automatic:
        # An automatic message (out of office, bounce, list) opens nothing and gets no answer.
        message.status = MailMessage.Status.IGNORED
        message.save()
        return ImportResult("ignored", message)
    if case is None:
        citizen = verified_citizen(inbound.sender)
        if citizen is None:
            payload["unidentified_sender"] = inbound.sender
        case, event = open_case(
            citizen=citizen or unidentified_sender(),
            topic=mailbox.default_topic,
            kind=Case.Kind.QUESTION,
            channel=Channel.EMAIL,
            subject=inbound.subject or _("Courriel sans objet"),
            body=display,
            actor=citizen,
            payload=payload,
        )
        outcome = "created"
    else:
        actor = case.citizen if case.citizen.email.lower() == inbound.sender else None
        event = add_event(
            case,
            Event.Type.MESSAGE,
            actor=actor,
            channel=Channel.EMAIL,
            body=display,
            payload={**payload, "automatic": inbound.automatic},
            internal=inbound.automatic,
        )
        if not inbound.automatic and case.status in (
            Case.Status.ANSWERED,
            Case.Status.WAITING_CITIZEN,
        ):
            change_status(case, Case.Status.IN_PROGRESS, actor=actor)
        outcome = "threaded"
    message.case = case
    message.event = event
    message.save()
    for pk, checked in zip(attachment_ids, accepted, strict=True):
        attachment = MailAttachment(
            id=pk,
            message=message,
            original_name=checked.name,
            content_type=checked.content_type,
            size=checked.size,
            sha256=checked.sha256,
        )
        attachment.file.save(checked.name, checked.as_file(), save=False)
        attachment.save()
    if refused:
        add_event(
            case,
            Event.Type.NOTE,
            channel=Channel.EMAIL,
            internal=True,
            body=_("Pièces jointes refusées par le contrôle de contenu :")
            + "\n"
            + "\n".join(f"- {item['name']} : {item['reason']}" for item in refused),
            payload={"refused_attachments": refused},
        )
    return ImportResult(outcome, message)


# --- outbound --------------------------------------------------------------------------------


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


def queue_reply(event: Event) -> MailMessage | None:
    """Write the outgoing message of a staff answer and queue its delivery after commit."""
    last = (
        MailMessage.objects.filter(case_id=event.case_id, direction=MailMessage.Direction.INBOUND)
        .exclude(automatic=True)
        .select_related("mailbox")
        .order_by("-created_at", "-id")
        .first()
    )
    if last is None:
        return None
    case = event.case
    domain = last.mailbox.address.rsplit("@", 1)[-1]
    message_id = email.utils.make_msgid(domain=domain)
    references = [*last.references.split(), last.message_id] if last.message_id else []
    message = MailMessage.objects.create(
        mailbox=last.mailbox,
        direction=MailMessage.Direction.OUTBOUND,
        status=MailMessage.Status.PENDING,
        key=message_key(message_id, b""),
        message_id=message_id,
        in_reply_to=last.message_id,
        references=" ".join(references[-20:]),
        sender=last.mailbox.address,
        recipient=last.sender,
        subject=reply_subject(case)[:998],
        case=case,
        event=event,
        body=event.body,
        next_attempt_at=timezone.now(),
    )
    from .tasks import send_mail_message

    send_mail_message.delay_on_commit(message.pk)
    return message


def build_email(message: MailMessage) -> EmailMessage:
    mailbox = message.mailbox
    from_email = email.utils.formataddr((mailbox.service.name, mailbox.address))
    headers = {"Message-ID": message.message_id, "Auto-Submitted": "no"}
    if message.in_reply_to:
        headers["In-Reply-To"] = message.in_reply_to
    if message.references:
        headers["References"] = message.references
    return EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=from_email,
        to=[message.recipient],
        headers=headers,
    )


def send_message(message_id: int) -> str:
    """Deliver one outgoing message (claimed first: a duplicate task sends nothing)."""
    now = timezone.now()
    if not outbox.claim(MailMessage.objects.all(), message_id, now):
        return "skipped"
    message = MailMessage.objects.select_related("mailbox__service").get(pk=message_id)
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
