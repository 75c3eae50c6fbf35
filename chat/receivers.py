"""Reactions of the chat to routing, through the core's signals and the case timeline.

Routing never imports the chat: it sends ``case_assigned`` after commit, and writes
``assignment`` (requeued, released) or ``transfer`` events on the timeline. The chat aligns its
conversation with the case after commit (``services.sync_with_case``, idempotent).
"""

from __future__ import annotations

import logging

from django.db import transaction

from contactcenter.models import Case, Channel, Event

from . import services

logger = logging.getLogger("guichet.chat")

REQUEUE_MODES: dict[str | None, str] = {
    "requeued": services.Notice.REQUEUED,
    "released": services.Notice.TRANSFERRED,
}


def _sync(case_id: int, hint: str) -> None:
    try:
        services.sync_with_case(case_id, hint)
    except Exception:  # noqa: BLE001 - a receiver must not break routing; next signal retries
        logger.exception("chat: could not align the conversation of case %s", case_id)


def on_case_assigned(sender, case_id, agent_id=None, channel=None, **kwargs):
    # Routing says the case's channel: no query for the other channels' assignments.
    if channel is None:
        if not Case.objects.filter(pk=case_id, channel=Channel.CHAT).exists():
            return
    elif channel != Channel.CHAT:
        return
    _sync(case_id, services.Notice.REQUEUED)


def on_event_saved(sender, instance: Event, created: bool, **kwargs):
    if not created or instance.channel != Channel.CHAT:
        return
    hint: str | None
    if instance.type == Event.Type.TRANSFER:
        hint = services.Notice.TRANSFERRED
    elif instance.type == Event.Type.ASSIGNMENT:
        hint = REQUEUE_MODES.get((instance.payload or {}).get("mode"))
        if hint is None:
            return  # an assignment: case_assigned follows after commit
    else:
        return
    case_id = instance.case_id
    transaction.on_commit(lambda: _sync(case_id, hint))


def on_demo_loaded(sender, people=None, **kwargs):
    from .demo import load_demo

    load_demo(people or {})
