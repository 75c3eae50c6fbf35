"""The assignment engine: who gets which waiting case, atomically.

Atomicity (DESIGN invariant 2): every path that gives a case to an agent

1. locks the agent's ``AgentPresence`` row (``SELECT ... FOR UPDATE``; the automatic engine uses
   ``SKIP LOCKED`` so that concurrent workers spread over different agents), then
2. runs one conditional ``UPDATE`` of the case (``conditional_assign``): ``WHERE assigned_to IS
   NULL AND status = 'new'`` (or the expected previous owner) ``AND <active load of the agent on
   that channel> < <capacity>``, and checks that exactly one row changed.

The lock serialises assignments per agent on PostgreSQL (READ COMMITTED gives each statement a
fresh snapshot, so the load count in the UPDATE sees the previous holder's commit). On SQLite the
single UPDATE statement is itself atomic (one writer at a time).

Two engines fill an agent's free slots (``assign_available``), with the same outcomes
(tests/routing/test_engine_parity.py): on PostgreSQL the two prepared statements of
``routing.engine_pg``; elsewhere, and as the fallback when other workers hold every head case,
the portable engine here (ORM, the head of each group's queue one case at a time).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import DateTimeField, Exists, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import LessThan
from django.utils import timezone

from contactcenter.models import AgentProfile, Case, Channel, Event, Topic, User
from contactcenter.services import add_event
from contactcenter.signals import case_assigned

from . import engine_pg
from .availability import schedule_availability_refresh
from .capacity import (
    ACTIVE_STATUSES,
    CHANNEL_GROUPS,
    GROUP_ORDER,
    active_load,
    agent_group,
    agent_loads,
    available_agents,
    channel_group,
    free_capacity,
    is_on_call,
    on_call,
    with_room,
)
from .engine_pg import Claim
from .models import AgentPresence, CallbackRequest
from .publish import group_send, queue_task_now
from .queues import QUEUE_ORDER, queued_cases
from .signals import cases_claimed
from .sla import ensure_deadline, missing_deadline, set_missing_deadlines

# Most cases one pass of the "agent became free" task hands out (routing.tasks.assign_agent).
FILL_BATCH = 4
# How many of the head of a group's queue the portable engine reads before locking one.
HEAD_READ = 5
# Most cases the queue sweep routes per run (beat).
SWEEP_BATCH = 500


def pg_engine_enabled() -> bool:
    """Whether ``assign_available`` claims with the PostgreSQL statements (``engine_pg``)."""
    return connection.vendor == "postgresql"


# --- The one write -----------------------------------------------------------------------------


def conditional_assign(
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
    rows = Case.objects.filter(pk=case.pk, assigned_to_id=expected_owner, status=expected_status)
    if new_status in ACTIVE_STATUSES:
        presences = AgentPresence.objects.filter(user_id=agent_id)
        if require_available:
            presences = presences.filter(status=AgentPresence.Status.AVAILABLE)
        capacity = Subquery(presences.values(f"capacity_{group}")[:1])
        rows = rows.filter(LessThan(active_load(agent_id, group), capacity))
        if group == "chat":
            rows = rows.filter(~on_call(agent_id))  # on the phone: not free for chat
    updated = rows.update(
        assigned_to_id=agent_id,
        assigned_at=now,
        status=new_status,
        priority=0,
        updated_at=now,
        sla_deadline=Coalesce("sla_deadline", Value(deadline, output_field=DateTimeField())),
    )
    return updated == 1


def assignment_payload(
    agent_id: int, mode: str, from_status: str, to_status: str, previous_owner: int | None = None
) -> dict[str, Any]:
    """The payload of an ``assignment`` timeline event (one shape whoever writes the row)."""
    payload = {"agent": agent_id, "mode": mode, "from": str(from_status), "to": str(to_status)}
    if previous_owner:
        payload["previous_agent"] = previous_owner
    return payload


def record_assignment(
    case: Case,
    agent_id: int,
    *,
    now: datetime,
    by: User | None,
    mode: str,
    previous_owner: int | None = None,
    new_status: str = Case.Status.ASSIGNED,
    event_written: bool = False,
    idle_clock: bool = True,
) -> None:
    """Inside the assigning transaction, what a successful assignment writes besides the case:
    the agent's idle clock and the ``assignment`` timeline event (``event_written``: the
    assigning statement already wrote both, the PostgreSQL claim; ``idle_clock=False``: the
    caller resets the clock once for several assignments). Brings ``case`` up to date."""
    old_status = case.status
    case.assigned_to_id, case.assigned_at, case.status, case.priority = (
        agent_id,
        now,
        new_status,
        0,
    )
    if event_written:
        return
    if idle_clock:
        AgentPresence.objects.filter(user_id=agent_id).update(idle_since=now)
    payload = assignment_payload(agent_id, mode, old_status, new_status, previous_owner)
    add_event(
        case, Event.Type.ASSIGNMENT, actor=by, internal=True, payload=payload, touch=False, at=now
    )


@dataclass(frozen=True, slots=True)
class Assigned:
    """What the after-commit announcement needs of one assignment: the case's id, channel and
    reference, and whether a transfer of it waits to be accepted (None: not known)."""

    case_id: int
    channel: str
    reference: str
    pending_transfer: bool | None = None

    @classmethod
    def of(cls, case: Case, pending_transfer: bool | None = None) -> Assigned:
        return cls(case.pk, case.channel, case.reference, pending_transfer)


def announce_assignments(
    agent_id: int,
    assigned: Sequence[Assigned],
    *,
    chat_full: bool,
    previous_owner: int | None = None,
    publish: bool = True,
) -> None:
    """Register, inside the assigning transaction, what is told of its assignments once it has
    committed, as one commit hook: ``case_assigned`` for each case (other apps' receivers: chat,
    transfer acceptance), ``case.unassigned`` to the previous owner's consoles, then the agent's
    consoles in one message (``assigned_message``). A ``case_assigned`` receiver may return a
    dict of extra fields for that case's notice in this message (the console's screen-pop item,
    ``{"pop": {...}}``): what the consoles are told of a pass is one publish, whatever the number
    of receivers. ``chat_full``: the agent's last free chat slot is gone (the chat availability
    is refreshed: it only changes then)."""
    if not assigned:
        return
    items = list(assigned)

    def announce() -> None:
        notices = []
        for item in items:
            responses = case_assigned.send(
                sender=Case,
                case_id=item.case_id,
                agent_id=agent_id,
                channel=item.channel,
                pending_transfer=item.pending_transfer,
            )
            notice = assigned_notice(item)
            for _receiver, extra in responses:
                if isinstance(extra, dict):
                    notice.update(extra)
            notices.append(notice)
            if previous_owner:
                unassigned = {"type": "case.unassigned", "case_id": item.case_id}
                group_send(agent_group(previous_owner), unassigned)
        message = notices_message(notices)
        if publish and message is not None:
            group_send(agent_group(agent_id), message)

    transaction.on_commit(announce)
    if chat_full:
        schedule_availability_refresh(agent_id=agent_id)


def after_assignment(
    case: Case,
    agent_id: int,
    *,
    now: datetime,
    by: User | None,
    mode: str,
    previous_owner: int | None = None,
    new_status: str = Case.Status.ASSIGNED,
    free_after: int | None = None,
) -> None:
    """Timeline, idle clock and after-commit notifications of one successful assignment
    (``record_assignment``, then ``announce_assignments``). ``free_after``: the agent's free
    slots on the channel once assigned, when the caller knows it (saves a query)."""
    record_assignment(
        case,
        agent_id,
        now=now,
        by=by,
        mode=mode,
        previous_owner=previous_owner,
        new_status=new_status,
    )
    is_chat = channel_group(case.channel) == "chat"
    if free_after is None and is_chat:
        free_after = free_capacity(agent_id, case.channel)
    announce_assignments(
        agent_id,
        [Assigned.of(case)],
        chat_full=is_chat and free_after == 0,
        previous_owner=previous_owner,
    )


def assigned_notice(case: Case | Assigned) -> dict[str, Any]:
    """What the agent's consoles are told of one assignment (``case.assigned``)."""
    if isinstance(case, Case):
        case = Assigned.of(case)
    return {"case_id": case.case_id, "channel": case.channel, "reference": case.reference}


def assigned_message(cases: Sequence[Case | Assigned]) -> dict[str, Any] | None:
    """The agent's consoles' message for a batch: ``cases.assigned`` (``{"cases": [notice,
    ...]}``; the consumers hand each on as ``case.assigned``), or ``case.assigned`` for a single
    case; None for none."""
    return notices_message([assigned_notice(case) for case in cases])


def notices_message(notices: list[dict[str, Any]]) -> dict[str, Any] | None:
    """``assigned_message`` from notices already made."""
    if not notices:
        return None
    if len(notices) == 1:
        return {"type": "case.assigned", **notices[0]}
    return {"type": "cases.assigned", "cases": notices}


# --- A contact arrives: route_case -----------------------------------------------------------


def _candidate_agents(
    service_id: int,
    skill_id: int | None,
    group: str,
    *,
    exclude: Collection[int] = (),
    limit: int = 3,
) -> list[tuple[int, int]]:
    """(agent id, free slots) of available agents of the service with the skill and a free
    slot on the channel group, longest idle first.

    On PostgreSQL the returned presence rows are locked (``FOR UPDATE SKIP LOCKED``): a row
    another worker is assigning to is skipped, not waited for. Run inside a transaction.
    """
    agents = available_agents().filter(user__agent_profile__services=service_id)
    if skill_id:
        agents = agents.filter(user__agent_profile__skills=skill_id)
    if exclude:
        agents = agents.exclude(user_id__in=exclude)
    return list(
        with_room(agents, group)
        .order_by("idle_since", "user_id")
        .select_for_update(skip_locked=True, of=("self",))
        .values_list("user_id", "free")[:limit]
    )


def _callback_due(case: Case, now: datetime) -> bool:
    return CallbackRequest.objects.filter(
        case_id=case.pk, status=CallbackRequest.Status.SCHEDULED, slot_start__lte=now
    ).exists()


def route_case(case_id: int, *, exclude_agent_ids: Collection[int] = ()) -> int | None:
    """Give a queued case to the longest-idle available agent with the skill and a free slot.

    Returns the agent id, or None (case not queued, locked by another worker, callback slot not
    reached, or nobody free: it stays in the queue). Runs its own transaction: locks the case
    row (``SKIP LOCKED``) and the candidates' presence rows, then assigns with a checked
    conditional UPDATE. Idempotent.
    """
    now = timezone.now()
    with transaction.atomic():
        case = (
            Case.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("topic")
            .filter(pk=case_id, status=Case.Status.NEW, assigned_to__isnull=True)
            .first()
        )
        if case is None:
            return None
        if case.channel == Channel.CALLBACK and not _callback_due(case, now):
            ensure_deadline(case)
            return None
        deadline = missing_deadline(case)
        group = channel_group(case.channel)
        for agent_id, free in _candidate_agents(
            case.service_id, case.topic.skill_id, group, exclude=tuple(exclude_agent_ids)
        ):
            if conditional_assign(case, agent_id, now=now, deadline=deadline):
                case.sla_deadline = case.sla_deadline or deadline
                record_assignment(case, agent_id, now=now, by=None, mode="auto")
                # Listeners hear of the claim before the commit hooks of its announcement are
                # registered: theirs run first, right after COMMIT.
                cases_claimed.send(sender=Case, agent_id=agent_id, case_ids=[case.pk])
                announce_assignments(
                    agent_id, [Assigned.of(case)], chat_full=group == "chat" and free == 1
                )
                return agent_id
        ensure_deadline(case)  # stays queued: the deadline still runs
    return None


# --- An agent has room: assign_available ---------------------------------------------------------


def _best_case_for(agent_id: int, group: str, now: datetime, topic_ids: list[int]) -> Case | None:
    """The head of the agent's queues for one channel group (locked, ``SKIP LOCKED``).

    ``topic_ids``: the topics the agent may take (their services, their skills), so that the
    query reads one table and orders like the queue."""
    if not topic_ids:
        return None
    waiting = Case.objects.filter(
        status=Case.Status.NEW,
        assigned_to__isnull=True,
        topic_id__in=topic_ids,
        channel__in=CHANNEL_GROUPS[group],
    ).order_by(*QUEUE_ORDER)
    if Channel.CALLBACK in CHANNEL_GROUPS[group]:
        due = CallbackRequest.objects.filter(
            case_id=OuterRef("pk"), status=CallbackRequest.Status.SCHEDULED, slot_start__lte=now
        )
        waiting = waiting.filter(~Q(channel=Channel.CALLBACK) | Exists(due))
    # 1. The first few of the queue, unlocked: a bounded (top-N) sort of narrow rows.
    head = list(waiting.values_list("pk", flat=True)[:HEAD_READ])
    if not head:
        return None
    # 2. Lock the best of them still waiting (SKIP LOCKED: another worker may hold one); if
    # all of them went meanwhile, take the head of the whole queue.
    locked = waiting.select_for_update(skip_locked=True, of=("self",))
    return locked.filter(pk__in=head).first() or locked.first()


def _lock_available_agent(
    agent_id: int, groups: tuple[str, ...] = GROUP_ORDER
) -> tuple[dict[str, int], dict[str, int], list[int]] | None:
    """The portable engine's agent lock: (capacities, loads, topic ids) of an available agent
    with room on one of ``groups`` at least, their presence row locked (``SKIP LOCKED``); None
    when the agent is unavailable, full on those groups or locked by another worker (what
    ``engine_pg.lock_available_agent`` does in one statement)."""
    presence = (
        available_agents()
        .filter(pk=agent_id)
        .select_for_update(skip_locked=True, of=("self",))
        .first()
    )
    if presence is None:
        return None
    capacity = {group: presence.capacity_for(group) for group in CHANNEL_GROUPS}
    if is_on_call(agent_id):
        capacity["chat"] = 0  # on the phone: not free for chat
    loads = agent_loads(agent_id)
    if not any(capacity[group] > loads[group] for group in groups):
        return None
    profiles = AgentProfile.objects.filter(user_id=agent_id)
    topic_ids = list(
        Topic.objects.filter(service__in=profiles.values("services"))
        .filter(Q(skill__isnull=True) | Q(skill__in=profiles.values("skills")))
        .values_list("pk", flat=True)
    )
    return capacity, loads, topic_ids


def _claim_for_agent(
    agent_id: int, rooms: dict[str, int], now: datetime, topic_ids: list[int], cap: int
) -> list[Claim]:
    """Give the agent (locked, with room) up to ``rooms[group]`` cases at the head of their
    queues for each channel group of ``rooms``, at most ``cap`` in all, groups served in that
    order (assigned). A claim with an event id: the same statement also reset the agent's idle
    clock and wrote the timeline event (else the caller's ``after_assignment`` writes them).

    On PostgreSQL, one statement for all the groups (``engine_pg.claim``); elsewhere, the head
    of each group's queue one case at a time through the checked conditional UPDATE (SQLite
    runs one writing transaction at a time)."""
    rooms = {group: room for group, room in rooms.items() if room > 0}
    if not topic_ids or not rooms or cap <= 0:
        return []
    claims: list[Claim] = []
    fallback = list(rooms)
    if pg_engine_enabled():
        fallback = []
        payload = assignment_payload(agent_id, "auto", Case.Status.NEW, Case.Status.ASSIGNED)
        claimed = engine_pg.claim(agent_id, rooms, now, topic_ids, cap, payload)
        for group, (group_claims, seen) in claimed.items():
            for claim in group_claims:
                # The claim wrote the assignment; the case object shows it as it was before.
                claim.case.status = Case.Status.NEW
                ensure_deadline(claim.case)
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
            deadline = missing_deadline(case)
            if not conditional_assign(case, agent_id, now=now, deadline=deadline):
                break
            case.sla_deadline = case.sla_deadline or deadline
            claims.append(Claim(case))
    return claims


def assign_available(
    agent: User | int, *, limit: int | None = None, groups: Sequence[str] = GROUP_ORDER
) -> list[Case]:
    """Fill an available agent's free slots with the best cases waiting in their queues, up to
    ``limit`` cases, in one transaction. Returns the assigned cases (maybe none).

    Channel groups are served in order (chat, phone/callback, web). Locks the agent's presence
    row (``SKIP LOCKED``: if another worker is assigning to this agent, returns []; an agent
    with no room is not locked). On PostgreSQL one statement then claims as many head cases of
    each group as the agent has room for (``engine_pg.claim``), elsewhere one case at a time
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
    agent: User | int, *, limit: int | None, groups: Sequence[str] = GROUP_ORDER
) -> tuple[list[Case], int]:
    """``assign_available``, and the agent's free slots left on those groups afterwards."""
    agent_id = agent if isinstance(agent, int) else agent.pk
    groups = tuple(groups)
    now = timezone.now()
    with transaction.atomic():
        lock = engine_pg.lock_available_agent if pg_engine_enabled() else _lock_available_agent
        locked = lock(agent_id, groups)
        if locked is None:
            return [], 0
        capacity, loads, topic_ids = locked
        free = {group: capacity[group] - loads[group] for group in groups}
        rooms = {group: room for group, room in free.items() if room > 0}
        cap = sum(rooms.values()) if limit is None else limit
        claims = _claim_for_agent(agent_id, rooms, now, topic_ids, cap)
        assigned: list[Case] = []
        for claim in claims:
            free[channel_group(claim.case.channel)] -= 1
            record_assignment(
                claim.case,
                agent_id,
                now=now,
                by=None,
                mode="auto",
                event_written=claim.event_id is not None,
                idle_clock=False,
            )
            assigned.append(claim.case)
        if any(claim.event_id is None for claim in claims):
            # The portable engine's assignments: the idle clock once for the pass.
            AgentPresence.objects.filter(user_id=agent_id).update(idle_since=now)
        if assigned:
            # Listeners hear of the claim before the commit hook of its announcement is
            # registered: theirs run first, right after COMMIT.
            cases_claimed.send(
                sender=Case, agent_id=agent_id, case_ids=[case.pk for case in assigned]
            )
            chat_assigned = any(channel_group(case.channel) == "chat" for case in assigned)
            announce_assignments(
                agent_id,
                [Assigned.of(claim.case, claim.pending_transfer) for claim in claims],
                # Availability only changes when this agent's last free chat slot is gone.
                chat_full=chat_assigned and free.get("chat") == 0,
            )
    return assigned, sum(room for room in free.values() if room > 0)


def assign_next(agent: User | int, *, groups: Sequence[str] = GROUP_ORDER) -> Case | None:
    """Give an available agent the best case waiting in their queues, if they have room: one
    case (``assign_available`` with ``limit=1``). Returns the assigned case or None."""
    cases = assign_available(agent, limit=1, groups=groups)
    return cases[0] if cases else None


# --- Task bodies ---------------------------------------------------------------------------------


def fill_agent(agent_id: int) -> int:
    """Body of the "agent became free" task: one pass (``fill_pass``). A pass that reached the
    batch, the agent still having free slots, queues the next one, behind the passes of the
    other agents: agents who come on shift together share the oldest work rather than the first
    one served taking a whole inbox, and no transaction holds the head of the queues for long.
    Returns how many cases the pass gave."""
    assigned, more = fill_pass(agent_id)
    if more:
        queue_task_now("assign_agent", agent_id)
    else:
        schedule_availability_refresh(agent_id=agent_id)
    return len(assigned)


def sweep_queues() -> int:
    """Route whatever is still waiting (missed signal, callback slot reached, agents freed
    without a trigger), oldest and most urgent first, at most ``SWEEP_BATCH`` per run."""
    set_missing_deadlines()
    assigned = 0
    waiting = queued_cases().order_by(*QUEUE_ORDER).values_list("pk", flat=True)[:SWEEP_BATCH]
    for case_id in waiting:
        if route_case(case_id) is not None:
            assigned += 1
    return assigned
