"""Queues: which cases wait, in which order, and a case's place and estimated wait.

A queue is the set of cases with ``status = new``, no owner, of one service and skill (the
topic's skill), per channel group; a callback enters its queue at its slot time. Order:
head-of-queue priority, fragility, SLA deadline, arrival (``QUEUE_ORDER``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from contactcenter.models import AgentProfile, Case, Channel, User

from .capacity import CHANNEL_GROUPS, channel_group
from .models import AgentPresence, CallbackRequest


def queued_cases() -> QuerySet[Case]:
    """Cases waiting in a queue (any service): new, unassigned, callback slot reached."""
    now = timezone.now()
    return Case.objects.filter(status=Case.Status.NEW, assigned_to__isnull=True).filter(
        ~Q(channel=Channel.CALLBACK)
        | Q(callback__status=CallbackRequest.Status.SCHEDULED, callback__slot_start__lte=now)
    )


QUEUE_ORDER = ("-priority", "-fragile", F("sla_deadline").asc(nulls_last=True), "created_at", "id")


def queue_for_case(case: Case) -> QuerySet[Case]:
    """The queue a case belongs to: same service, same skill, same channel group, in order."""
    topic_filter = (
        Q(topic__skill_id=case.topic.skill_id)
        if case.topic.skill_id
        else Q(topic__skill__isnull=True)
    )
    return (
        queued_cases()
        .filter(service_id=case.service_id, channel__in=CHANNEL_GROUPS[channel_group(case.channel)])
        .filter(topic_filter)
        .order_by(*QUEUE_ORDER)
    )


def agent_queue(agent: User) -> QuerySet[Case]:
    """What an agent may pick: queued cases of their services and skills, best first."""
    profile = AgentProfile.objects.filter(user=agent).first()
    if profile is None:
        return Case.objects.none()
    skill_ids = list(profile.skills.values_list("id", flat=True))
    return (
        queued_cases()
        .filter(service__in=profile.services.all())
        .filter(Q(topic__skill__isnull=True) | Q(topic__skill_id__in=skill_ids))
        .order_by(*QUEUE_ORDER)
    )


def queue_position(case: Case) -> tuple[int, int | None]:
    """(1-based position, estimated wait in seconds or None) of a queued case.

    (0, 0) when the case is not waiting any more. The estimate is position x average handling
    time of the service's recent cases of that channel group / chat slots of the available
    agents able to take it; None when no such agent is available (no meaningful estimate).
    """
    case = Case.objects.select_related("topic").get(pk=case.pk)
    if case.status != Case.Status.NEW or case.assigned_to_id is not None:
        return 0, 0
    ids = list(queue_for_case(case).values_list("id", flat=True))
    if case.pk not in ids:
        return 0, 0
    position = ids.index(case.pk) + 1
    group = channel_group(case.channel)
    slots = _available_slots(case.service_id, case.topic.skill_id, group)
    if slots == 0:
        return position, None
    recent = (
        Case.objects.filter(
            service_id=case.service_id,
            channel__in=CHANNEL_GROUPS[group],
            closed_at__isnull=False,
            assigned_at__isnull=False,
            closed_at__gte=timezone.now() - timedelta(days=14),
        )
        .order_by("-closed_at")
        .values_list("assigned_at", "closed_at")[:50]
    )
    durations = [
        (c - a).total_seconds() for a, c in recent if a is not None and c is not None and c > a
    ]
    handle = sum(durations) / len(durations) if durations else DEFAULT_HANDLE_SECONDS[group]
    return position, int(math.ceil(position / slots * handle))


DEFAULT_HANDLE_SECONDS = {"chat": 300, "phone": 420, "web": 3600}


def _available_slots(service_id: int, skill_id: int | None, group: str) -> int:
    agents = AgentPresence.objects.filter(
        status=AgentPresence.Status.AVAILABLE,
        user__role=User.Role.AGENT,
        user__is_active=True,
        user__agent_profile__services=service_id,
    )
    if skill_id:
        agents = agents.filter(user__agent_profile__skills=skill_id)
    return sum(p.capacity_for(group) for p in agents.distinct())


# The channel groups whose wait is live (a written message is answered within its deadline).
LIVE_GROUPS = ("chat", "phone")
HANDLE_WINDOW = timedelta(days=14)


def estimated_waits(service_ids: Iterable[int]) -> dict[int, dict[str, int | None]]:
    """The wait a contact arriving now would have, per live channel group, of each service:
    ``{service_id: {"chat": seconds, "phone": seconds}}``, ``None`` when no agent of the
    service is available in that group. As ``queue_position``: the queue's length (plus the
    newcomer) x the service's average handling time of that group over the last 14 days /
    the available agents' slots. Three grouped queries whatever the number of services;
    skills are not told apart (a service-wide figure)."""
    ids = list(service_ids)
    if not ids:
        return {}
    queued: dict[tuple[int, str], int] = defaultdict(int)
    for row in (
        queued_cases()
        .filter(service_id__in=ids)
        .values("service_id", "channel")
        .annotate(n=Count("id"))
        .order_by()
    ):
        queued[(row["service_id"], channel_group(row["channel"]))] += row["n"]
    slots: dict[tuple[int, str], int] = defaultdict(int)
    for service_id, chat, phone in (
        AgentPresence.objects.filter(
            status=AgentPresence.Status.AVAILABLE,
            user__role=User.Role.AGENT,
            user__is_active=True,
            user__agent_profile__services__in=ids,
        )
        .values_list("user__agent_profile__services", "capacity_chat", "capacity_phone")
        .distinct()
    ):
        slots[(service_id, "chat")] += chat
        slots[(service_id, "phone")] += phone
    live = [channel for group in LIVE_GROUPS for channel in CHANNEL_GROUPS[group]]
    totals: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in (
        Case.objects.filter(
            service_id__in=ids,
            channel__in=live,
            assigned_at__isnull=False,
            closed_at__gt=F("assigned_at"),
            closed_at__gte=timezone.now() - HANDLE_WINDOW,
        )
        .values("service_id", "channel")
        .annotate(n=Count("id"), total=Sum(F("closed_at") - F("assigned_at")))
        .order_by()
    ):
        total = totals[(row["service_id"], channel_group(row["channel"]))]
        total[0] += row["n"]
        total[1] += row["total"].total_seconds() if row["total"] else 0.0
    result: dict[int, dict[str, int | None]] = {}
    for service_id in ids:
        waits: dict[str, int | None] = {}
        for group in LIVE_GROUPS:
            key = (service_id, group)
            count, seconds = totals[key]
            handle = seconds / count if count else DEFAULT_HANDLE_SECONDS[group]
            waits[group] = (
                int(math.ceil((queued[key] + 1) / slots[key] * handle)) if slots[key] else None
            )
        result[service_id] = waits
    return result
