"""The voice server's calls in the supervisors' live view (routing's ``live_sections``
signal): per service, the calls now in self-service (menu, self-service steps), waiting for an
agent, with an agent, and on hold, and the longest wait. The agents whose call is on hold are
shown as such, with the time the hold started (``agent_activities``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Min, Q
from django.utils.translation import gettext as _

from contactcenter.models import Service
from routing.live import AgentActivity, LiveSection

from .models import Call


def calls_section(
    sender: Any, *, service_ids: list[int], now: datetime, **kwargs: Any
) -> LiveSection | None:
    if not service_ids:
        return None
    waiting = Q(queued_at__isnull=False, answered_at__isnull=True)
    counts = {
        row["service_id"]: row
        for row in Call.objects.filter(service_id__in=service_ids, ended_at__isnull=True)
        .order_by()
        .values("service_id")
        .annotate(
            menu=Count("id", filter=Q(queued_at__isnull=True)),
            waiting=Count("id", filter=waiting),
            agent=Count("id", filter=Q(answered_at__isnull=False)),
            held=Count("id", filter=Q(answered_at__isnull=False, on_hold=True)),
            oldest=Min("queued_at", filter=waiting),
        )
    }
    rows = []
    for service in Service.objects.filter(pk__in=service_ids).order_by("name"):
        row = counts.get(service.pk, {})
        oldest = row.get("oldest")
        rows.append(
            [
                service.name,
                row.get("menu", 0),
                row.get("waiting", 0),
                (now - oldest) if oldest else None,
                row.get("agent", 0),
                row.get("held", 0),
            ]
        )
    return LiveSection(
        title=_("Appels en cours"),
        caption=_("Appels du serveur vocal par service"),
        headers=[
            _("Service"),
            _("Dans le menu"),
            _("En attente d'un conseiller"),
            _("Attente la plus longue"),
            _("Avec un conseiller"),
            _("Mis en attente par le conseiller"),
        ],
        rows=rows,
    )


def held_agents(
    sender: Any, *, agent_ids: list[int], now: datetime, **kwargs: Any
) -> dict[int, AgentActivity]:
    """The agents among ``agent_ids`` whose answered call is now on hold, since when."""
    label = _("Appel en attente")
    return {
        agent_id: AgentActivity(status="on_hold", label=label, since=since or now)
        for agent_id, since in Call.objects.filter(
            agent_id__in=agent_ids,
            answered_at__isnull=False,
            ended_at__isnull=True,
            on_hold=True,
        ).values_list("agent_id", "held_since")
    }
