"""The quarantine in the console: staff of a mailbox's service read the messages that could
not be imported, release one onto a case or delete it. Reading a source is audited like an
attachment; releasing and deleting are kept on the row (who, when)."""

from __future__ import annotations

import email.utils

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.exceptions import InvalidState, NotFound
from contactcenter.models import AuditLog, Case, Channel, User
from contactcenter.permissions import record_access, user_service_ids
from contactcenter.services import open_case

from .headers import message_key
from .models import MailMessage, QuarantinedMail
from .services import MAX_BODY_CHARS, import_message, unidentified_sender

SOURCE_PREVIEW_CHARS = 50_000


def visible_quarantine(user: User) -> QuerySet[QuarantinedMail]:
    """The messages waiting in the quarantine of the user's services' mailboxes."""
    return (
        QuarantinedMail.objects.filter(
            mailbox__service_id__in=user_service_ids(user),
            status=QuarantinedMail.Status.PENDING,
        )
        .select_related("mailbox__service")
        .defer("raw")
    )


def get_item(user: User, pk: int) -> QuarantinedMail:
    item = (
        QuarantinedMail.objects.filter(pk=pk, mailbox__service_id__in=user_service_ids(user))
        .select_related("mailbox__service", "case")
        .first()
    )
    if item is None:
        raise NotFound(_("Courriel introuvable"))
    return item


def read_source(user: User, item: QuarantinedMail) -> str:
    """The source as text for display (audited)."""
    record_access(
        user,
        AuditLog.Action.VIEW_ATTACHMENT,
        detail={"quarantined_mail": item.pk, "mailbox": item.mailbox.address},
    )
    return bytes(item.raw or b"")[:SOURCE_PREVIEW_CHARS].decode("utf-8", "replace")


def _lenient_sender(raw: bytes) -> str:
    for line in raw[:20_000].decode("latin-1").splitlines():
        if line.lower().startswith("from:"):
            address = email.utils.parseaddr(line[5:].strip())[1].lower()
            if "@" in address:
                return address
    return ""


def _handled(item: QuarantinedMail, user: User, status: str, case: Case | None) -> None:
    updated = QuarantinedMail.objects.filter(
        pk=item.pk, status=QuarantinedMail.Status.PENDING
    ).update(status=status, handled_by=user, handled_at=timezone.now(), case=case)
    if not updated:
        raise InvalidState(_("Ce courriel a déjà été traité."))
    item.status, item.case = status, case


def release(item: QuarantinedMail, user: User) -> Case:
    """Import the message again (a reader fixed since); if it is still unreadable, open a case
    of the unidentified sender with its source as text, for an agent to read."""
    if item.status != QuarantinedMail.Status.PENDING:
        raise InvalidState(_("Ce courriel a déjà été traité."))
    raw = bytes(item.raw or b"")
    with transaction.atomic():
        result = import_message(item.mailbox, raw, uid=item.uid)
        case = result.message.case if result.message is not None else None
        if case is None:
            sender = _lenient_sender(raw)
            text = raw[:MAX_BODY_CHARS].decode("utf-8", "replace")
            case, event = open_case(
                citizen=unidentified_sender(),
                topic=item.mailbox.default_topic,
                kind=Case.Kind.QUESTION,
                channel=Channel.EMAIL,
                subject=_("Courriel libéré de la quarantaine"),
                body=text,
                payload={"unidentified_sender": sender, "quarantine": item.pk},
            )
            MailMessage.objects.get_or_create(
                mailbox=item.mailbox,
                key=message_key("", raw),
                defaults={
                    "direction": MailMessage.Direction.INBOUND,
                    "status": MailMessage.Status.IMPORTED,
                    "sender": sender,
                    "recipient": item.mailbox.address,
                    "subject": _("Courriel libéré de la quarantaine"),
                    "case": case,
                    "event": event,
                    "body": text,
                    "raw": raw,
                },
            )
        _handled(item, user, QuarantinedMail.Status.RELEASED, case)
    return case


def discard(item: QuarantinedMail, user: User) -> None:
    """Delete a quarantined message: its source is erased, the row says who and when."""
    with transaction.atomic():
        _handled(item, user, QuarantinedMail.Status.DELETED, None)
        QuarantinedMail.objects.filter(pk=item.pk).update(raw=b"")
