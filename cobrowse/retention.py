"""Retention of co-browsing sessions (contactcenter/retention.py, docs/operations.md): the
pages visited go, the session (who, when, how it ended) stays for the statistics. Nothing of
the shared screen is ever stored (the stream goes from socket to socket)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from contactcenter.retention import ANONYMISE, Kind, register

from .models import CobrowseSession


def _sessions(cutoff: datetime) -> QuerySet:
    return (
        CobrowseSession.objects.filter(created_at__lt=cutoff)
        .exclude(status__in=CobrowseSession.LIVE_STATUSES)
        .exclude(pages=[])
    )


register(
    Kind(
        name="cobrowse_sessions",
        label="Pages parcourues pendant les sessions d'aide à distance",
        action=ANONYMISE,
        candidates=_sessions,
        purge=lambda rows: rows.update(pages=[]),
        describe=lambda row: f"session {row.pk} ({row.created_at:%Y-%m-%d})",
    )
)
