# ruff: noqa: F401  (the TYPE_CHECKING imports are the package's exports, for type checkers)
"""Routing: presence and capacity, skill-based queues, atomic assignment, SLAs in business
hours, opening hours, callbacks and the supervisor live view (docs/routing.md).

The public functions of the modules below are importable from the package itself (``from
routing import take_case``), which is what other apps do:

- ``capacity``: channel groups, agents' load and free slots;
- ``presence``: status, heartbeats, offline sweep, capacities and skills;
- ``availability``: chat availability per topic (cached, published) and chat hours;
- ``queues``: queue order, an agent's queue, a case's position and estimated wait;
- ``engine``: the assignment engine (``route_case``, ``assign_available``, ``fill_pass``,
  ``assign_next``), with ``engine_pg`` its PostgreSQL statements (the project's only
  hand-written SQL);
- ``actions``: take, release, assign (supervisor), requeue, flag fragile;
- ``sla``: deadlines and SLA state; ``callbacks``: callback requests; ``live``: the live view;
- ``publish``: channel-layer messages and queuing routing's tasks (``tasks``, which import the
  modules, never the other way).

The names are loaded on first access (PEP 562): Django imports this package before the models
are ready, so it imports none of its modules itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_EXPORTS: dict[str, str] = {
    "take_case": "actions",
    "release_case": "actions",
    "assign_case": "actions",
    "requeue_case": "actions",
    "mark_fragile": "actions",
    "AVAILABILITY_GROUP": "availability",
    "AVAILABILITY_CACHE_KEY": "availability",
    "AVAILABILITY_PENDING_KEY": "availability",
    "compute_availability": "availability",
    "refresh_availability": "availability",
    "availability_snapshot": "availability",
    "chat_available": "availability",
    "ChatHours": "availability",
    "chat_hours": "availability",
    "chat_button_hours": "availability",
    "closed_chat_hours": "availability",
    "closed_services_of": "availability",
    "schedule_availability_refresh": "availability",
    "user_service_ids_for": "availability",
    "CALLBACK_SLOT": "callbacks",
    "CALLBACK_LEAD": "callbacks",
    "CALLBACK_DAYS": "callbacks",
    "CALLBACK_RETRY_DELAY": "callbacks",
    "Slot": "callbacks",
    "slot_capacity": "callbacks",
    "callback_slots": "callbacks",
    "parse_slot": "callbacks",
    "request_callback": "callbacks",
    "cancel_callback": "callbacks",
    "record_callback_outcome": "callbacks",
    "CHANNEL_GROUPS": "capacity",
    "GROUP_OF": "capacity",
    "GROUP_ORDER": "capacity",
    "GROUP_LABELS": "capacity",
    "ACTIVE_STATUSES": "capacity",
    "HEAD_PRIORITY": "capacity",
    "channel_group": "capacity",
    "agent_group": "capacity",
    "agent_loads": "capacity",
    "get_presence": "capacity",
    "free_capacity": "capacity",
    "FILL_BATCH": "engine",
    "route_case": "engine",
    "assign_available": "engine",
    "fill_pass": "engine",
    "assign_next": "engine",
    "assigned_notice": "engine",
    "QueueRow": "live",
    "AgentRow": "live",
    "live_view": "live",
    "OFFLINE_AFTER": "presence",
    "REQUEUE_GRACE": "presence",
    "STATUS_ALIASES": "presence",
    "STATUS_DISPLAY": "presence",
    "set_status": "presence",
    "heartbeat": "presence",
    "sweep_presence": "presence",
    "requeue_offline_contacts": "presence",
    "sweep_offline_contacts": "presence",
    "run_sweeps_if_due": "presence",
    "effective_status": "presence",
    "set_capacity": "presence",
    "supervised_services": "presence",
    "grantable_skills": "presence",
    "set_agent_skills": "presence",
    "group_send": "publish",
    "QUEUE_ORDER": "queues",
    "queued_cases": "queues",
    "queue_for_case": "queues",
    "agent_queue": "queues",
    "queue_position": "queues",
    "estimated_waits": "queues",
    "OK": "sla",
    "AT_RISK": "sla",
    "BREACHED": "sla",
    "sla_state": "sla",
    "deadline_for": "sla",
    "flag_sla_breaches": "sla",
    "set_missing_deadlines": "sla",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'routing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from .actions import (
        assign_case,
        mark_fragile,
        release_case,
        requeue_case,
        take_case,
    )
    from .availability import (
        AVAILABILITY_CACHE_KEY,
        AVAILABILITY_GROUP,
        AVAILABILITY_PENDING_KEY,
        ChatHours,
        availability_snapshot,
        chat_available,
        chat_button_hours,
        chat_hours,
        closed_chat_hours,
        closed_services_of,
        compute_availability,
        refresh_availability,
        schedule_availability_refresh,
        user_service_ids_for,
    )
    from .callbacks import (
        CALLBACK_DAYS,
        CALLBACK_LEAD,
        CALLBACK_RETRY_DELAY,
        CALLBACK_SLOT,
        Slot,
        callback_slots,
        cancel_callback,
        parse_slot,
        record_callback_outcome,
        request_callback,
        slot_capacity,
    )
    from .capacity import (
        ACTIVE_STATUSES,
        CHANNEL_GROUPS,
        GROUP_LABELS,
        GROUP_OF,
        GROUP_ORDER,
        HEAD_PRIORITY,
        agent_group,
        agent_loads,
        channel_group,
        free_capacity,
        get_presence,
    )
    from .engine import (
        FILL_BATCH,
        assign_available,
        assign_next,
        assigned_notice,
        fill_pass,
        route_case,
    )
    from .live import (
        AgentRow,
        QueueRow,
        live_view,
    )
    from .presence import (
        OFFLINE_AFTER,
        REQUEUE_GRACE,
        STATUS_ALIASES,
        STATUS_DISPLAY,
        effective_status,
        grantable_skills,
        heartbeat,
        requeue_offline_contacts,
        run_sweeps_if_due,
        set_agent_skills,
        set_capacity,
        set_status,
        supervised_services,
        sweep_offline_contacts,
        sweep_presence,
    )
    from .publish import (
        group_send,
    )
    from .queues import (
        QUEUE_ORDER,
        agent_queue,
        estimated_waits,
        queue_for_case,
        queue_position,
        queued_cases,
    )
    from .sla import (
        AT_RISK,
        BREACHED,
        OK,
        deadline_for,
        flag_sla_breaches,
        set_missing_deadlines,
        sla_state,
    )
