"""Celery tasks of routing: thin wrappers over ``routing.services``. Each takes ids, reloads
fresh state and is safe to run twice (claims go through checked conditional updates)."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache

from . import services
from .calendar import clear_calendar_cache

SWEEP_BATCH = 500


@shared_task(ignore_result=True)
def route_case(case_id: int, exclude_agent_ids: list[int] | None = None) -> int | None:
    """A contact arrived or came back to its queue: find it an owner."""
    return services.route_case(case_id, exclude_agent_ids=exclude_agent_ids or ())


@shared_task(ignore_result=True)
def assign_agent(agent_id: int) -> int:
    """An agent became available or freed capacity: give them waiting work, at most
    ``FILL_BATCH`` cases in one pass (one transaction). A pass that reached the batch, the
    agent still having free slots, queues the next one, behind the passes of the other
    agents: agents who come on shift together share the oldest work rather than the first one
    served taking a whole inbox, and no transaction holds the head of the queues for long."""
    assigned, more = services.fill_pass(agent_id)
    if more:
        services.queue_task_now("assign_agent", agent_id)
    else:
        services.schedule_availability_refresh(agent_id=agent_id)
    return len(assigned)


@shared_task(ignore_result=True)
def requeue_offline_contacts(agent_id: int) -> list[int]:
    """30 s after an agent went offline: their chats go back to the head of the queue."""
    return services.requeue_offline_contacts(agent_id)


@shared_task(ignore_result=True)
def refresh_availability(service_ids: list[int] | None = None) -> None:
    """Recompute the chat availability snapshot and publish what changed."""
    cache.delete(services.AVAILABILITY_PENDING_KEY)
    # Hours may have just changed in another process (admin): read them afresh.
    clear_calendar_cache()
    services.refresh_availability(service_ids)


@shared_task(ignore_result=True)
def sweep_presence() -> dict:
    """Beat: heartbeats older than 60 s -> offline; chats of agents offline past the grace
    period -> head of the queue."""
    offline = services.sweep_presence()
    requeued = services.sweep_offline_contacts()
    return {"offline": offline, "requeued": requeued}


@shared_task(ignore_result=True)
def sweep_queues() -> int:
    """Beat: route whatever is still waiting (missed signal, callback slot reached, agents
    freed without a trigger). Oldest and most urgent first, bounded per run."""
    services.set_missing_deadlines()
    assigned = 0
    waiting = (
        services.queued_cases()
        .order_by(*services.QUEUE_ORDER)
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for case_id in waiting:
        if services.route_case(case_id) is not None:
            assigned += 1
    return assigned


@shared_task(ignore_result=True)
def flag_sla_breaches() -> int:
    """Beat: flag cases past their SLA deadline."""
    return len(services.flag_sla_breaches())


@shared_task(ignore_result=True)
def refresh_availability_beat() -> None:
    """Beat: full recompute (opening and closing times change availability with no event)."""
    clear_calendar_cache()
    services.refresh_availability()
