"""Retention kinds of the secure messaging (contactcenter/retention.py, docs/operations.md)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from contactcenter.retention import ANONYMISE, DELETE, Kind, closed_before, delete_files, register

from .models import Attachment, Notification


def _attachments(cutoff: datetime) -> QuerySet:
    return Attachment.objects.filter(closed_before(cutoff, "case__"))


def _purge_attachments(rows: QuerySet) -> None:
    delete_files(rows)
    rows.delete()


def _notifications(cutoff: datetime) -> QuerySet:
    # Sent, failed or cancelled ones only: what is still to send keeps its address.
    return (
        Notification.objects.filter(created_at__lt=cutoff)
        .exclude(status__in=("pending", "sending"))
        .filter(~Q(address="") | ~Q(text="") | ~Q(subject=""))
    )


register(
    Kind(
        name="attachments",
        label="Pièces jointes des demandes clôturées (fichiers)",
        action=DELETE,
        candidates=_attachments,
        purge=_purge_attachments,
        describe=lambda row: f"#{row.pk} ({row.size} octets, {row.created_at:%Y-%m-%d})",
    )
)
register(
    Kind(
        name="notifications",
        label="Alertes envoyées (adresse, texte)",
        action=ANONYMISE,
        candidates=_notifications,
        purge=lambda rows: rows.update(address="", subject="", text="", provider_id=""),
        describe=lambda row: f"#{row.pk} {row.channel} {row.kind} {row.created_at:%Y-%m-%d}",
    )
)
