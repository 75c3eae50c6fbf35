"""Service-level targets: deadline of a case in business time, and its state (ok/at risk/breached).

The target measures the first answer: a case meets its SLA when ``first_response_at`` is set
before ``sla_deadline`` (for a callback: when the call is made within the booked slot).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from contactcenter.models import Case, Channel, Event
from contactcenter.services import add_event

from .calendar import calendar_for

# (amount, unit) per channel when no SlaPolicy row matches.
DEFAULT_TARGETS: dict[str, tuple[int, str]] = {
    Channel.WEB: (2, "days"),
    Channel.EMAIL: (2, "days"),
    Channel.LETTER: (5, "days"),
    Channel.CHAT: (5, "minutes"),
    Channel.CHATBOT: (5, "minutes"),
    Channel.COBROWSE: (5, "minutes"),
    Channel.PHONE: (4, "hours"),
    Channel.COUNTER: (4, "hours"),
}
# Share of the business-time budget left under which an open case is "at risk".
AT_RISK_SHARE = 0.25

OK, AT_RISK, BREACHED = "ok", "at_risk", "breached"


_policy_cache: dict = {"at": -1.0, "rows": []}
_policy_lock = threading.Lock()
POLICY_CACHE_SECONDS = 60.0


def _policies() -> list:
    """Every SlaPolicy row, cached per process for a minute (cleared when one is saved)."""
    now = time.monotonic()
    with _policy_lock:
        if now - _policy_cache["at"] < POLICY_CACHE_SECONDS:
            return _policy_cache["rows"]
    from .models import SlaPolicy

    rows = list(SlaPolicy.objects.values_list("service_id", "channel", "kind", "amount", "unit"))
    with _policy_lock:
        _policy_cache.update(at=now, rows=rows)
    return rows


def clear_policy_cache(*args, **kwargs) -> None:
    with _policy_lock:
        _policy_cache["at"] = -1.0


def target_for(case: Case) -> tuple[int, str] | None:
    """(amount, unit) for the case: most specific SlaPolicy row, else the default."""
    best = None
    best_rank = -1
    for service_id, channel, kind, amount, unit in _policies():
        if channel != case.channel or (service_id and service_id != case.service_id):
            continue
        if kind and kind != case.kind:
            continue
        rank = (2 if service_id else 0) + (1 if kind else 0)
        if rank > best_rank:
            best, best_rank = (amount, unit), rank
    if best is not None:
        return best
    return DEFAULT_TARGETS.get(case.channel)


def deadline_for(case: Case, start: datetime | None = None) -> datetime | None:
    """The SLA deadline of a case counted from ``start`` (default: its creation)."""
    if case.channel == Channel.CALLBACK:
        callback = getattr(case, "callback", None)
        return callback.slot_end if callback is not None else None
    target = target_for(case)
    if target is None:
        return None
    amount, unit = target
    start = start or case.created_at
    cal = calendar_for(case.service_id)
    if unit == "days":
        return cal.add_working_days(start, amount)
    delta = timedelta(hours=amount) if unit == "hours" else timedelta(minutes=amount)
    return cal.add_business_time(start, delta)


def sla_state(case: Case, now: datetime | None = None) -> str:
    """ "ok", "at_risk" or "breached" for the console and the supervisor view."""
    if case.sla_deadline is None:
        return OK
    if case.sla_breached:
        return BREACHED
    if case.first_response_at is not None:
        return BREACHED if case.first_response_at > case.sla_deadline else OK
    if case.status not in Case.OPEN_STATUSES or case.status == Case.Status.WAITING_CITIZEN:
        # Answered or waiting on the citizen: the clock is not running on the service.
        return OK
    now = now or timezone.now()
    if now >= case.sla_deadline:
        return BREACHED
    cal = calendar_for(case.service_id)
    budget = cal.business_time_between(case.created_at, case.sla_deadline)
    left = cal.business_time_between(now, case.sla_deadline)
    if budget <= timedelta(0):
        return AT_RISK
    return AT_RISK if left / budget <= AT_RISK_SHARE else OK


def missing_deadline(case: Case) -> datetime | None:
    """The SLA deadline to store on a case that has none yet (None if it has one)."""
    if case.sla_deadline is not None:
        return None
    return deadline_for(case)


def ensure_deadline(case: Case) -> None:
    """Store the case's SLA deadline if it has none (conditional update)."""
    deadline = missing_deadline(case)
    if deadline is not None:
        Case.objects.filter(pk=case.pk, sla_deadline__isnull=True).update(sla_deadline=deadline)
        case.sla_deadline = deadline


def flag_sla_breaches(now: datetime | None = None) -> list[int]:
    """Flag open cases past their deadline without a first answer (beat). Idempotent: the
    flag is set with a conditional update, the timeline event written once per case."""
    now = now or timezone.now()
    late = Case.objects.filter(
        sla_breached=False,
        sla_deadline__lt=now,
        status__in=(Case.Status.NEW, Case.Status.ASSIGNED, Case.Status.IN_PROGRESS),
        first_response_at__isnull=True,
    ).values_list("pk", flat=True)
    answered_late = Case.objects.filter(
        sla_breached=False, first_response_at__gt=F("sla_deadline")
    ).values_list("pk", flat=True)
    flagged = []
    for case_id in list(late[:1000]) + list(answered_late[:1000]):
        with transaction.atomic():
            if Case.objects.filter(pk=case_id, sla_breached=False).update(sla_breached=True):
                case = Case.objects.get(pk=case_id)
                add_event(
                    case,
                    Event.Type.SLA,
                    internal=True,
                    payload={"deadline": case.sla_deadline.isoformat(), "breached": True},
                    touch=False,
                    at=now,
                )
                flagged.append(case_id)
    return flagged


def set_missing_deadlines(limit: int = 1000) -> int:
    """Give a deadline to open cases that have none (created before routing ran)."""
    count = 0
    for case in Case.objects.filter(
        sla_deadline__isnull=True, status__in=Case.OPEN_STATUSES
    ).select_related("topic")[:limit]:
        ensure_deadline(case)
        count += case.sla_deadline is not None
    return count
