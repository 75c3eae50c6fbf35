"""Retention of call records (contactcenter/retention.py, docs/operations.md): the caller's
number goes, the call (times, menu path, outcome) stays for the statistics. No audio of a
conversation is ever recorded."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from contactcenter.retention import ANONYMISE, Kind, register

from .models import Call


def _calls(cutoff: datetime) -> QuerySet:
    return Call.objects.filter(started_at__lt=cutoff).exclude(caller="")


register(
    Kind(
        name="call_records",
        label="Numéros des appelants du serveur vocal",
        action=ANONYMISE,
        candidates=_calls,
        purge=lambda rows: rows.update(caller=""),
        describe=lambda row: f"appel #{row.pk} ({row.started_at:%Y-%m-%d})",
    )
)
