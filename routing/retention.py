"""Retention of callback requests (contactcenter/retention.py, docs/operations.md): the phone
number goes once the case is closed, the callback (slot, attempts, outcome) stays."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from contactcenter.retention import ANONYMISE, Kind, closed_before, register

from .models import CallbackRequest


def _callbacks(cutoff: datetime) -> QuerySet:
    return CallbackRequest.objects.filter(closed_before(cutoff, "case__")).exclude(phone="")


register(
    Kind(
        name="callbacks",
        label="Numéros des demandes de rappel des demandes clôturées",
        action=ANONYMISE,
        candidates=_callbacks,
        purge=lambda rows: rows.update(phone=""),
        describe=lambda row: f"rappel #{row.pk} ({row.created_at:%Y-%m-%d})",
    )
)
