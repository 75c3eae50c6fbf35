"""Queues: which cases wait, in which order, and a case's place and estimated wait.

A queue is the set of cases with ``status = new``, no owner, of one service and skill (the
topic's skill), per channel group; a callback enters its queue at its slot time. Order:
head-of-queue priority, fragility, SLA deadline, arrival (``QUEUE_ORDER``).
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.db.models import F, Q
from django.utils import timezone

from contactcenter.models import AgentProfile, Case, Channel, User

from .capacity import CHANNEL_GROUPS, channel_group
from .models import AgentPresence, CallbackRequest


def queued_cases():
    """Cases waiting in a queue (any service): new, unassigned, callback slot reached."""
    now = timezone.now()
    return Case.objects.filter(status=Case.Status.NEW, assigned_to__isnull=True).filter(
        ~Q(channel=Channel.CALLBACK)
        | Q(callback__status=CallbackRequest.Status.SCHEDULED, callback__slot_start__lte=now)
    )


QUEUE_ORDER = ("-priority", "-fragile", F("sla_deadline").asc(nulls_last=True), "created_at", "id")


def queue_for_case(case: Case):
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


def agent_queue(agent: User):
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
    durations = [(c - a).total_seconds() for a, c in recent if c > a]
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
