"""Retention of e-mails (contactcenter/retention.py, docs/operations.md): the source, text,
addresses, subject and attachments of e-mails go; the row (mailbox, direction, status, dates,
case, threading key) stays, so that statistics hold and a late reply still finds its case.
Quarantined e-mails already handled lose their source."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from contactcenter.retention import ANONYMISE, Kind, delete_files, register

from .models import MailAttachment, MailMessage, QuarantinedMail

SETTLED = ("imported", "ignored", "sent", "failed", "bounced", "bounce")


def _messages(cutoff: datetime) -> QuerySet:
    files = MailAttachment.objects.filter(message=OuterRef("pk"))
    return MailMessage.objects.filter(created_at__lt=cutoff, status__in=SETTLED).filter(
        ~Q(raw=b"")
        | ~Q(body="")
        | ~Q(sender="")
        | ~Q(recipient="")
        | ~Q(subject="")
        | ~Q(last_error="")
        | Exists(files)
    )


def _purge_messages(messages: QuerySet) -> None:
    files = MailAttachment.objects.filter(message__in=messages)
    delete_files(files)
    files.delete()
    messages.update(
        raw=b"",
        body="",
        sender="",
        recipient="",
        subject="",
        last_error="",
        refused_attachments=[],
    )


def _quarantine(cutoff: datetime) -> QuerySet:
    return (
        QuarantinedMail.objects.filter(created_at__lt=cutoff)
        .exclude(status=QuarantinedMail.Status.PENDING)
        .exclude(raw=b"")
    )


register(
    Kind(
        name="emails",
        label="Courriels reçus et envoyés (source, texte, adresses, pièces jointes)",
        action=ANONYMISE,
        candidates=_messages,
        purge=_purge_messages,
        describe=lambda row: f"courriel #{row.pk} {row.direction} ({row.created_at:%Y-%m-%d})",
    )
)
register(
    Kind(
        name="quarantined_emails",
        label="Source des courriels en quarantaine déjà traités",
        action=ANONYMISE,
        candidates=_quarantine,
        purge=lambda rows: rows.update(raw=b"", error=""),
        describe=lambda row: f"quarantaine #{row.pk} ({row.created_at:%Y-%m-%d})",
    )
)
