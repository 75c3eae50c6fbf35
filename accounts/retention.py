"""Retention of the login history (contactcenter/retention.py, docs/operations.md): django-axes'
logs of logins and failed logins (login, address, browser) are deleted. The anonymous login
counts of the dashboard (``contactcenter.LoginEvent``: a role and a time) are kept."""

from __future__ import annotations

from datetime import datetime

from axes.models import AccessFailureLog, AccessLog
from django.db.models import QuerySet

from contactcenter.retention import DELETE, Kind, register


def _logins(cutoff: datetime) -> QuerySet:
    return AccessLog.objects.filter(attempt_time__lt=cutoff)


def _failures(cutoff: datetime) -> QuerySet:
    return AccessFailureLog.objects.filter(attempt_time__lt=cutoff)


register(
    Kind(
        name="login_history",
        label="Historique des connexions (identifiant, adresse IP, navigateur)",
        action=DELETE,
        candidates=_logins,
        purge=lambda rows: rows.delete(),
        describe=lambda row: f"connexion #{row.pk} ({row.attempt_time:%Y-%m-%d})",
    )
)
register(
    Kind(
        name="login_failures",
        label="Échecs de connexion (identifiant, adresse IP, navigateur)",
        action=DELETE,
        candidates=_failures,
        purge=lambda rows: rows.delete(),
        describe=lambda row: f"échec #{row.pk} ({row.attempt_time:%Y-%m-%d})",
    )
)
