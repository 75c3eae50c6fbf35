"""The citizen's file ready in the agent's workstation 5 minutes before an appointment.

Celery beat runs ``tasks.open_due_panels`` every minute: each booked appointment starting
within ``PANEL_LEAD`` is claimed once (a conditional update of ``panel_opened_at``), then the
core ``screen_pop`` signal asks the agent's workstation to open its case in a tab (in the
background: the agent may be busy with another contact) with the appointment's context
(``appointment``: topic, mode, time, place, documents to bring, case), which the console
pushes over the agent's presence socket. The context is also kept in the cache under the case
until the appointment ends (dropped when it is cancelled or marked): the citizen panel of that
case shows it whenever it is loaded (``panel_context``, no query added to the panel).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from contactcenter.models import Case
from contactcenter.signals import screen_pop
from routing.calendar import local_tz

from .models import Appointment, Mode

PANEL_LEAD = timedelta(minutes=5)


def _key(case_id: int) -> str:
    return f"appointments:panel:{case_id}"


def context(appointment: Appointment) -> dict[str, Any]:
    """What the agent needs before the citizen arrives (JSON-serialisable)."""
    atype = appointment.type
    local = appointment.start.astimezone(local_tz())
    time_text = formats.time_format(local, "H:i")
    mode = Mode(appointment.mode).label
    return {
        "id": appointment.pk,
        "topic": atype.topic.title,
        "mode": appointment.mode,
        "mode_label": str(mode),
        "start": appointment.start.isoformat(),
        "time": time_text,
        "address": atype.address if appointment.mode == Mode.ON_SITE else "",
        "documents": atype.document_list,
        "case": appointment.case.reference if appointment.case is not None else "",
        "notice": _("Rendez-vous à %(time)s (%(mode)s) : %(topic)s.")
        % {"time": time_text, "mode": str(mode).lower(), "topic": atype.topic.title},
    }


def open_due_panels(now: datetime | None = None) -> int:
    """Ask the workstations to open the files of the appointments starting within
    ``PANEL_LEAD``, each once; returns how many were opened."""
    now = now or timezone.now()
    due = (
        Appointment.objects.filter(
            status=Appointment.Status.BOOKED,
            start__gt=now,
            start__lte=now + PANEL_LEAD,
            panel_opened_at__isnull=True,
            case__isnull=False,
        )
        .select_related("type__topic", "case")
        .order_by("start")[:500]
    )
    opened = 0
    for appointment in due:
        case_id = appointment.case_id
        if case_id is None:
            continue
        with transaction.atomic():
            claimed = Appointment.objects.filter(
                pk=appointment.pk, panel_opened_at__isnull=True
            ).update(panel_opened_at=now)
            if claimed != 1:
                continue  # another worker got there first
            info = context(appointment)
            ttl = int((appointment.end - now).total_seconds())
            cache.set(_key(case_id), info, max(ttl, 1))
            screen_pop.send(
                sender=Appointment,
                case_id=case_id,
                agent_id=appointment.agent_id,
                focus=False,
                appointment=info,
            )
            opened += 1
    return opened


def panel_context(case: Case) -> dict[str, Any] | None:
    """The appointment of ``case`` whose file was opened and that has not ended, or None."""
    return cache.get(_key(case.pk))


def forget(appointment: Appointment) -> None:
    """The appointment was cancelled or marked: its context leaves the panel."""
    if appointment.case_id:
        cache.delete(_key(appointment.case_id))
