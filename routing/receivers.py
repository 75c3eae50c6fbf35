"""Reactions of routing to core signals (connected in RoutingConfig.ready)."""

from __future__ import annotations

from contactcenter.models import Case, Event

# Status changes that free the owner's slot (the case no longer counts in their load).
FREEING_STATUSES = {
    Case.Status.WAITING_CITIZEN,
    Case.Status.ANSWERED,
    Case.Status.CLOSED,
    Case.Status.NEW,
}


def on_case_needs_routing(sender, case_id, **kwargs):
    """Sent after commit by ``open_case``/``request_routing``: queue the assignment task."""
    from .tasks import route_case

    route_case.delay_on_commit(case_id)  # broker down: logged, the queue sweep routes it later


def on_event_saved(sender, instance: Event, created: bool, **kwargs):
    """A status change or a transfer on an owned case frees a slot: give the owner more work
    (and refresh the chat availability) once the change is committed."""
    if not created or instance.type not in (Event.Type.STATUS, Event.Type.TRANSFER):
        return
    if (
        instance.type == Event.Type.STATUS
        and (instance.payload or {}).get("to") not in FREEING_STATUSES
    ):
        return
    case = instance.case
    agent_id = case.assigned_to_id
    if agent_id is None:
        return
    from .tasks import assign_agent

    assign_agent.delay_on_commit(agent_id)


def on_demo_loaded(sender, people=None, real_hours=False, **kwargs):
    from .demo import load_demo

    load_demo(people or {}, real_hours=real_hours)


def on_service_saved(sender, instance, created=False, **kwargs):
    """A service edited (its holiday zone may have changed): forget the cached calendars and
    recompute its chat availability after commit."""
    from .availability import schedule_availability_refresh
    from .calendar import clear_calendar_cache

    clear_calendar_cache()
    if not created:
        schedule_availability_refresh([instance.pk])


def on_hours_changed(sender, instance, **kwargs):
    """Opening hours or a closure saved or deleted (admin): recompute the chat availability
    after commit and push what changed to the open pages (no agent has to toggle their status).
    A closure of every service (no service) refreshes them all."""
    from .availability import schedule_availability_refresh

    service_id = getattr(instance, "service_id", None)
    schedule_availability_refresh([service_id] if service_id else None)
