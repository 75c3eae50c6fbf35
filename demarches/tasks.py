"""Celery tasks of the démarches app (thin: the services do the work)."""

from __future__ import annotations

from celery import shared_task

from contactcenter.celery import Task

from . import services


@shared_task(base=Task, name="demarches.tasks.send_action_reminders", ignore_result=True)
def send_action_reminders() -> int:
    """Beat: send the "action attendue" reminders now due. Idempotent (each reminder is
    claimed by a conditional update). Returns the count sent."""
    return sum(
        services.send_action_reminder(demarche_id, number)
        for demarche_id, number in services.due_action_reminders()
    )
