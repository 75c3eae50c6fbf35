"""Routing business logic: presence, capacity, queues, atomic assignment, availability, callbacks.

Public contract (used by chat, messaging and the console):

- ``chat_available(topic)``, ``availability_snapshot()``, ``refresh_availability()``;
- ``route_case(case_id)``, ``assign_next(agent)``, ``take_case``, ``release_case``,
  ``assign_case``, ``requeue_case``, ``free_capacity``, ``queue_position``;
- ``set_status``, ``heartbeat``, ``set_capacity``;
- ``sla_state`` (re-exported from ``routing.sla``), ``request_callback``,
  ``record_callback_outcome``, ``callback_slots``.

Atomicity of assignment (DESIGN invariant 2): every path that gives a case to an agent

1. locks the agent's ``AgentPresence`` row (``SELECT ... FOR UPDATE``; the automatic engine uses
   ``SKIP LOCKED`` so that concurrent workers spread over different agents), then
2. runs one conditional ``UPDATE`` of the case: ``WHERE assigned_to IS NULL AND status = 'new'``
   (or the expected previous owner) ``AND <active load of the agent on that channel> <
   <capacity>``, and checks that exactly one row changed.

The lock serialises assignments per agent on PostgreSQL (READ COMMITTED gives each statement a
fresh snapshot, so the load count in the UPDATE sees the previous holder's commit). On SQLite the
single UPDATE statement is itself atomic (one writer at a time).
"""

from __future__ import annotations

import functools
import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, F, Min, Q
from django.db.models.signals import post_save
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contactcenter import hot
from contactcenter.models import (
    AgentProfile,
    Case,
    Channel,
    Event,
    Service,
    Topic,
    Transfer,
    User,
)
from contactcenter.permissions import user_service_ids
from contactcenter.phones import format_phone  # noqa: F401  (re-exported)
from contactcenter.phones import parse_phone as normalize_phone
from contactcenter.services import (
    add_event,
    change_status,
    mark_first_response,
    notify_citizen,
    open_case,
    validate_body,
)
from contactcenter.signals import case_assigned

from .calendar import calendar_for, chat_schedule_text
from .models import CAPACITY_MAX, AgentPresence, CallbackRequest
from .sla import AT_RISK, BREACHED, OK, deadline_for, sla_state  # noqa: F401  (re-exported)

logger = logging.getLogger("routing")

# --- Channels and load -------------------------------------------------------------------------

# Capacity is counted per group of channels: live conversations, voice, written messages.
CHANNEL_GROUPS: dict[str, tuple[str, ...]] = {
    "chat": (Channel.CHAT, Channel.CHATBOT, Channel.COBROWSE),
    "phone": (Channel.PHONE, Channel.CALLBACK, Channel.COUNTER),
    "web": (Channel.WEB, Channel.EMAIL, Channel.LETTER),
}
GROUP_OF: dict[str, str] = {ch: group for group, chans in CHANNEL_GROUPS.items() for ch in chans}
# Chat and callbacks before written messages.
GROUP_ORDER = ("chat", "phone", "web")
GROUP_LABELS = {
    "chat": gettext_lazy("Tchat"),
    "phone": gettext_lazy("Téléphone et rappels"),
    "web": gettext_lazy("Messagerie"),
}
# Only these statuses take a slot: a case waiting on the citizen, answered or closed does not.
ACTIVE_STATUSES = (Case.Status.ASSIGNED, Case.Status.IN_PROGRESS)
# Case.priority given to a contact that goes back to the head of its queue.
HEAD_PRIORITY = 100

OFFLINE_AFTER = timedelta(seconds=60)
REQUEUE_GRACE = timedelta(seconds=30)

AVAILABILITY_GROUP = "availability"
AVAILABILITY_CACHE_KEY = "routing:availability"
AVAILABILITY_PENDING_KEY = "routing:availability:pending"

STATUS_ALIASES = {
    "disponible": AgentPresence.Status.AVAILABLE,
    "en pause": AgentPresence.Status.PAUSED,
    "hors ligne": AgentPresence.Status.OFFLINE,
}


_t = hot.table  # the statements below name many tables


def channel_group(channel: str) -> str:
    return GROUP_OF.get(channel, "web")


def agent_group(agent_id: int) -> str:
    """Channel-layer group of one agent's open consoles."""
    return f"agent-{agent_id}"


def _load_sql(agent_expr: str, group: str) -> str:
    return (
        f"SELECT COUNT(*) FROM {_t(Case)} lc WHERE lc.assigned_to_id = {agent_expr} "  # noqa: S608 (table names and code constants only)
        f"AND lc.status IN {hot.literals(ACTIVE_STATUSES)} "
        f"AND lc.channel IN {hot.literals(CHANNEL_GROUPS[group])}"
    )


def _loads_sql(agent_expr: str, columns: dict[str, str]) -> str:
    """One pass over an agent's active cases counting their load per channel group:
    ``SELECT <count> AS <name>, ...`` for each ``name: group`` of ``columns``."""
    counts = ", ".join(
        f"COUNT(CASE WHEN lc.channel IN {hot.literals(CHANNEL_GROUPS[group])} THEN 1 END) AS {name}"
        for name, group in columns.items()
    )
    return (
        f"SELECT {counts} FROM {_t(Case)} lc WHERE lc.assigned_to_id = {agent_expr} "  # noqa: S608 (table names and code constants only)
        f"AND lc.status IN {hot.literals(ACTIVE_STATUSES)}"
    )


def _lock_suffix(of: str) -> str:
    if connection.features.has_select_for_update_skip_locked:
        return f" FOR UPDATE OF {of} SKIP LOCKED"
    return ""


def agent_loads(agent_id: int) -> dict[str, int]:
    """Active load of an agent per channel group."""
    loads = dict.fromkeys(CHANNEL_GROUPS, 0)
    rows = (
        Case.objects.filter(assigned_to_id=agent_id, status__in=ACTIVE_STATUSES)
        .values_list("channel")
        .annotate(n=Count("id"))
    )
    for channel, n in rows:
        loads[channel_group(channel)] += n
    return loads


def get_presence(agent: User | int) -> AgentPresence:
    """The agent's presence row, created (offline, default capacities) on first use."""
    agent_id = agent if isinstance(agent, int) else agent.pk
    presence, _created = AgentPresence.objects.get_or_create(user_id=agent_id)
    return presence


def free_capacity(agent_id: int, channel: str) -> int:
    """Free slots of an agent for a channel (capacity minus active load, never negative).

    Pure capacity: the agent's status is not taken into account.
    """
    group = channel_group(channel)
    presence = AgentPresence.objects.filter(pk=agent_id).first()
    capacity = presence.capacity_for(group) if presence else AgentPresence().capacity_for(group)
    load = Case.objects.filter(
        assigned_to_id=agent_id, status__in=ACTIVE_STATUSES, channel__in=CHANNEL_GROUPS[group]
    ).count()
    return max(capacity - load, 0)


# --- Publishing -------------------------------------------------------------------------------


def group_send(group: str, message: dict) -> None:
    """Publish on the channel layer; a failure is logged, never raised (we are after commit)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # the layer being down must not break the business operation
        logger.exception("routing: could not publish to %s", group)


def _on_commit(func) -> None:
    transaction.on_commit(func)


def _queue_task(task_name: str, *args, **options) -> None:
    """Queue a routing task after commit (``apply_async_on_commit``: a broker failure is
    logged, the beat sweeps catch up). Tasks are looked up by name: tasks import services."""
    from . import tasks

    getattr(tasks, task_name).apply_async_on_commit(args, **options)


# --- Availability signal ----------------------------------------------------------------------


def compute_availability(service_ids: list[int] | None = None, now=None) -> dict[str, bool]:
    """For each active topic: is the service open and does at least one available agent with
    the topic's skill have a free chat slot right now? One SQL statement."""
    now = now or timezone.now()
    params: list = [AgentPresence.Status.AVAILABLE, User.Role.AGENT]
    service_clause = ""
    if service_ids is not None:
        if not service_ids:
            return {}
        service_clause = "AND t.service_id IN (" + ", ".join(["%s"] * len(service_ids)) + ") "
        params.extend(service_ids)
    sql = (
        f"SELECT t.slug, t.service_id, EXISTS (SELECT 1 FROM {_t(AgentPresence)} p "  # noqa: S608 (table names and code constants only)
        f"JOIN {_t(User)} u ON u.id = p.user_id "
        f"JOIN {_t(AgentProfile)} ap ON ap.user_id = p.user_id "
        f"WHERE p.status = %s AND u.role = %s AND u.is_active "
        f"AND EXISTS (SELECT 1 FROM {_t(AgentProfile.services.through)} s "
        f"WHERE s.agentprofile_id = ap.id AND s.service_id = t.service_id) "
        f"AND (t.skill_id IS NULL OR EXISTS (SELECT 1 FROM {_t(AgentProfile.skills.through)} k "
        f"WHERE k.agentprofile_id = ap.id AND k.skill_id = t.skill_id)) "
        f"AND p.capacity_chat > ({_load_sql('p.user_id', 'chat')})) "
        f"FROM {_t(Topic)} t WHERE t.is_active {service_clause}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    open_now: dict[int, bool] = {}
    result = {}
    for slug, service_id, staffed in rows:
        if service_id not in open_now:
            open_now[service_id] = calendar_for(service_id).is_open(now)
        result[slug] = bool(staffed) and open_now[service_id]
    return result


def refresh_availability(
    service_ids: list[int] | None = None, *, publish: bool = True
) -> dict[str, bool]:
    """Recompute the availability snapshot (all topics, or those of some services), store it in
    the cache and publish what changed to the ``availability`` group. Returns the snapshot."""
    old = cache.get(AVAILABILITY_CACHE_KEY)
    if old is None or service_ids is None:
        snapshot = compute_availability()
    else:
        snapshot = dict(old)
        snapshot.update(compute_availability(service_ids))
        active = set(Topic.objects.filter(is_active=True).values_list("slug", flat=True))
        snapshot = {slug: value for slug, value in snapshot.items() if slug in active}
    cache.set(AVAILABILITY_CACHE_KEY, snapshot, None)
    previous = old or {}
    changed = {slug: value for slug, value in snapshot.items() if previous.get(slug) != value}
    for slug in previous:
        if slug not in snapshot:
            changed[slug] = False
    if changed and publish:
        group_send(AVAILABILITY_GROUP, {"type": "availability.update", "topics": changed})
    return snapshot


def availability_snapshot() -> dict[str, bool]:
    """topic slug -> chat available, from the cache (computed on a miss)."""
    snapshot = cache.get(AVAILABILITY_CACHE_KEY)
    if snapshot is None:
        # Cold cache (restart, eviction): compute and store; nothing to announce.
        snapshot = refresh_availability(publish=False)
    return snapshot


def chat_available(topic: Topic | str) -> bool:
    """Whether the chat button for this topic (Topic or slug) should be shown right now."""
    slug = topic.slug if isinstance(topic, Topic) else str(topic)
    return bool(availability_snapshot().get(slug, False))


@dataclass(frozen=True)
class ChatHours:
    """Whether a service's chat is open now, and its schedule in words (with the reopening)."""

    service_id: int
    is_open: bool
    text: str


def chat_hours(service_id: int, now: datetime | None = None) -> ChatHours:
    cal = calendar_for(service_id)
    return ChatHours(service_id, cal.is_open(now), chat_schedule_text(cal, now))


def chat_button_hours(
    topic: Topic | str | None = None, now=None
) -> tuple[bool, list[tuple[str, str]]]:
    """For a chat button (one topic, or every topic when none is given): whether every service
    behind it is closed now, and (service name, schedule text) of each of those services."""
    if isinstance(topic, Topic):
        service_ids = [topic.service_id]
    elif topic:
        service_ids = list(
            Topic.objects.filter(slug=str(topic), is_active=True).values_list(
                "service_id", flat=True
            )
        )
    else:
        service_ids = list(
            Topic.objects.filter(is_active=True, service__is_active=True)
            .values_list("service_id", flat=True)
            .distinct()
        )
    rows = []
    all_closed = bool(service_ids)
    names = dict(Service.objects.filter(pk__in=service_ids).values_list("pk", "name"))
    for service_id in sorted(set(service_ids), key=lambda pk: names.get(pk, "")):
        hours = chat_hours(service_id, now)
        all_closed = all_closed and not hours.is_open
        rows.append((names.get(service_id, ""), hours.text))
    return all_closed, rows


def closed_chat_hours(topic: Topic | str | None = None, now=None) -> list[tuple[str, str]]:
    """(service name, schedule text) of the services a chat button stands for, when all of them
    are closed now; [] when one is open (then an empty chat means no agent is free, not closed
    hours)."""
    all_closed, rows = chat_button_hours(topic, now)
    return rows if all_closed else []


def closed_services_of(agent: User, now=None) -> list[tuple[str, str]]:
    """(service name, schedule text) of the agent's services that are closed now."""
    services = Service.objects.filter(pk__in=user_service_ids_for(agent.pk)).order_by("name")
    result = []
    for service in services:
        hours = chat_hours(service.pk, now)
        if not hours.is_open:
            result.append((service.name, hours.text))
    return result


def schedule_availability_refresh(
    service_ids: list[int] | None = None, *, agent_id: int | None = None
) -> None:
    """Refresh the availability after commit, of some services (``service_ids``, or the
    services of ``agent_id``; all if neither).

    Debounced: while a refresh task is queued and not started, further requests are absorbed
    (the task deletes the marker when it starts, then recomputes every service from fresh
    data, so the services asked for are not needed and the agent's are not read). In eager
    mode (dev, tests) it runs at once, for those services only.
    """
    from django.conf import settings

    if settings.CELERY_TASK_ALWAYS_EAGER:

        def refresh():
            ids = service_ids if agent_id is None else user_service_ids_for(agent_id)
            refresh_availability(ids)

        _on_commit(refresh)
        return

    def queue():
        if cache.add(AVAILABILITY_PENDING_KEY, 1, timeout=10):
            queue_task_now("refresh_availability", None)

    _on_commit(queue)


def queue_task_now(task_name: str, *args) -> None:
    """Queue a routing task at once (outside a transaction; a broker failure is logged)."""
    from . import tasks

    try:
        getattr(tasks, task_name).delay(*args)
    except Exception:
        logger.exception("routing: could not queue %s", task_name)


# --- Queues -----------------------------------------------------------------------------------


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


# --- Assignment engine -------------------------------------------------------------------------


def _candidate_agents(
    service_id: int, skill_id: int | None, group: str, *, exclude=(), limit: int = 3
) -> list[tuple[int, int]]:
    """(agent id, free slots) of available agents of the service with the skill and a free
    slot on the channel group, longest idle first.

    On PostgreSQL the returned presence rows are locked (``FOR UPDATE SKIP LOCKED``): a row
    another worker is assigning to is skipped, not waited for. Run inside a transaction.
    """
    params: list = [AgentPresence.Status.AVAILABLE, User.Role.AGENT, service_id]
    skill_clause = ""
    if skill_id:
        skill_clause = (
            f"AND EXISTS (SELECT 1 FROM {_t(AgentProfile.skills.through)} k "  # noqa: S608 (table names and code constants only)
            f"WHERE k.agentprofile_id = ap.id AND k.skill_id = %s) "
        )
        params.append(skill_id)
    exclude_clause = ""
    if exclude:
        exclude_clause = "AND p.user_id NOT IN (" + ", ".join(["%s"] * len(exclude)) + ") "
        params.extend(exclude)
    params.append(limit)
    sql = (
        f"SELECT p.user_id, p.capacity_{group} - ({_load_sql('p.user_id', group)}) "  # noqa: S608 (table names and code constants only)
        f"FROM {_t(AgentPresence)} p "
        f"JOIN {_t(User)} u ON u.id = p.user_id "
        f"JOIN {_t(AgentProfile)} ap ON ap.user_id = p.user_id "
        f"WHERE p.status = %s AND u.role = %s AND u.is_active "
        f"AND EXISTS (SELECT 1 FROM {_t(AgentProfile.services.through)} s "
        f"WHERE s.agentprofile_id = ap.id AND s.service_id = %s) "
        f"{skill_clause}"
        f"AND p.capacity_{group} > ({_load_sql('p.user_id', group)}) "
        f"{exclude_clause}"
        f"ORDER BY p.idle_since, p.user_id LIMIT %s" + _lock_suffix("p")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(row[0], row[1]) for row in cursor.fetchall()]


def _conditional_assign(
    case: Case,
    agent_id: int,
    *,
    now: datetime,
    expected_owner: int | None = None,
    expected_status: str = Case.Status.NEW,
    new_status: str = Case.Status.ASSIGNED,
    require_available: bool = True,
    deadline: datetime | None = None,
) -> bool:
    """The one write that gives a case to an agent. True when exactly one row changed.

    The caller holds the agent's presence lock (PostgreSQL). The WHERE clause re-checks that
    the case is still where we saw it and that the agent's active load on the channel is below
    their capacity, in the same statement.
    """
    group = channel_group(case.channel)
    owner_clause = "assigned_to_id IS NULL" if expected_owner is None else "assigned_to_id = %s"
    params: list = [agent_id, now, new_status, now, deadline, case.pk]
    if expected_owner is not None:
        params.append(expected_owner)
    params.append(expected_status)
    guard = ""
    if new_status in ACTIVE_STATUSES:
        status_clause = "AND p.status = %s" if require_available else ""
        guard = (
            f"AND ({_load_sql('%s', group)}) < "  # noqa: S608 (table names and code constants only)
            f"(SELECT p.capacity_{group} FROM {_t(AgentPresence)} p WHERE p.user_id = %s "
            f"{status_clause})"
        )
        params += [agent_id, agent_id]
        if require_available:
            params.append(AgentPresence.Status.AVAILABLE)
    sql = (
        f"UPDATE {_t(Case)} SET assigned_to_id = %s, assigned_at = %s, status = %s, "  # noqa: S608 (table names and code constants only)
        f"priority = 0, updated_at = %s, sla_deadline = COALESCE(sla_deadline, %s) "
        f"WHERE id = %s AND {owner_clause} AND status = %s {guard}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount == 1


def _assignment_payload(
    agent_id: int, mode: str, from_status: str, to_status: str, previous_owner: int | None = None
) -> dict:
    """The payload of an ``assignment`` timeline event (one shape whoever writes the row)."""
    payload = {"agent": agent_id, "mode": mode, "from": str(from_status), "to": str(to_status)}
    if previous_owner:
        payload["previous_agent"] = previous_owner
    return payload


def _after_assignment(
    case: Case,
    agent_id: int,
    *,
    now: datetime,
    by: User | None,
    mode: str,
    previous_owner: int | None = None,
    new_status: str = Case.Status.ASSIGNED,
    free_after: int | None = None,
    written_event: Event | None = None,
    pending_transfer: bool | None = None,
    publish: bool = True,
) -> None:
    """Timeline, idle clock and after-commit notifications of a successful assignment.

    ``free_after``: the agent's free slots on the channel once assigned, when the caller knows
    it (saves a query). ``written_event``: the assigning statement already reset the agent's
    idle clock and wrote this timeline event (its ``post_save`` is sent here, as
    ``add_event`` would). ``pending_transfer``: whether a transfer of the case waits to be
    accepted, when the caller knows it (passed on with ``case_assigned``). ``publish=False``:
    the caller tells the agent's consoles itself (``cases.assigned`` for a batch)."""
    if written_event is None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {_t(AgentPresence)} SET idle_since = %s WHERE user_id = %s",  # noqa: S608 (table name only)
                [now, agent_id],
            )
    old_status = case.status
    case.assigned_to_id, case.assigned_at, case.status, case.priority = (
        agent_id,
        now,
        new_status,
        0,
    )
    if written_event is None:
        payload = _assignment_payload(agent_id, mode, old_status, new_status, previous_owner)
        add_event(
            case,
            Event.Type.ASSIGNMENT,
            actor=by,
            internal=True,
            payload=payload,
            touch=False,
            at=now,
        )
    else:
        # Written by the claim statement: the receivers of a new timeline event still hear
        # of it (``post_save`` of ``Event``, as for ``add_event``).
        post_save.send(
            sender=Event,
            instance=written_event,
            created=True,
            update_fields=None,
            raw=False,
            using=connection.alias,
        )
    case_id, channel = case.pk, case.channel

    def notify():
        case_assigned.send(
            sender=Case,
            case_id=case_id,
            agent_id=agent_id,
            channel=channel,
            pending_transfer=pending_transfer,
        )
        if previous_owner:
            group_send(agent_group(previous_owner), {"type": "case.unassigned", "case_id": case_id})

    _on_commit(notify)
    if publish:
        _publish_assigned(agent_id, [case])
    if free_after is None and channel_group(channel) == "chat":
        free_after = free_capacity(agent_id, channel)
    if channel_group(channel) == "chat" and free_after == 0:
        # Availability only changes when this agent's last free chat slot is gone.
        schedule_availability_refresh(agent_id=agent_id)


def assigned_notice(case: Case) -> dict:
    """What the agent's consoles are told of one assignment (``case.assigned``)."""
    return {"case_id": case.pk, "channel": case.channel, "reference": case.reference}


def _publish_assigned(agent_id: int, cases: list[Case]) -> None:
    """After commit, tell the agent's consoles of a batch in one message: ``cases.assigned``
    (``{"cases": [notice, ...]}``; the consumers hand each on as ``case.assigned``), or
    ``case.assigned`` for a single case."""
    notices = [assigned_notice(case) for case in cases]
    if not notices:
        return
    if len(notices) == 1:
        message = {"type": "case.assigned", **notices[0]}
    else:
        message = {"type": "cases.assigned", "cases": notices}
    _on_commit(lambda: group_send(agent_group(agent_id), message))


def _missing_deadline(case: Case) -> datetime | None:
    """The SLA deadline to store on a case that has none yet (None if it has one)."""
    if case.sla_deadline is not None:
        return None
    return deadline_for(case)


def _ensure_deadline(case: Case) -> None:
    deadline = _missing_deadline(case)
    if deadline is not None:
        Case.objects.filter(pk=case.pk, sla_deadline__isnull=True).update(sla_deadline=deadline)
        case.sla_deadline = deadline


def _callback_due(case: Case, now: datetime) -> bool:
    return CallbackRequest.objects.filter(
        case_id=case.pk, status=CallbackRequest.Status.SCHEDULED, slot_start__lte=now
    ).exists()


def route_case(case_id: int, *, exclude_agent_ids=()) -> int | None:
    """Give a queued case to the longest-idle available agent with the skill and a free slot.

    Returns the agent id, or None (case not queued, locked by another worker, callback slot not
    reached, or nobody free: it stays in the queue). Runs its own transaction: locks the case
    row (``SKIP LOCKED``) and the candidates' presence rows, then assigns with a checked
    conditional UPDATE. Idempotent.
    """
    now = timezone.now()
    with transaction.atomic():
        # Hot path: plain SQL (the case with its topic's skill, locked SKIP LOCKED).
        rows = list(
            Case.objects.raw(
                f"SELECT c.*, t.skill_id AS routing_skill_id FROM {_t(Case)} c "  # noqa: S608 (table names and code constants only)
                f"JOIN {_t(Topic)} t ON t.id = c.topic_id "
                f"WHERE c.id = %s AND c.status = %s AND c.assigned_to_id IS NULL"
                + _lock_suffix("c"),
                [case_id, Case.Status.NEW],
            )
        )
        if not rows:
            return None
        case = rows[0]
        if case.channel == Channel.CALLBACK and not _callback_due(case, now):
            _ensure_deadline(case)
            return None
        deadline = _missing_deadline(case)
        group = channel_group(case.channel)
        for agent_id, free in _candidate_agents(
            case.service_id, case.routing_skill_id, group, exclude=tuple(exclude_agent_ids)
        ):
            if _conditional_assign(case, agent_id, now=now, deadline=deadline):
                case.sla_deadline = case.sla_deadline or deadline
                _after_assignment(
                    case, agent_id, now=now, by=None, mode="auto", free_after=free - 1
                )
                return agent_id
        _ensure_deadline(case)  # stays queued: the deadline still runs
    return None


def _best_case_for(agent_id: int, group: str, now: datetime, topic_ids: list[int]) -> Case | None:
    """The head of the agent's queues for one channel group (locked, ``SKIP LOCKED``).

    ``topic_ids``: the topics the agent may take (their services, their skills), so that the
    query reads one table and orders like the queue."""
    if not topic_ids:
        return None
    params: list = [Case.Status.NEW, *topic_ids]
    callback_clause = ""
    if Channel.CALLBACK in CHANNEL_GROUPS[group]:
        callback_clause = (
            f"AND (c.channel <> %s OR EXISTS (SELECT 1 FROM {_t(CallbackRequest)} cb "  # noqa: S608 (table names and code constants only)
            f"WHERE cb.case_id = c.id AND cb.status = %s AND cb.slot_start <= %s)) "
        )
        params += [Channel.CALLBACK, CallbackRequest.Status.SCHEDULED, now]
    order = QUEUE_HEAD_ORDER
    where = (
        f"WHERE c.status = %s AND c.assigned_to_id IS NULL "
        f"AND c.topic_id IN ({', '.join(['%s'] * len(topic_ids))}) "
        f"AND c.channel IN {hot.literals(CHANNEL_GROUPS[group])} "
        f"{callback_clause}"
    )
    # 1. The first few of the queue, unlocked: a bounded (top-N) sort of narrow rows.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.id FROM {_t(Case)} c {where} ORDER BY {order} LIMIT 5",  # noqa: S608 (table names and code constants only)
            params,
        )
        head = [row[0] for row in cursor.fetchall()]
    if not head:
        return None
    # 2. Lock the best of them still waiting (SKIP LOCKED: another worker may hold one); if
    # all five went meanwhile, take the head of the whole queue.
    for ids_clause, extra in (
        (f"AND c.id IN ({', '.join(['%s'] * len(head))}) ", head),
        ("", []),
    ):
        sql = (
            f"SELECT c.* FROM {_t(Case)} c {where}{ids_clause}"  # noqa: S608 (table names and code constants only)
            f"ORDER BY {order} LIMIT 1" + _lock_suffix("c")
        )
        rows = list(Case.objects.raw(sql, params + extra))
        if rows:
            return rows[0]
    return None


QUEUE_HEAD_ORDER = (
    "c.priority DESC, c.fragile DESC, c.sla_deadline ASC NULLS LAST, c.created_at, c.id"
)
# What the claim keeps of a head case as it was before the claim (its queue order; all in the
# queue head index).
PICKED_COLUMNS = "c.id, c.priority, c.fragile, c.sla_deadline, c.created_at"
# How many cases of each topic's queue head the one-statement claim looks at (plus its room):
# more than the number of workers that can hold a head case locked at the same time.
HEAD_PER_TOPIC = 5
# How many of a group's head cases, beyond its share, the claim reads again to lock: room for
# the head cases other workers' passes hold locked at the same time.
HEAD_SLACK = 16
# Most cases one pass of the "agent became free" task hands out (routing.tasks.assign_agent).
FILL_BATCH = 4


@functools.cache
def _case_columns() -> tuple[str, ...]:
    return tuple(f.attname for f in Case._meta.concrete_fields)


@functools.cache
def _claim_sql(groups: tuple[str, ...]) -> str:
    """The one-statement claim of ``_claim_head_pg`` for some channel groups (built once per
    tuple of groups).

    Parameters, in order: the agent's topic ids; for each group its head length (once per
    channel of the group); the time (callbacks due), when the phone group is there; for each
    group its room, then the cap (most cases in all) and the agent (room); the agent, time and
    time (claim); time and agent (idle clock); payload and time (events).

    Statuses, channels and event types are written into the text (code constants), not
    passed as parameters: with a generic plan (``contactcenter.hot``), a ``status = $2`` could
    not use the partial index of the queue head (``WHERE status = 'new'``). The head cases are
    read again by primary key from an array (``= ANY (ARRAY(...))``): an ``IN (SELECT ...)``
    let a generic plan hash-join the head with a scan of the whole table."""
    q = hot.literal
    case_table = _t(Case)
    returning = ", ".join(
        f"u.{connection.ops.quote_name(f.column)}" for f in Case._meta.concrete_fields
    )
    callback_clause = ""
    if any(Channel.CALLBACK in CHANNEL_GROUPS[group] for group in groups):
        callback_clause = (
            f"AND (c.channel <> {q(Channel.CALLBACK)} OR EXISTS (SELECT 1 FROM "  # noqa: S608 (table names and code constants only)
            f"{_t(CallbackRequest)} cb WHERE cb.case_id = c.id "
            f"AND cb.status = {q(CallbackRequest.Status.SCHEDULED)} AND cb.slot_start <= %s)) "
        )
    event_columns = (
        "case_id, citizen_id, type, channel, actor_id, internal, body, payload, created_at"
    )
    # One index range per (topic, channel) of the groups (case_topic_queue_head), each read
    # as far as its group's head length (a parameter, repeated for each channel of the group).
    channels = ", ".join(
        f"({q(channel)}, {i}, %s::int)"
        for i, group in enumerate(groups)
        for channel in CHANNEL_GROUPS[group]
    )
    new, assigned = q(Case.Status.NEW), q(Case.Status.ASSIGNED)
    free = ", ".join(
        f"GREATEST(LEAST(%s::int, p.capacity_{group} - l.l{i}), 0) AS r{i}"
        for i, group in enumerate(groups)
    )
    # The agent's active load on each group, in one pass over their cases.
    loads = _loads_sql("p.user_id", {f"l{i}": group for i, group in enumerate(groups)})
    n_groups = range(len(groups))
    # How many head cases each group has (read once).
    seen = ", ".join(f"COUNT(*) FILTER (WHERE grp = {i}) AS s{i}" for i in n_groups)
    # Each group's share, in group order: its free slots, at most its head cases, at most
    # what the groups before it left of the cap; one row per group.
    shares = " ".join(
        f"CROSS JOIN LATERAL (SELECT LEAST(f.r{i}, s.s{i}, "
        f"f.cap{''.join(f' - x{j}.n' for j in range(i))}) AS n) x{i}"
        for i in n_groups
    )
    share_rows = ", ".join(f"({i}, x{i}.n)" for i in n_groups)
    seen_columns = ", ".join(f"s{i}" for i in n_groups)
    return (
        f"WITH head AS (SELECT h.*, ch.grp FROM unnest(%s::bigint[]) AS t(topic_id) "  # noqa: S608 (table names and code constants only)
        f"CROSS JOIN (VALUES {channels}) AS ch(channel, grp, n) "
        f"CROSS JOIN LATERAL (SELECT {PICKED_COLUMNS} FROM {case_table} c "
        f"WHERE c.topic_id = t.topic_id AND c.channel = ch.channel AND c.status = {new} "
        f"AND c.assigned_to_id IS NULL {callback_clause}"
        f"ORDER BY {QUEUE_HEAD_ORDER} LIMIT ch.n) h), "
        f"free AS MATERIALIZED (SELECT {free}, %s::int AS cap FROM {_t(AgentPresence)} p "
        f"CROSS JOIN LATERAL ({loads}) l "
        f"WHERE p.user_id = %s AND p.status = {q(AgentPresence.Status.AVAILABLE)}), "
        f"seen AS MATERIALIZED (SELECT {seen} FROM head), "
        f"room AS (SELECT v.grp, v.n FROM free f CROSS JOIN seen s {shares} "
        f"CROSS JOIN LATERAL (VALUES {share_rows}) AS v(grp, n)), "
        # Each group's best head cases still waiting, as many as its share, locked.
        f"picked AS (SELECT {PICKED_COLUMNS}, r.grp FROM room r CROSS JOIN LATERAL "
        f"(SELECT {PICKED_COLUMNS} FROM {case_table} c "
        f"WHERE c.id = ANY (ARRAY(SELECT c.id FROM head c WHERE c.grp = r.grp "
        f"ORDER BY {QUEUE_HEAD_ORDER} LIMIT r.n + {HEAD_SLACK})) "
        f"AND c.status = {new} AND c.assigned_to_id IS NULL "
        f"ORDER BY {QUEUE_HEAD_ORDER} LIMIT r.n FOR UPDATE OF c SKIP LOCKED) c), "
        f"claimed AS (UPDATE {case_table} AS u SET assigned_to_id = %s, assigned_at = %s, "
        f"status = {assigned}, priority = 0, updated_at = %s "
        f"WHERE u.id IN (SELECT id FROM picked) AND u.assigned_to_id IS NULL "
        f"AND u.status = {new} RETURNING {returning}), "
        f"idle AS (UPDATE {_t(AgentPresence)} SET idle_since = %s WHERE user_id = %s "
        f"AND EXISTS (SELECT 1 FROM claimed)), "
        f"event AS (INSERT INTO {_t(Event)} ({event_columns}) "
        f"SELECT claimed.id, claimed.citizen_id, {q(Event.Type.ASSIGNMENT)}, claimed.channel, "
        f"NULL, TRUE, '', %s::jsonb, %s FROM claimed RETURNING id, case_id) "
        f"SELECT (SELECT ARRAY[{seen_columns}] FROM seen), c.grp, event.id, EXISTS (SELECT 1 FROM "
        f"{_t(Transfer)} tr WHERE tr.case_id = claimed.id AND tr.accepted_at IS NULL), claimed.* "
        f"FROM (SELECT 1) AS one LEFT JOIN (claimed JOIN event ON event.case_id = claimed.id "
        f"JOIN picked c ON c.id = claimed.id) ON TRUE ORDER BY c.grp, {QUEUE_HEAD_ORDER}"
    )


@dataclass(slots=True)
class Claim:
    """A case the engine just gave an agent: the case (as it was before the claim), the
    ``assignment`` event the claim wrote (None: the caller writes it) and whether a transfer of
    the case is waiting to be accepted (None: not known)."""

    case: Case
    event: Event | None = None
    pending_transfer: bool | None = None


def _claim_head_pg(
    agent_id: int, rooms: dict[str, int], now: datetime, topic_ids: list[int], cap: int
) -> dict[str, tuple[list[Claim], int]]:
    """PostgreSQL: pick, lock and assign up to ``rooms[group]`` cases at the head of the agent's
    queues for each channel group of ``rooms``, at most ``cap`` in all, groups served in the
    order of ``rooms``, and write the assignments to the timeline, in one statement. Returns,
    per group: (the claims, in queue order as they stood before the claim; how many head cases
    were seen).

    1. ``head``: the first ``HEAD_PER_TOPIC + min(room, cap) - 1`` queued cases of each of
       the agent's topics and each channel of each group, each read in queue order from the
       partial index ``case_topic_queue_head`` (topic, channel, queue order: a few index
       entries per topic and channel, whatever the length of the queues and of the other
       channels' queues);
    2. ``free``: the agent's free slots on each group (capacity minus active load), at most
       its ``rooms`` entry; read in this statement, whose snapshot is taken once the caller
       holds the agent's lock, so every earlier assignment to the agent is visible; ``room``:
       each group's share of the cap, in group order (no more than its head cases, so that a
       group with an empty queue leaves the cap to the next);
    3. ``picked``: for each group, the best head cases still waiting, as many as its share,
       locked ``FOR UPDATE SKIP LOCKED`` (a case another worker holds is skipped, not waited
       for) among its best ``share + HEAD_SLACK`` head cases, read again by primary key;
    4. ``claimed``: the checked conditional UPDATE (still unassigned and new);
    5. ``idle``: the agent's idle clock is reset, and ``event``: the timeline's assignment
       events are written (the rows ``add_event`` would write), when cases were claimed.

    A group with no claim but head cases seen: every head case was taken or locked meanwhile
    (the caller falls back to the whole queue)."""
    groups = tuple(rooms)
    params: list = [list(topic_ids)]
    for group in groups:
        params += [HEAD_PER_TOPIC + min(rooms[group], cap) - 1] * len(CHANNEL_GROUPS[group])
    if any(Channel.CALLBACK in CHANNEL_GROUPS[group] for group in groups):
        params += [now]
    payload = _assignment_payload(agent_id, "auto", Case.Status.NEW, Case.Status.ASSIGNED)
    params += [rooms[group] for group in groups]
    params += [cap, agent_id]
    params += [agent_id, now, now]
    params += [now, agent_id]
    params += [json.dumps(payload), now]
    rows = hot.fetchall(_claim_sql(groups), params)
    seen = rows[0][0] if rows else [0] * len(groups)
    result = {group: ([], seen[i]) for i, group in enumerate(groups)}
    columns = _case_columns()
    for _seen, grp, event_id, pending, *values in rows:
        if values[0] is None:
            continue
        case = Case.from_db(connection.alias, columns, values)
        event = Event(
            id=event_id,
            case=case,
            citizen_id=case.citizen_id,
            type=Event.Type.ASSIGNMENT,
            channel=case.channel,
            actor=None,
            internal=True,
            body="",
            payload=payload,
            created_at=now,
        )
        event._state.adding = False
        event._state.db = connection.alias
        result[groups[grp]][0].append(Claim(case, event, pending))
    return result


def _claim_for_agent(
    agent_id: int, rooms: dict[str, int], now: datetime, topic_ids: list[int], cap: int
) -> list[Claim]:
    """Give the agent (locked, with room) up to ``rooms[group]`` cases at the head of their
    queues for each channel group of ``rooms``, at most ``cap`` in all, groups served in that
    order (assigned). A claim with an event: the same statement also reset the agent's idle
    clock and wrote the timeline event (else the caller's ``_after_assignment`` writes them).

    On PostgreSQL, one statement for all the groups (``_claim_head_pg``); elsewhere, the head
    of each group's queue one case at a time through the checked conditional UPDATE (SQLite
    runs one writing transaction at a time)."""
    rooms = {group: room for group, room in rooms.items() if room > 0}
    if not topic_ids or not rooms or cap <= 0:
        return []
    claims: list[Claim] = []
    fallback = list(rooms)
    if connection.vendor == "postgresql":
        fallback = []
        claimed = _claim_head_pg(agent_id, rooms, now, topic_ids, cap)
        for group, (group_claims, seen) in claimed.items():
            for claim in group_claims:
                # The claim wrote the assignment; the case object shows it as it was before.
                claim.case.status = Case.Status.NEW
                _ensure_deadline(claim.case)
            claims += group_claims
            if not group_claims and seen:
                # Every head case went to other workers meanwhile: the whole queue, locked.
                fallback.append(group)
    for group in fallback:
        # One case at a time from the head of the whole queue (locked), up to the group's room.
        for _attempt in range(rooms[group]):
            if len(claims) >= cap:
                break
            case = _best_case_for(agent_id, group, now, topic_ids)
            if case is None:
                break
            deadline = _missing_deadline(case)
            if not _conditional_assign(case, agent_id, now=now, deadline=deadline):
                break
            case.sla_deadline = case.sla_deadline or deadline
            claims.append(Claim(case))
    return claims


def _lock_available_agent(
    agent_id: int, groups: tuple[str, ...] = GROUP_ORDER
) -> tuple[dict[str, int], dict[str, int], list[int]] | None:
    """Lock an available agent's presence row (``SKIP LOCKED``) who has room on one of
    ``groups`` at least, and read, in the same statement, their capacity and load per channel
    group and the topics they may take: (capacities, loads, topic ids). None when the agent is
    unavailable, full on those groups, or locked by another worker.

    A full agent is not locked: a transaction that locked a row writes it to the WAL and its
    commit waits for the disk, for nothing. The room is read from the statement's snapshot,
    before the lock: a slot freed by a transaction that commits meanwhile is not seen here, but
    that transaction asks for the agent to be filled once it has committed (``assign_agent``).
    The claim itself counts the room again once the lock is held."""
    return _lock_statement_result(
        hot.fetchone(
            _lock_sql(tuple(groups)),
            [agent_id, agent_id, AgentPresence.Status.AVAILABLE, User.Role.AGENT],
        )
    )


@functools.cache
def _lock_sql(groups: tuple[str, ...]) -> str:
    """The agent lock of ``_lock_available_agent`` (built once per tuple of groups)."""
    loads = _loads_sql("%s", {f"load_{g}": g for g in CHANNEL_GROUPS})
    concat = (
        "string_agg(CAST(t.id AS text), ',')"
        if connection.vendor == "postgresql"
        else "group_concat(t.id, ',')"
    )
    topics = (
        f"(SELECT {concat} FROM {_t(Topic)} t "  # noqa: S608 (table names and code constants only)
        f"WHERE t.service_id IN (SELECT s.service_id FROM {_t(AgentProfile.services.through)} s "
        f"WHERE s.agentprofile_id = ap.id) "
        f"AND (t.skill_id IS NULL OR t.skill_id IN (SELECT k.skill_id FROM "
        f"{_t(AgentProfile.skills.through)} k WHERE k.agentprofile_id = ap.id))) AS topic_ids"
    )
    capacities = ", ".join(f"p.capacity_{g}" for g in CHANNEL_GROUPS)
    load_columns = ", ".join(f"l.load_{g}" for g in CHANNEL_GROUPS)
    room = " OR ".join(f"p.capacity_{g} > l.load_{g}" for g in groups)
    return (
        f"SELECT {capacities}, {load_columns}, {topics} FROM {_t(AgentPresence)} p "  # noqa: S608 (table names and code constants only)
        f"JOIN {_t(User)} u ON u.id = p.user_id "
        f"JOIN {_t(AgentProfile)} ap ON ap.user_id = p.user_id "
        f"CROSS JOIN ({loads}) l "
        f"WHERE p.user_id = %s AND p.status = %s AND u.role = %s AND u.is_active "
        f"AND ({room})" + _lock_suffix("p")
    )


def _lock_statement_result(row) -> tuple[dict[str, int], dict[str, int], list[int]] | None:
    if row is None:
        return None
    n = len(CHANNEL_GROUPS)
    capacity = dict(zip(CHANNEL_GROUPS, row[:n], strict=True))
    loads = dict(zip(CHANNEL_GROUPS, row[n : 2 * n], strict=True))
    topic_ids = [int(t) for t in (row[2 * n] or "").split(",") if t]
    return capacity, loads, topic_ids


def assign_available(
    agent: User | int, *, limit: int | None = None, groups=GROUP_ORDER
) -> list[Case]:
    """Fill an available agent's free slots with the best cases waiting in their queues, up to
    ``limit`` cases, in one transaction. Returns the assigned cases (maybe none).

    Channel groups are served in order (chat, phone/callback, web). Locks the agent's presence
    row (``SKIP LOCKED``: if another worker is assigning to this agent, returns []; an agent
    with no room is not locked). On PostgreSQL one statement then claims as many head cases of
    each group as the agent has room for (``_claim_head_pg``), elsewhere one case at a time
    through the checked conditional UPDATE. An agent who became free of several slots at once
    gets them filled by one lock, one claim and one commit; with ``limit``, groups are served
    in order until the limit (a group whose queue is empty leaves its share to the next).
    """
    return _assign_available(agent, limit=limit, groups=groups)[0]


def fill_pass(agent_id: int, batch: int | None = FILL_BATCH) -> tuple[list[Case], bool]:
    """One pass of the "agent became free" task (``routing.tasks.assign_agent``): at most
    ``batch`` cases (None: every free slot) in one transaction. Returns (the assigned cases,
    whether another pass may give more: the batch was reached, or without a batch some cases
    were assigned, and the agent still has free slots)."""
    assigned, room_left = _assign_available(agent_id, limit=batch)
    reached = len(assigned) >= batch if batch else bool(assigned)
    return assigned, reached and room_left > 0


def _assign_available(
    agent: User | int, *, limit: int | None, groups=GROUP_ORDER
) -> tuple[list[Case], int]:
    """``assign_available``, and the agent's free slots left on those groups afterwards."""
    agent_id = agent if isinstance(agent, int) else agent.pk
    groups = tuple(groups)
    now = timezone.now()
    with transaction.atomic():
        locked = _lock_available_agent(agent_id, groups)
        if locked is None:
            return [], 0
        capacity, loads, topic_ids = locked
        free = {group: capacity[group] - loads[group] for group in groups}
        rooms = {group: room for group, room in free.items() if room > 0}
        cap = sum(rooms.values()) if limit is None else limit
        claims = _claim_for_agent(agent_id, rooms, now, topic_ids, cap)
        assigned: list[Case] = []
        for claim in claims:
            group = channel_group(claim.case.channel)
            free[group] -= 1
            _after_assignment(
                claim.case,
                agent_id,
                now=now,
                by=None,
                mode="auto",
                free_after=free[group],
                written_event=claim.event,
                pending_transfer=claim.pending_transfer,
                publish=False,
            )
            assigned.append(claim.case)
        _publish_assigned(agent_id, assigned)
    return assigned, sum(room for room in free.values() if room > 0)


def assign_next(agent: User | int, *, groups=GROUP_ORDER) -> Case | None:
    """Give an available agent the best case waiting in their queues, if they have room: one
    case (``assign_available`` with ``limit=1``). Returns the assigned case or None."""
    cases = assign_available(agent, limit=1, groups=groups)
    return cases[0] if cases else None


def _lock_presence(agent_id: int) -> AgentPresence:
    """Lock (creating if needed) an agent's presence row until the transaction ends."""
    AgentPresence.objects.get_or_create(user_id=agent_id)
    return AgentPresence.objects.select_for_update().get(pk=agent_id)


def _check_agent_of_service(agent: User, service_id: int, message: str) -> None:
    if not (agent.is_active and agent.is_agent) or service_id not in user_service_ids(agent):
        raise ValidationError(message, code="not_in_service")


def _refused_reason(case: Case, agent_id: int, expected_owner, expected_status) -> ValidationError:
    fresh = Case.objects.filter(pk=case.pk).values("assigned_to_id", "status").first()
    if (
        fresh is None
        or fresh["assigned_to_id"] != expected_owner
        or fresh["status"] != expected_status
    ):
        return ValidationError(
            _("Cette demande vient d'être prise par un autre agent."), code="already_taken"
        )
    group = channel_group(case.channel)
    presence = AgentPresence.objects.get(pk=agent_id)
    return ValidationError(
        _(
            "Capacité atteinte : %(name)s traite déjà %(cap)s demande(s) sur le canal "
            "« %(channel)s »."
        )
        % {
            "name": presence.user.display_name,
            "cap": presence.capacity_for(group),
            "channel": GROUP_LABELS[group],
        },
        code="capacity",
    )


def take_case(agent: User, case: Case) -> Case:
    """An agent picks a waiting case from their queue.

    Raises ValidationError when the case was taken meanwhile ("Cette demande vient d'être prise
    par un autre agent."), when the agent is at capacity on that channel, or when the case is
    not of their services. Runs its own transaction: locks the agent's presence row, then a
    checked conditional UPDATE (``assigned_to IS NULL AND status = 'new'``).
    """
    _check_agent_of_service(
        agent, case.service_id, _("Cette demande ne relève pas de vos services.")
    )
    if case.assigned_to_id == agent.pk and case.status != Case.Status.NEW:
        return case
    now = timezone.now()
    with transaction.atomic():
        _lock_presence(agent.pk)
        if not _conditional_assign(case, agent.pk, now=now, require_available=False):
            raise _refused_reason(case, agent.pk, None, Case.Status.NEW)
        case.status = Case.Status.NEW
        _after_assignment(case, agent.pk, now=now, by=agent, mode="take")
    return case


def release_case(agent: User, case: Case) -> Case:
    """The owner gives a case back to its queue (someone else will get it).

    Checked conditional update on the current owner; runs in a transaction.
    """
    now = timezone.now()
    with transaction.atomic():
        updated = Case.objects.filter(
            pk=case.pk, assigned_to_id=agent.pk, status__in=Case.OPEN_STATUSES
        ).update(assigned_to=None, assigned_at=None, status=Case.Status.NEW, last_activity_at=now)
        if updated != 1:
            raise ValidationError(_("Cette demande ne vous est pas attribuée."), code="not_owner")
        old_status = case.status
        case.assigned_to_id, case.assigned_at, case.status = None, None, Case.Status.NEW
        add_event(
            case,
            Event.Type.ASSIGNMENT,
            actor=agent,
            internal=True,
            body=_("Remise dans la file du service par l'agent."),
            payload={
                "mode": "released",
                "agent": None,
                "previous_agent": agent.pk,
                "from": old_status,
            },
            touch=False,
            at=now,
        )
        # Someone else first; the releasing agent is not offered more work right away (that
        # would hand the same case back): the next trigger or the queue sweep will.
        _queue_task("route_case", case.pk, [agent.pk])
        schedule_availability_refresh([case.service_id])
    return case


def assign_case(case: Case, agent: User, *, by: User) -> Case:
    """A supervisor gives (or takes back and gives) a case to a named agent of its service.

    The target agent's capacity on the channel is checked (whatever their status: a web case
    can go to an agent on break). Runs its own transaction: locks the case row and the agent's
    presence row, then a checked conditional UPDATE on the expected previous owner.
    """
    if not (by.is_admin_role or (by.is_supervisor and case.service_id in user_service_ids(by))):
        raise ValidationError(
            _("Vous ne supervisez pas le service de cette demande."), code="forbidden"
        )
    _check_agent_of_service(
        agent, case.service_id, _("Cet agent n'appartient pas au service de la demande.")
    )
    now = timezone.now()
    with transaction.atomic():
        # Lock order wherever a wait is possible: the agent's presence row, then the case.
        _lock_presence(agent.pk)
        case = Case.objects.select_for_update(of=("self",)).select_related("topic").get(pk=case.pk)
        if not case.is_open:
            raise ValidationError(_("Cette demande est clôturée."), code="closed")
        if case.assigned_to_id == agent.pk:
            raise ValidationError(
                _("La demande est déjà attribuée à %(name)s.") % {"name": agent.display_name},
                code="unchanged",
            )
        previous = case.assigned_to_id
        new_status = Case.Status.ASSIGNED if case.status == Case.Status.NEW else case.status
        if not _conditional_assign(
            case,
            agent.pk,
            now=now,
            expected_owner=previous,
            expected_status=case.status,
            new_status=new_status,
            require_available=False,
        ):
            raise _refused_reason(case, agent.pk, previous, case.status)
        _after_assignment(
            case,
            agent.pk,
            now=now,
            by=by,
            mode="supervisor",
            previous_owner=previous,
            new_status=new_status,
        )
        if previous:
            _queue_task("assign_agent", previous)
    return case


def requeue_case(case: Case, *, head: bool = False, actor: User | None = None) -> bool:
    """Put an open case back in its queue (``head=True``: before everything else waiting).

    Used when an agent drops (their chats go back at the head) and by callbacks to retry.
    Checked conditional update on the owner seen; False when the case moved meanwhile. Call in
    or out of a transaction; routing is queued after commit.
    """
    now = timezone.now()
    previous = case.assigned_to_id
    with transaction.atomic():
        updated = Case.objects.filter(
            pk=case.pk, assigned_to_id=previous, status__in=Case.OPEN_STATUSES
        ).update(
            assigned_to=None,
            assigned_at=None,
            status=Case.Status.NEW,
            priority=HEAD_PRIORITY if head else 0,
        )
        if updated != 1:
            return False
        old_status = case.status
        case.assigned_to_id, case.assigned_at, case.status = None, None, Case.Status.NEW
        case.priority = HEAD_PRIORITY if head else 0
        add_event(
            case,
            Event.Type.ASSIGNMENT,
            actor=actor,
            internal=True,
            body=_("Remise en tête de file.") if head else _("Remise dans la file du service."),
            payload={
                "mode": "requeued",
                "agent": None,
                "previous_agent": previous,
                "head": head,
                "from": old_status,
            },
            touch=False,
            at=now,
        )
        if previous:
            prev = previous
            _on_commit(
                lambda: group_send(
                    agent_group(prev), {"type": "case.unassigned", "case_id": case.pk}
                )
            )
        _queue_task("route_case", case.pk)
        if channel_group(case.channel) == "chat":
            schedule_availability_refresh([case.service_id])
    return True


def mark_fragile(case: Case, *, by: User | None = None, fragile: bool = True) -> bool:
    """Flag (or unflag) a "situation de fragilité": the case moves ahead in its queue at once
    (queue order reads the flag). Set by an agent of the case's service or by the chatbot
    (``by=None``). Conditional update; an internal note records who did it. Returns whether
    something changed."""
    if by is not None and not (
        by.is_admin_role or (by.is_staff_member and case.service_id in user_service_ids(by))
    ):
        raise ValidationError(_("Cette demande ne relève pas de vos services."), code="forbidden")
    with transaction.atomic():
        if not Case.objects.filter(pk=case.pk).exclude(fragile=fragile).update(fragile=fragile):
            return False
        case.fragile = fragile
        add_event(
            case,
            Event.Type.NOTE,
            actor=by,
            internal=True,
            body=_("Situation de fragilité signalée.")
            if fragile
            else _("Situation de fragilité levée."),
            payload={"fragile": fragile},
            touch=False,
        )
    return True


# --- Presence -----------------------------------------------------------------------------------


def _parse_status(status: str) -> str:
    value = STATUS_ALIASES.get(str(status).strip().lower(), str(status))
    if value not in AgentPresence.Status.values:
        raise ValidationError(
            {"status": [_("Statut inconnu : choisissez disponible, en pause ou hors ligne.")]},
            code="invalid_status",
        )
    return value


def _check_can_manage(by: User | None, agent: User) -> None:
    if by is None or by.pk == agent.pk or by.is_admin_role:
        return
    if not by.is_supervisor or not set(user_service_ids(by)) & set(user_service_ids(agent)):
        raise ValidationError(
            _("Vous ne supervisez pas les services de cet agent."), code="forbidden"
        )


def set_status(agent: User, status: str, *, by: User | None = None) -> AgentPresence:
    """Set an agent's status (disponible / en pause / hors ligne; "occupé" is derived).

    Becoming available starts assignment for the agent; going offline gives their chats back
    to the head of the queue after a 30 s grace period. Runs in a transaction with the
    presence row locked.
    """
    if not agent.is_agent:
        raise ValidationError(_("Seuls les agents ont un statut de présence."), code="not_agent")
    _check_can_manage(by, agent)
    status = _parse_status(status)
    now = timezone.now()
    with transaction.atomic():
        presence = _lock_presence(agent.pk)
        changed = presence.status != status
        presence.auto_offline = False
        presence.resume_status = ""
        if status != AgentPresence.Status.OFFLINE:
            # The agent just acted in the console: they are present now, whatever an earlier
            # session's last heartbeat says (else the sweep would put them offline at once).
            presence.last_heartbeat = now
        if changed:
            presence.status = status
            presence.status_since = now
            if status == AgentPresence.Status.AVAILABLE:
                presence.idle_since = now
                # A fresh heartbeat window: the console's socket may connect a moment later.
                presence.last_heartbeat = now
        presence.save()
        if changed:
            _after_status_change(presence, by=by)
    return presence


def _after_status_change(presence: AgentPresence, *, by: User | None = None) -> None:
    agent_id, status = presence.user_id, presence.status
    if status == AgentPresence.Status.AVAILABLE:
        _queue_task("assign_agent", agent_id)
    elif status == AgentPresence.Status.OFFLINE:
        _queue_task(
            "requeue_offline_contacts",
            agent_id,
            countdown=REQUEUE_GRACE.total_seconds(),
        )
    _on_commit(
        lambda: group_send(
            agent_group(agent_id),
            {"type": "presence.status", "status": status, "by": by.pk if by else None},
        )
    )
    schedule_availability_refresh(agent_id=agent_id)


def user_service_ids_for(agent_id: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.service_id FROM {_t(AgentProfile.services.through)} s "  # noqa: S608 (table names only)
            f"JOIN {_t(AgentProfile)} ap ON ap.id = s.agentprofile_id WHERE ap.user_id = %s",
            [agent_id],
        )
        return [row[0] for row in cursor.fetchall()]


def heartbeat(agent_id: int) -> AgentPresence | None:
    """Record a console heartbeat. An agent the sweep put offline gets their status back."""
    now = timezone.now()
    updated = AgentPresence.objects.filter(pk=agent_id, auto_offline=False).update(
        last_heartbeat=now
    )
    if updated:
        return None
    with transaction.atomic():
        presence = _lock_presence(agent_id)
        presence.last_heartbeat = now
        if presence.auto_offline:
            presence.status = presence.resume_status or AgentPresence.Status.AVAILABLE
            presence.status_since = now
            presence.idle_since = now
            presence.auto_offline = False
            presence.resume_status = ""
            presence.save()
            _after_status_change(presence)
        else:
            presence.save(update_fields=["last_heartbeat"])
    return presence


def sweep_presence(now: datetime | None = None) -> list[int]:
    """Switch agents without heartbeat for 60 s to offline (beat). Returns their ids.

    Each switch is a conditional update on the status and heartbeat seen, so a heartbeat that
    arrives meanwhile wins. Idempotent.
    """
    now = now or timezone.now()
    limit = now - OFFLINE_AFTER
    stale = AgentPresence.objects.exclude(status=AgentPresence.Status.OFFLINE).filter(
        Q(last_heartbeat__lt=limit) | Q(last_heartbeat__isnull=True, status_since__lt=limit)
    )
    switched = []
    for presence in stale:
        with transaction.atomic():
            updated = AgentPresence.objects.filter(
                pk=presence.pk, status=presence.status, last_heartbeat=presence.last_heartbeat
            ).update(
                status=AgentPresence.Status.OFFLINE,
                status_since=now,
                auto_offline=True,
                resume_status=presence.status,
            )
            if updated == 1:
                presence.status = AgentPresence.Status.OFFLINE
                _after_status_change(presence)
                switched.append(presence.pk)
    return switched


def requeue_offline_contacts(agent_id: int, now: datetime | None = None) -> list[int]:
    """Give back the live contacts of an agent offline for at least the grace period.

    Chats (any open status) go to the head of their queue; callbacks not yet started go back
    too; web-message cases stay assigned (a supervisor can reassign them). Idempotent.
    """
    now = now or timezone.now()
    presence = AgentPresence.objects.filter(pk=agent_id).first()
    if presence is None or presence.status != AgentPresence.Status.OFFLINE:
        return []
    if now - presence.status_since < REQUEUE_GRACE:
        return []  # too early (eager Celery ignores countdowns): the beat sweep retries
    cases = Case.objects.filter(assigned_to_id=agent_id).filter(
        Q(channel__in=CHANNEL_GROUPS["chat"], status__in=Case.OPEN_STATUSES)
        | Q(channel=Channel.CALLBACK, status=Case.Status.ASSIGNED)
    )
    return [case.pk for case in cases if requeue_case(case, head=True)]


SWEEP_MARKER_KEY = "routing:embedded-sweeps"
SWEEP_EVERY_SECONDS = 15


def run_sweeps_if_due() -> bool:
    """Embedded mode (eager Celery, no beat): run the periodic routing work at most every 15 s,
    piggybacking on agents' heartbeats. No-op when real workers and beat run."""
    from django.conf import settings

    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return False
    if not cache.add(SWEEP_MARKER_KEY, 1, timeout=SWEEP_EVERY_SECONDS):
        return False
    from . import tasks

    tasks.sweep_presence()
    tasks.sweep_queues()
    tasks.flag_sla_breaches()
    tasks.refresh_availability_beat()
    return True


def sweep_offline_contacts(now: datetime | None = None) -> list[int]:
    """Beat safety net: requeue live contacts still held by agents offline past the grace."""
    now = now or timezone.now()
    agent_ids = (
        Case.objects.filter(
            assigned_to__presence__status=AgentPresence.Status.OFFLINE,
            assigned_to__presence__status_since__lte=now - REQUEUE_GRACE,
        )
        .filter(
            Q(channel__in=CHANNEL_GROUPS["chat"], status__in=Case.OPEN_STATUSES)
            | Q(channel=Channel.CALLBACK, status=Case.Status.ASSIGNED)
        )
        .values_list("assigned_to_id", flat=True)
        .distinct()
    )
    requeued = []
    for agent_id in agent_ids:
        requeued += requeue_offline_contacts(agent_id, now=now)
    return requeued


def effective_status(presence: AgentPresence | None, loads: dict[str, int] | None = None) -> str:
    """Displayed status: "busy" (occupé) when available and in at least one live contact
    (chat, phone or callback); the chosen status otherwise."""
    if presence is None:
        return AgentPresence.Status.OFFLINE
    if presence.status != AgentPresence.Status.AVAILABLE:
        return presence.status
    loads = loads if loads is not None else agent_loads(presence.user_id)
    in_contact = any(loads.get(group, 0) > 0 for group in ("chat", "phone"))
    return "busy" if in_contact else presence.status


STATUS_DISPLAY = {
    "available": gettext_lazy("Disponible"),
    "busy": gettext_lazy("Occupé"),
    "paused": gettext_lazy("En pause"),
    "offline": gettext_lazy("Hors ligne"),
}


# --- Capacity -----------------------------------------------------------------------------------


def set_capacity(agent: User, *, by: User, chat=None, phone=None, web=None) -> AgentPresence:
    """Change an agent's capacity per channel (supervisor of one of the agent's services).

    Chat and phone accept 0-10, web messages 0-50. Lowering a capacity never unassigns: the
    agent simply gets nothing new until their load is under it. Runs in a transaction with the
    presence row locked.
    """
    if not agent.is_agent:
        raise ValidationError(_("Seuls les agents ont une capacité."), code="not_agent")
    if by.pk == agent.pk or not (by.is_supervisor or by.is_admin_role):
        raise ValidationError(
            _("Seul un superviseur peut modifier la capacité d'un agent."), code="forbidden"
        )
    _check_can_manage(by, agent)
    values = {"chat": chat, "phone": phone, "web": web}
    labels = {"chat": _("tchat"), "phone": _("téléphone et rappels"), "web": _("messagerie")}
    errors: dict[str, list[str]] = {}
    clean: dict[str, int] = {}
    for group, raw in values.items():
        if raw is None or raw == "":
            continue
        try:
            number = int(str(raw).strip())
        except ValueError:
            errors[f"capacity_{group}"] = [
                _("La capacité %(label)s doit être un nombre entier.") % {"label": labels[group]}
            ]
            continue
        if not 0 <= number <= CAPACITY_MAX[group]:
            errors[f"capacity_{group}"] = [
                _("La capacité %(label)s doit être comprise entre 0 et %(max)s.")
                % {"label": labels[group], "max": CAPACITY_MAX[group]}
            ]
            continue
        clean[group] = number
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        presence = _lock_presence(agent.pk)
        for group, number in clean.items():
            setattr(presence, f"capacity_{group}", number)
        presence.save()
        _queue_task("assign_agent", agent.pk)
        schedule_availability_refresh(agent_id=agent.pk)
    return presence


def grantable_skills(by: User):
    """Skills a supervisor may give: those of the topics of the services they supervise."""
    from contactcenter.models import Skill

    return Skill.objects.filter(topics__service__in=supervised_services(by)).distinct()


def set_agent_skills(agent: User, skills, *, by: User) -> list[str]:
    """Replace the skills an agent holds within the supervisor's services (skill codes or
    Skill objects). Unknown codes and skills of other services are refused by name; skills of
    other services the agent holds are kept. Runs in a transaction."""
    from contactcenter.models import Skill

    if not agent.is_agent:
        raise ValidationError(_("Seuls les agents ont des compétences."), code="not_agent")
    if not (by.is_supervisor or by.is_admin_role):
        raise ValidationError(
            _("Seul un superviseur peut modifier les compétences d'un agent."), code="forbidden"
        )
    _check_can_manage(by, agent)
    codes = [s.code if isinstance(s, Skill) else str(s).strip() for s in skills]
    known = {s.code: s for s in Skill.objects.filter(code__in=codes)}
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ValidationError(
            {"skills": [_("Compétence inconnue : « %(code)s ».") % {"code": c} for c in unknown]}
        )
    grantable = set(grantable_skills(by).values_list("pk", flat=True))
    outside = [known[c].name for c in codes if known[c].pk not in grantable]
    if outside:
        raise ValidationError(
            {
                "skills": [
                    _("La compétence « %(name)s » ne relève pas de vos services.") % {"name": n}
                    for n in outside
                ]
            }
        )
    with transaction.atomic():
        profile, _created = AgentProfile.objects.get_or_create(user=agent)
        kept = profile.skills.exclude(pk__in=grantable)
        profile.skills.set(list(kept) + [known[c] for c in codes])
        _queue_task("assign_agent", agent.pk)
        schedule_availability_refresh(agent_id=agent.pk)
    return sorted(codes)


# --- SLA ---------------------------------------------------------------------------------------


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
        _ensure_deadline(case)
        count += case.sla_deadline is not None
    return count


# --- Callbacks -----------------------------------------------------------------------------------

CALLBACK_SLOT = timedelta(minutes=30)
CALLBACK_LEAD = timedelta(minutes=15)
CALLBACK_DAYS = 5
CALLBACK_RETRY_DELAY = timedelta(hours=1)


def slot_capacity(topic: Topic) -> int:
    """How many callbacks may share one slot: agents of the service holding the skill."""
    agents = User.objects.filter(
        role=User.Role.AGENT, is_active=True, agent_profile__services=topic.service_id
    )
    if topic.skill_id:
        agents = agents.filter(agent_profile__skills=topic.skill_id)
    return agents.distinct().count()


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime

    @property
    def value(self) -> str:
        return self.start.isoformat()


def callback_slots(
    topic: Topic, *, now: datetime | None = None, earliest: datetime | None = None
) -> list[Slot]:
    """The next bookable callback slots of a topic's service (opening hours, not full)."""
    now = now or timezone.now()
    capacity = slot_capacity(topic)
    if capacity == 0:
        return []
    start = max(earliest or now, now + CALLBACK_LEAD)
    slots = calendar_for(topic.service_id).slots(start, days=CALLBACK_DAYS, length=CALLBACK_SLOT)
    if not slots:
        return []
    booked: dict[datetime, int] = {}
    for slot_start in CallbackRequest.objects.filter(
        status=CallbackRequest.Status.SCHEDULED,
        case__service_id=topic.service_id,
        slot_start__gte=slots[0][0],
        slot_start__lte=slots[-1][0],
    ).values_list("slot_start", flat=True):
        booked[slot_start] = booked.get(slot_start, 0) + 1
    return [Slot(s, e) for s, e in slots if booked.get(s, 0) < capacity]


def parse_slot(value) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValidationError({"slot": [_("Choisissez un créneau dans la liste.")]})
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def request_callback(
    *,
    citizen: User,
    topic: Topic,
    phone: str,
    description: str,
    slot,
    now: datetime | None = None,
) -> Case:
    """Book a callback: a case of channel "callback" (first event "callback") for the slot.

    Validates everything first (phone, description, slot in the future, inside opening hours,
    not full) and reports each problem on its field. Runs in a transaction; the slot's
    service row is locked while counting bookings so that a slot is never overbooked. The
    citizen is notified of the booking after commit (no content in the notification).
    """
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    if not citizen.is_citizen:
        raise ValidationError(_("Seul un usager peut demander à être rappelé."))
    if not topic.is_active:
        errors["topic"] = [_("Ce thème n'est plus proposé.")]
    try:
        phone = normalize_phone(phone)
    except ValidationError as exc:
        errors["phone"] = exc.messages
    try:
        description = validate_body(description, max_chars=1000)
    except ValidationError as exc:
        errors["description"] = (
            [_("Décrivez en quelques mots l'objet de votre appel.")]
            if exc.code == "required"
            else exc.messages
        )
    try:
        slot_start = parse_slot(slot)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        slot_start = None
    if slot_start is not None and "topic" not in errors:
        slot_error = _slot_error(topic, slot_start, now)
        if slot_error:
            errors["slot"] = [slot_error]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        Service.objects.select_for_update().get(pk=topic.service_id)
        if not any(s.start == slot_start for s in callback_slots(topic, now=now)):
            raise ValidationError(
                {"slot": [_("Ce créneau vient d'être réservé : choisissez-en un autre.")]}
            )
        slot_end = slot_start + CALLBACK_SLOT
        case, _event = open_case(
            citizen=citizen,
            topic=topic,
            kind=Case.Kind.QUESTION,
            channel=Channel.CALLBACK,
            subject=_("Demande de rappel — %(topic)s") % {"topic": topic.title},
            first_event_type=Event.Type.CALLBACK,
            body=description,
            payload={
                "slot_start": slot_start.isoformat(),
                "slot_end": slot_end.isoformat(),
                "phone": phone,
            },
        )
        CallbackRequest.objects.create(
            case=case, phone=phone, slot_start=slot_start, slot_end=slot_end
        )
        Case.objects.filter(pk=case.pk).update(sla_deadline=slot_end)
        case.sla_deadline = slot_end
        notify_citizen(case, "callback_booked")
        _queue_task("route_case", case.pk, eta=slot_start)
    return case


def _slot_error(topic: Topic, slot_start: datetime, now: datetime) -> str | None:
    if slot_start <= now:
        return _("Ce créneau est déjà passé : choisissez-en un autre.")
    cal = calendar_for(topic.service_id)
    slot_end = slot_start + CALLBACK_SLOT
    inside = (
        any(
            s <= slot_start and slot_end <= e
            for s, e in cal.ranges_on(slot_start.astimezone(timezone.get_current_timezone()).date())
        )
        and not cal.always_open
    )
    if not inside:
        return _("Ce créneau est en dehors des horaires d'ouverture du service.")
    if slot_start < now + CALLBACK_LEAD:
        return _("Ce créneau est trop proche : choisissez-en un à partir de %(time)s.") % {
            "time": timezone.localtime(now + CALLBACK_LEAD).strftime("%H:%M")
        }
    if not any(s.start == slot_start for s in callback_slots(topic, now=now)):
        return _("Ce créneau n'est plus disponible : choisissez-en un autre.")
    return None


def cancel_callback(citizen: User, case: Case) -> CallbackRequest:
    """The citizen cancels a callback not yet made. Checked conditional update."""
    with transaction.atomic():
        updated = CallbackRequest.objects.filter(
            case=case, case__citizen=citizen, status=CallbackRequest.Status.SCHEDULED
        ).update(status=CallbackRequest.Status.CANCELLED)
        if updated != 1:
            raise ValidationError(_("Ce rappel ne peut plus être annulé."), code="not_cancellable")
        fresh = Case.objects.get(pk=case.pk)
        add_event(fresh, Event.Type.CALLBACK, actor=citizen, payload={"outcome": "cancelled"})
        change_status(fresh, Case.Status.CLOSED, actor=citizen, resolution="no_follow_up")
        if fresh.assigned_to_id:
            agent_id = fresh.assigned_to_id
            _on_commit(
                lambda: group_send(
                    agent_group(agent_id), {"type": "case.unassigned", "case_id": case.pk}
                )
            )
    return CallbackRequest.objects.get(case=case)


def record_callback_outcome(
    agent: User, case: Case, *, reached: bool, note: str = "", now: datetime | None = None
) -> CallbackRequest:
    """Record a call attempt on a callback the agent owns.

    Reached: the case moves to "in progress" with the agent (first answer recorded). Not
    reached: retried up to 3 attempts in all (next free slot at least an hour later, back in
    the queue then); after the third, the case is closed "sans suite" and the citizen told.
    Runs in a transaction with the callback row locked.
    """
    now = now or timezone.now()
    note = (note or "").strip()
    if len(note) > 2000:
        raise ValidationError({"note": [_("La note fait 2 000 caractères au maximum.")]})
    with transaction.atomic():
        callback = CallbackRequest.objects.select_for_update().filter(case_id=case.pk).first()
        case = Case.objects.select_related("topic", "service").get(pk=case.pk)
        if callback is None:
            raise ValidationError(_("Cette demande n'est pas un rappel."), code="not_callback")
        if case.assigned_to_id != agent.pk:
            raise ValidationError(_("Ce rappel ne vous est pas attribué."), code="not_owner")
        if not callback.is_scheduled:
            raise ValidationError(_("Ce rappel est déjà terminé."), code="done")
        callback.attempts += 1
        callback.last_attempt_at = now
        payload = {"outcome": "reached" if reached else "not_reached", "attempt": callback.attempts}
        if reached:
            callback.status = CallbackRequest.Status.REACHED
            callback.save()
            add_event(
                case, Event.Type.CALLBACK, actor=agent, channel=Channel.PHONE, payload=payload
            )
            if note:
                add_event(case, Event.Type.NOTE, actor=agent, internal=True, body=note)
            mark_first_response(case, at=now)
            if case.status == Case.Status.ASSIGNED:
                change_status(case, Case.Status.IN_PROGRESS, actor=agent, internal=True)
            return callback
        if note:
            add_event(case, Event.Type.NOTE, actor=agent, internal=True, body=note)
        if callback.attempts >= CallbackRequest.MAX_ATTEMPTS:
            callback.status = CallbackRequest.Status.FAILED
            callback.save()
            payload["final"] = True
            add_event(
                case, Event.Type.CALLBACK, actor=agent, channel=Channel.PHONE, payload=payload
            )
            change_status(case, Case.Status.CLOSED, actor=agent, resolution="no_follow_up")
            notify_citizen(case, "callback_failed")
            return callback
        slots = callback_slots(case.topic, now=now, earliest=now + CALLBACK_RETRY_DELAY)
        if not slots:
            # No slot in the coming days: keep the booking, the agent may try again later.
            callback.save()
            add_event(
                case, Event.Type.CALLBACK, actor=agent, channel=Channel.PHONE, payload=payload
            )
            return callback
        nxt = slots[0]
        callback.slot_start, callback.slot_end = nxt.start, nxt.end
        callback.save()
        payload["next_slot"] = nxt.start.isoformat()
        add_event(case, Event.Type.CALLBACK, actor=agent, channel=Channel.PHONE, payload=payload)
        Case.objects.filter(pk=case.pk).update(sla_deadline=nxt.end)
        case.sla_deadline = nxt.end
        requeue_case(case, actor=agent)
        notify_citizen(case, "callback_booked")
        _queue_task("route_case", case.pk, eta=nxt.start)
    return callback


# --- Supervisor live view -------------------------------------------------------------------------


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
    loads: dict
    capacities: dict
    since: datetime | None
    in_status: timedelta | None = None

    @property
    def status_label(self) -> str:
        return STATUS_DISPLAY[self.status]


def supervised_services(user: User):
    if user.is_admin_role:
        return Service.objects.filter(is_active=True)
    if not user.is_supervisor:
        return Service.objects.none()
    return Service.objects.filter(pk__in=user_service_ids(user))


def live_view(user: User, now: datetime | None = None) -> dict:
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
    queue_rows = sorted(rows.values(), key=lambda r: (r.service.name, str(r.skill_name)))
    return {
        "queues": queue_rows,
        "agents": agent_rows,
        "now": now,
        "total_waiting": sum(r.waiting for r in queue_rows),
        "total_breached": sum(r.breached for r in queue_rows),
        "services": services,
    }
