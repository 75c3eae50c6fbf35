"""Celery tasks of routing: thin wrappers over the routing modules, which never import this
module (they queue a task by name: ``routing.publish.queue_task``). Each takes ids, reloads
fresh state and is safe to run twice (claims go through checked conditional updates)."""

from __future__ import annotations

from celery import shared_task

from . import availability, engine, presence, sla


@shared_task(ignore_result=True)
def route_case(case_id: int, exclude_agent_ids: list[int] | None = None) -> int | None:
    """A contact arrived or came back to its queue: find it an owner."""
    return engine.route_case(case_id, exclude_agent_ids=exclude_agent_ids or ())


@shared_task(ignore_result=True)
def assign_agent(agent_id: int) -> int:
    """An agent became available or freed capacity: give them waiting work, at most
    ``FILL_BATCH`` cases in one pass (one transaction); a pass that reached the batch queues
    the next one, behind the other agents' (``engine.fill_agent``)."""
    return engine.fill_agent(agent_id)


@shared_task(ignore_result=True)
def requeue_offline_contacts(agent_id: int) -> list[int]:
    """30 s after an agent went offline: their chats go back to the head of the queue."""
    return presence.requeue_offline_contacts(agent_id)


@shared_task(ignore_result=True)
def refresh_availability(service_ids: list[int] | None = None) -> None:
    """Recompute the chat availability snapshot and publish what changed (debounced)."""
    availability.refresh_queued(service_ids)


@shared_task(ignore_result=True)
def sweep_presence() -> dict:
    """Beat: heartbeats older than 60 s -> offline; chats of agents offline past the grace
    period -> head of the queue."""
    offline = presence.sweep_presence()
    requeued = presence.sweep_offline_contacts()
    return {"offline": offline, "requeued": requeued}


@shared_task(ignore_result=True)
def sweep_queues() -> int:
    """Beat: route whatever is still waiting (missed signal, callback slot reached, agents
    freed without a trigger). Oldest and most urgent first, bounded per run."""
    return engine.sweep_queues()


@shared_task(ignore_result=True)
def flag_sla_breaches() -> int:
    """Beat: flag cases past their SLA deadline."""
    return len(sla.flag_sla_breaches())


@shared_task(ignore_result=True)
def refresh_availability_beat() -> None:
    """Beat: full recompute (opening and closing times change availability with no event)."""
    availability.refresh_all()
