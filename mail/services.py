"""The e-mail channel's business logic: reading a message and importing it onto a case (once).

Inbound: ``import_message`` parses the source with the standard library (``policy.default``),
finds the case it answers (``In-Reply-To``/``References`` against the Message-IDs stored per
case, else the reference in the subject from the case's own correspondent), identifies the
sender by a verified address, checks the attachments with the core's upload checks, and
commits. The caller flags the message on the server only after that commit. Outgoing
messages are in ``mail.outbound``, delivery reports in ``mail.bounces``."""

from __future__ import annotations

import email
import email.policy
import email.utils
import functools
import hashlib
import html
import logging
import re
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage as ParsedMessage
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from contactcenter.attachments import CheckedFile, check_upload, max_count
from contactcenter.models import Case, Channel, Event, User
from contactcenter.services import add_event, change_status, open_case
from knowledge.services import guess_topic

from .acknowledge import acknowledge
from .authentication import Verdict, verdict
from .bounces import Report, read_report, record_bounce
from .headers import is_automatic, message_ids, message_key
from .models import UNIDENTIFIED_SENDER_EMAIL as UNIDENTIFIED_SENDER_EMAIL  # re-exported
from .models import MailAttachment, Mailbox, MailMessage, QuarantinedMail

logger = logging.getLogger("mail")

REFERENCE_IN_SUBJECT = re.compile(r"\b(20\d{2}-\d{6})\b")
MAX_BODY_CHARS = 100_000


class _Policy(email.policy.EmailPolicy):
    """The standard library's ``policy.default``, with each header value parsed once.

    The structured header objects are immutable; the parser asks for the same ones many times
    per message (``Content-Type`` for every body and attachment walk) and across messages
    (the same few ``Content-Type`` and ``MIME-Version`` values): they are kept in a bounded
    cache instead of being parsed again."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):
            return value
        return _parsed_header(name, value)


@functools.lru_cache(maxsize=2048)
def _parsed_header(name: str, value: str) -> Any:
    return email.policy.default.header_fetch_parse(name, value)


POLICY = _Policy()


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
    report: Report | None = None  # a delivery status notification (bounce)
    # The receiving server's verdict on the From address (mail.authentication).
    verified: Verdict = field(default_factory=lambda: Verdict(False, ""))


@dataclass(frozen=True)
class ImportResult:
    outcome: str  # "created", "threaded", "duplicate", "ignored", "bounce", "quarantined"
    message: MailMessage | None = None
    quarantined: QuarantinedMail | None = None


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
        parsed = email.message_from_bytes(raw, policy=POLICY)
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
        report = read_report(msg)
        attachments: list[tuple[str, bytes]] = []
        for item in msg.iter_attachments() if report is None else ():
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
        report=report,
        verified=verdict([str(v) for v in msg.get_all("Authentication-Results") or []], sender),
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


def corresponded_with(case: Case, address: str) -> bool:
    """Whether ``address`` is the case's citizen's or one the case already exchanged mail with
    (a verified sender that wrote on it, or an address its answers went to)."""
    if case.citizen.email.lower() == address:
        return True
    return (
        MailMessage.objects.filter(case=case)
        .filter(
            Q(direction=MailMessage.Direction.INBOUND, sender__iexact=address)
            & ~Q(sender_verified=False)
            | Q(direction=MailMessage.Direction.OUTBOUND, recipient__iexact=address)
        )
        .exists()
    )


def find_thread(mailbox: Mailbox, inbound: Inbound) -> Case | None:
    """The case this message answers, or None for a new request.

    Only a verified sender (``mail.authentication``) threads, and only onto a case it
    corresponds on: quoting a Message-ID or a reference is not proof of who writes."""
    if not inbound.verified.verified:
        return None
    ids = [i for i in [inbound.in_reply_to, *inbound.references] if i]
    if ids:
        # The case of the latest known message among them (the messages' sources are not read).
        known = (
            Case.objects.filter(mail_messages__key__in=[message_key(i, b"") for i in ids])
            .select_related("citizen")
            .order_by("-mail_messages__created_at")
            .first()
        )
        if known is not None and corresponded_with(known, inbound.sender):
            return known
    match = REFERENCE_IN_SUBJECT.search(inbound.subject)
    if match:
        # Only the case's own correspondent may write onto it by quoting its reference.
        case = (
            Case.objects.filter(reference=match.group(1), service_id=mailbox.service_id)
            .select_related("citizen")
            .first()
        )
        if case is not None and corresponded_with(case, inbound.sender):
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


def already_imported(mailbox: Mailbox, key: str) -> MailMessage | None:
    """The message already imported under this key (its source and text are not read)."""
    return MailMessage.objects.filter(mailbox=mailbox, key=key).defer("raw", "body").first()


def import_message(mailbox: Mailbox, raw: bytes, uid: int | None = None) -> ImportResult:
    """Import one message onto a case, at most once; commits before returning."""
    try:
        inbound = parse(raw)
    except Unreadable as exc:
        return ImportResult("quarantined", quarantined=quarantine(mailbox, raw, str(exc), uid))
    existing = already_imported(mailbox, inbound.key)
    if existing is not None:
        return ImportResult("duplicate", existing)
    accepted, refused = check_attachments(inbound.attachments)
    try:
        with transaction.atomic():
            return _store(mailbox, raw, inbound, accepted, refused)
    except IntegrityError:
        # Imported meanwhile by another worker: the unique key kept it once.
        existing = already_imported(mailbox, inbound.key)
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
        sender_verified=inbound.verified.verified,
    )
    if inbound.report is not None:
        # A bounce: recorded on the message that bounced and on its case, never answered.
        message.status = MailMessage.Status.BOUNCE
        record_bounce(inbound.report, message)
        message.save()
        return ImportResult("bounce", message)
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
    if not inbound.verified.verified:
        # Never shown as a citizen's: the unidentified sender's case, marked for the agents.
        payload["unverified_sender"] = inbound.verified.reason
    if case is None:
        citizen = verified_citizen(inbound.sender) if inbound.verified.verified else None
        if citizen is None:
            payload["unidentified_sender"] = inbound.sender
        # The knowledge engine reads the topic in the subject and the first lines (a topic of
        # the mailbox's service); the mailbox's default topic otherwise.
        guessed = guess_topic(f"{inbound.subject}\n{display}", service=mailbox.service)
        payload["topic_guessed"] = guessed is not None
        case, event = open_case(
            citizen=citizen or unidentified_sender(),
            topic=guessed or mailbox.default_topic,
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
    if outcome == "created":
        acknowledge(case, message)
    if not inbound.verified.verified:
        add_event(
            case,
            Event.Type.NOTE,
            channel=Channel.EMAIL,
            internal=True,
            body=_(
                "Expéditeur non vérifié (%(address)s) : %(reason)s. L'adresse de l'expéditeur "
                "peut être usurpée : n'agissez pas sur la foi de ce courriel seul."
            )
            % {"address": inbound.sender, "reason": inbound.verified.reason},
            payload={"unverified_sender": inbound.verified.reason},
        )
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


def service_addresses(
    sender: Any, *, service_ids: list[int], **kwargs: Any
) -> dict[int, list[str]]:
    """Receiver of ``contactcenter.signals.service_contact_emails``: the enabled mailboxes'
    functional addresses of each service (the public contact page shows them)."""
    found: dict[int, list[str]] = {}
    rows = Mailbox.objects.filter(service_id__in=service_ids, enabled=True).order_by("address")
    for service_id, address in rows.values_list("service_id", "address"):
        found.setdefault(service_id, []).append(address)
    return found
