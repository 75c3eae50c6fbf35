"""The PostgreSQL assignment engine: the only hand-written SQL of the project.

Two statements per pass of the engine (``routing.engine.assign_available`` on PostgreSQL):

1. ``lock_available_agent``: lock the agent's presence row ``SKIP LOCKED`` when they have room,
   reading in the same statement their capacity and load per channel group and the topics they
   may take;
2. ``claim``: pick, lock and assign the best head cases of the agent's queues for each channel
   group, reset the agent's idle clock and write the ``assignment`` timeline events, in one
   statement.

They cannot be written with the ORM at the same cost: the claim is one statement of data-
modifying CTEs (``UPDATE ... RETURNING`` feeding an ``INSERT``), a ``LATERAL`` read of each
topic's queue head from the partial index ``case_topic_queue_head``, and ``FOR UPDATE SKIP
LOCKED`` on rows read by primary key from an array; the ORM would need a statement per step and
per group. Everything else in routing goes through the ORM, and the portable engine
(``routing.engine``, used on SQLite and as the fallback here) gives the same outcomes
(tests/routing/test_engine_parity.py).

Both statements are prepared on the server, once per connection (psycopg ``prepare=True``:
Django's own cursors bind on the client and never prepare; ``prepare_threshold`` in the settings
allows it): planning the claim costs about as much as running it. The claim runs on its generic
plan: the agent lock, which precedes it in the same transaction, also sets
``plan_cache_mode = force_generic_plan`` for that transaction only (``set_config(...,
is_local => true)``: what ``SET LOCAL`` does, without a round trip of its own). Under the
default ``auto``, PostgreSQL compares the generic plan (which cannot know the length of the
topic array, so looks costlier) with custom plans and plans the claim again on every execution,
for the same plan. Statuses, channels and event types are
written into the text as literals (code constants), not passed as parameters: with a generic
plan, ``status = $2`` could not use the partial index (``WHERE status = 'new'``). The claim's
text stays under 4 KB: psycopg converts longer statements again on every execution.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import connection
from django.db.models import Model

from contactcenter.models import AgentProfile, Case, Channel, Event, Topic, Transfer, User

from .capacity import ACTIVE_STATUSES, CHANNEL_GROUPS, GROUP_ORDER, ON_CALL_CHANNELS
from .models import AgentPresence, CallbackRequest

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")

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

_SAFE_LITERAL = re.compile(r"^[a-z0-9_]+$")


def _t(model: type[Model]) -> str:
    """The quoted table name of a model."""
    return connection.ops.quote_name(model._meta.db_table)


def _literals(values: Iterable[object]) -> str:
    """``('a', 'b')``: an IN list of code constants (choice values) written into a statement's
    text, so that the planner sees them even in a generic plan. Never for user input: anything
    but lower-case letters, digits and underscores is refused."""
    texts = [str(value) for value in values]
    if not texts or not all(_SAFE_LITERAL.match(text) for text in texts):
        raise ValueError(f"not code constants: {texts!r}")
    return "(" + ", ".join(f"'{text}'" for text in texts) + ")"


def _literal(value: object) -> str:
    """``'value'``: one code constant written into a statement's text (see ``_literals``)."""
    return _literals([value])[1:-1]


def _execute(sql: str, params: list[Any], fetch: Callable[[psycopg.Cursor[Any]], T]) -> T:
    """Run a statement prepared on the server (once per connection) and return
    ``fetch(cursor)``. Errors are Django's database errors; the statement is logged as Django
    logs its queries (``DEBUG``, ``assertNumQueries``)."""
    import psycopg

    connection.ensure_connection()
    logged = connection.queries_logged
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        try:
            # Choices members as the plain strings they stand for (server-side binding types
            # them).
            plain = [str(value) if isinstance(value, str) else value for value in params]
            cursor.execute(sql, plain, prepare=True)
            return fetch(cursor)
        finally:
            if logged:
                connection.queries_log.append(
                    {"sql": f"{sql} -- {params!r}", "time": f"{time.monotonic() - started:.3f}"}
                )


def _loads_sql(agent_expr: str, columns: dict[str, str]) -> str:
    """One pass over an agent's active cases counting their load per channel group:
    ``SELECT <count> AS <name>, ...`` for each ``name: group`` of ``columns``."""
    counts = ", ".join(
        f"COUNT(CASE WHEN lc.channel IN {_literals(CHANNEL_GROUPS[group])} THEN 1 END) AS {name}"
        for name, group in columns.items()
    )
    if "chat" in columns.values():
        # On the phone (capacity.ON_CALL_CHANNELS): not free for chat (``_capacity_sql``).
        counts += f", COUNT(CASE WHEN lc.channel IN {_literals(ON_CALL_CHANNELS)} THEN 1 END) AS oc"
    return (
        f"SELECT {counts} FROM {_t(Case)} lc WHERE lc.assigned_to_id = {agent_expr} "  # noqa: S608 (table names and code constants only)
        f"AND lc.status IN {_literals(ACTIVE_STATUSES)}"
    )


def _capacity_sql(group: str, loads: str) -> str:
    """An agent's capacity on ``group``: none for chat while they are on the phone (the
    ``on_call`` count of the loads ``loads``)."""
    if group == "chat":
        return f"(CASE WHEN {loads}.oc > 0 THEN 0 ELSE p.capacity_chat END)"
    return f"p.capacity_{group}"


def lock_available_agent(
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
    The claim itself counts the room again once the lock is held. The statement also sets the
    claim's plan cache mode for the rest of the transaction (see the module's docstring)."""
    row = _execute(
        _lock_sql(tuple(groups)),
        [agent_id, agent_id, AgentPresence.Status.AVAILABLE, User.Role.AGENT],
        lambda cursor: cursor.fetchone(),
    )
    if row is None:
        return None
    n = len(CHANNEL_GROUPS)
    capacity = dict(zip(CHANNEL_GROUPS, row[:n], strict=True))
    loads = dict(zip(CHANNEL_GROUPS, row[n : 2 * n], strict=True))
    topic_ids = [int(t) for t in (row[2 * n] or "").split(",") if t]
    return capacity, loads, topic_ids


@functools.cache
def _lock_sql(groups: tuple[str, ...]) -> str:
    """The agent lock of ``lock_available_agent`` (built once per tuple of groups)."""
    loads = _loads_sql("%s", {f"load_{g}": g for g in CHANNEL_GROUPS})
    topics = (
        f"(SELECT string_agg(CAST(t.id AS text), ',') FROM {_t(Topic)} t "  # noqa: S608 (table names and code constants only)
        f"WHERE t.service_id IN (SELECT s.service_id FROM {_t(AgentProfile.services.through)} s "
        f"WHERE s.agentprofile_id = ap.id) "
        f"AND (t.skill_id IS NULL OR t.skill_id IN (SELECT k.skill_id FROM "
        f"{_t(AgentProfile.skills.through)} k WHERE k.agentprofile_id = ap.id))) AS topic_ids"
    )
    capacities = ", ".join(_capacity_sql(g, "l") for g in CHANNEL_GROUPS)
    load_columns = ", ".join(f"l.load_{g}" for g in CHANNEL_GROUPS)
    room = " OR ".join(f"{_capacity_sql(g, 'l')} > l.load_{g}" for g in groups)
    return (
        f"SELECT {capacities}, {load_columns}, {topics}, "  # noqa: S608 (table names and code constants only)
        # The claim that follows runs on its generic plan (see the module's docstring).
        f"set_config('plan_cache_mode', 'force_generic_plan', true) FROM {_t(AgentPresence)} p "  # noqa: S608 (table names and code constants only)
        f"JOIN {_t(User)} u ON u.id = p.user_id "
        f"JOIN {_t(AgentProfile)} ap ON ap.user_id = p.user_id "
        f"CROSS JOIN ({loads}) l "
        f"WHERE p.user_id = %s AND p.status = %s AND u.role = %s AND u.is_active "
        f"AND ({room}) FOR UPDATE OF p SKIP LOCKED"
    )


@functools.cache
def _case_columns() -> tuple[str, ...]:
    return tuple(f.attname for f in Case._meta.concrete_fields)


@functools.cache
def _claim_sql(groups: tuple[str, ...]) -> str:
    """The one-statement claim of ``claim`` for some channel groups (built once per
    tuple of groups).

    Parameters, in order: the agent's topic ids; for each group its head length (once per
    channel of the group); the time (callbacks due), when the phone group is there; for each
    group its room, then the cap (most cases in all) and the agent (room); the agent, time and
    time (claim); time and agent (idle clock); payload and time (events).

    Statuses, channels and event types are written into the text (code constants), not
    passed as parameters: with a generic plan, a ``status = $2`` could
    not use the partial index of the queue head (``WHERE status = 'new'``). The head cases are
    read again by primary key from an array (``= ANY (ARRAY(...))``): an ``IN (SELECT ...)``
    let a generic plan hash-join the head with a scan of the whole table."""
    q = _literal
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
        "case_id, citizen_id, service_id, type, channel, actor_id, internal, body, payload, "
        "created_at"
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
        f"GREATEST(LEAST(%s::int, {_capacity_sql(group, 'l')} - l.l{i}), 0) AS r{i}"
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
        f"SELECT claimed.id, claimed.citizen_id, claimed.service_id, {q(Event.Type.ASSIGNMENT)}, "
        f"claimed.channel, "
        f"NULL, TRUE, '', %s::jsonb, %s FROM claimed RETURNING id, case_id) "
        f"SELECT (SELECT ARRAY[{seen_columns}] FROM seen), c.grp, event.id, EXISTS (SELECT 1 FROM "
        f"{_t(Transfer)} tr WHERE tr.case_id = claimed.id AND tr.accepted_at IS NULL), claimed.* "
        f"FROM (SELECT 1) AS one LEFT JOIN (claimed JOIN event ON event.case_id = claimed.id "
        f"JOIN picked c ON c.id = claimed.id) ON TRUE ORDER BY c.grp, {QUEUE_HEAD_ORDER}"
    )


@dataclass(slots=True)
class Claim:
    """A case the engine just gave an agent: the case (as it was before the claim), the id of
    the ``assignment`` event the claim wrote (None: the caller writes it) and whether a transfer
    of the case is waiting to be accepted (None: not known)."""

    case: Case
    event_id: int | None = None
    pending_transfer: bool | None = None


def claim(
    agent_id: int,
    rooms: dict[str, int],
    now: datetime,
    topic_ids: list[int],
    cap: int,
    payload: dict[str, Any],
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
       events are written (the rows ``add_event`` would write: signed by the case's service),
       when cases were claimed.

    A group with no claim but head cases seen: every head case was taken or locked meanwhile
    (the caller falls back to the whole queue)."""
    groups = tuple(rooms)
    params: list[Any] = [list(topic_ids)]
    for group in groups:
        params += [HEAD_PER_TOPIC + min(rooms[group], cap) - 1] * len(CHANNEL_GROUPS[group])
    if any(Channel.CALLBACK in CHANNEL_GROUPS[group] for group in groups):
        params += [now]
    params += [rooms[group] for group in groups]
    params += [cap, agent_id]
    params += [agent_id, now, now]
    params += [now, agent_id]
    params += [json.dumps(payload), now]
    rows = _execute(_claim_sql(groups), params, lambda cursor: cursor.fetchall())
    seen = rows[0][0] if rows else [0] * len(groups)
    result: dict[str, tuple[list[Claim], int]] = {
        group: ([], seen[i]) for i, group in enumerate(groups)
    }
    columns = _case_columns()
    for _seen, grp, event_id, pending, *values in rows:
        if values[0] is None:
            continue
        case = Case.from_db(connection.alias, columns, values)
        result[groups[grp]][0].append(Claim(case, event_id, pending))
    return result
