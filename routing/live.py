"""The supervisor live view: queues (waiting, oldest wait, breaches, at risk, callbacks) and
agents (status, load, time in status) of the services a supervisor supervises."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

from contactcenter.models import Case, Service, Topic, User

from .capacity import ACTIVE_STATUSES, CHANNEL_GROUPS, channel_group
from .models import AgentPresence, CallbackRequest
from .presence import STATUS_DISPLAY, effective_status, supervised_services
from .queues import queued_cases
from .signals import agent_activities, live_sections
from .sla import AT_RISK, sla_state


@dataclass
class QueueRow:
    service: Service
    skill_name: str
    waiting: int = 0
    oldest_wait: timedelta | None = None
    breached: int = 0
    at_risk: int = 0
    scheduled_callbacks: int = 0


@dataclass
class AgentRow:
    agent: User
    presence: AgentPresence | None
    status: str
    loads: dict[str, int]
    capacities: dict[str, int]
    since: datetime | None
    in_status: timedelta | None = None
    label: str = ""

    @property
    def status_label(self) -> StrOrPromise:
        return self.label or STATUS_DISPLAY[self.status]


@dataclass
class AgentActivity:
    """What a channel says an agent is doing (``routing.signals.agent_activities``), shown in
    the live view instead of the presence status: ``status`` is a short code (also the badge's
    style), ``label`` its French text, ``since`` when it started."""

    status: str
    label: str
    since: datetime


@dataclass
class LiveSection:
    """A table a channel adds to the live view (``routing.signals.live_sections``): cells are
    numbers, text or durations (``timedelta``, shown like the queues' waits)."""

    title: str
    caption: str
    headers: list[str]
    rows: list[list[Any]]


def live_view(user: User, now: datetime | None = None) -> dict[str, Any]:
    """Queues (waiting, oldest wait, breaches, at risk) and agents (status, load, time in
    status) of the services a supervisor supervises. Read-only; a few grouped queries."""
    now = now or timezone.now()
    services = list(supervised_services(user))
    service_ids = [s.pk for s in services]
    rows: dict[tuple[int, int | None], QueueRow] = {}
    by_service = {s.pk: s for s in services}
    for topic in Topic.objects.filter(service_id__in=service_ids).select_related("skill"):
        key = (topic.service_id, topic.skill_id)
        if key not in rows:
            rows[key] = QueueRow(
                service=by_service[topic.service_id],
                skill_name=topic.skill.name if topic.skill else _("Sans compétence"),
            )
    # Counted in the database: a queue can hold tens of thousands of contacts.
    for service_id, skill_id, n, oldest in (
        queued_cases()
        .filter(service_id__in=service_ids)
        .order_by()
        .values_list("service_id", "topic__skill_id")
        .annotate(n=Count("id"), oldest=Min("created_at"))
    ):
        row = rows.get((service_id, skill_id))
        if row is None:
            continue
        row.waiting += n
        wait = now - oldest
        if row.oldest_wait is None or wait > row.oldest_wait:
            row.oldest_wait = wait
    running = (Case.Status.NEW, Case.Status.ASSIGNED, Case.Status.IN_PROGRESS)
    late = Q(sla_breached=True) | Q(sla_deadline__lt=now, first_response_at__isnull=True)
    for service_id, skill_id, n in (
        Case.objects.filter(service_id__in=service_ids, status__in=running)
        .filter(late)
        .values_list("service_id", "topic__skill_id")
        .annotate(n=Count("id"))
    ):
        row = rows.get((service_id, skill_id))
        if row is not None:
            row.breached += n
    # At risk needs business time: only cases due within a week can be (25 % of the budget).
    soon = Case.objects.filter(
        service_id__in=service_ids,
        status__in=running,
        sla_breached=False,
        first_response_at__isnull=True,
        sla_deadline__gte=now,
        sla_deadline__lte=now + timedelta(days=7),
    ).select_related("topic")
    for case in soon:
        row = rows.get((case.service_id, case.topic.skill_id))
        if row is not None and sla_state(case, now) == AT_RISK:
            row.at_risk += 1
    for service_id, skill_id in CallbackRequest.objects.filter(
        status=CallbackRequest.Status.SCHEDULED,
        case__service_id__in=service_ids,
        slot_start__gt=now,
    ).values_list("case__service_id", "case__topic__skill_id"):
        row = rows.get((service_id, skill_id))
        if row is not None:
            row.scheduled_callbacks += 1

    agents = list(
        User.objects.filter(
            role=User.Role.AGENT, is_active=True, agent_profile__services__in=service_ids
        )
        .distinct()
        .order_by("last_name", "first_name")
    )
    presences = {p.pk: p for p in AgentPresence.objects.filter(pk__in=[a.pk for a in agents])}
    loads: dict[int, dict[str, int]] = {a.pk: dict.fromkeys(CHANNEL_GROUPS, 0) for a in agents}
    for agent_id, channel, n in (
        Case.objects.filter(assigned_to__in=agents, status__in=ACTIVE_STATUSES)
        .values_list("assigned_to_id", "channel")
        .annotate(n=Count("id"))
    ):
        loads[agent_id][channel_group(channel)] += n
    activities: dict[int, AgentActivity] = {}
    for _receiver, answer in agent_activities.send(
        sender=AgentActivity, agent_ids=list(loads), now=now
    ):
        if isinstance(answer, dict):
            activities.update(answer)
    agent_rows = []
    for agent in agents:
        presence = presences.get(agent.pk)
        capacities = {g: (presence or AgentPresence()).capacity_for(g) for g in CHANNEL_GROUPS}
        agent_rows.append(
            AgentRow(
                agent=agent,
                presence=presence,
                status=effective_status(presence, loads[agent.pk]),
                loads=loads[agent.pk],
                capacities=capacities,
                since=presence.status_since if presence else None,
                in_status=(now - presence.status_since) if presence else None,
            )
        )
        activity = activities.get(agent.pk)
        if activity is not None:
            shown = agent_rows[-1]
            shown.status, shown.label = activity.status, activity.label
            shown.since, shown.in_status = activity.since, now - activity.since
    queue_rows = sorted(rows.values(), key=lambda r: (r.service.name, str(r.skill_name)))
    sections = [
        section
        for _receiver, section in live_sections.send(
            sender=LiveSection, service_ids=service_ids, now=now
        )
        if isinstance(section, LiveSection)
    ]
    return {
        "sections": sections,
        "queues": queue_rows,
        "agents": agent_rows,
        "now": now,
        "total_waiting": sum(r.waiting for r in queue_rows),
        "total_breached": sum(r.breached for r in queue_rows),
        "services": services,
    }
