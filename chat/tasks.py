"""Celery tasks of the chat (thin, idempotent, take ids)."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def check_inactivity(conversation_id: int) -> str | None:
    """Warn an inactive citizen (5 min) or end their chat (10 min). Safe to run twice."""
    return services.check_inactivity(conversation_id)


@shared_task(ignore_result=True)
def sweep_inactivity() -> int:
    """Beat (every 30 s): check every active chat whose citizen has been silent 5 minutes.

    The assigned agent's socket checks its own chats every 15 s too; this sweep covers chats
    nobody is connected to. Each check claims its work with a conditional update.
    """
    handled = 0
    for conversation_id in services.inactive_conversation_ids():
        if services.check_inactivity(conversation_id):
            handled += 1
    return handled
