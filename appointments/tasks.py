"""Celery tasks of appointments: thin, idempotent."""

from __future__ import annotations

from celery import shared_task

from contactcenter.celery import Task

from . import services


@shared_task(ignore_result=True)
def send_reminders() -> int:
    """Beat, every minute: the reminders due (day before, hour before)."""
    return services.send_due_reminders()


@shared_task(ignore_result=True)
def open_due_panels() -> int:
    """Beat, every minute: open the citizen's file in the agent's workstation 5 minutes before
    each appointment (once per appointment)."""
    from . import panel

    return panel.open_due_panels()


@shared_task(ignore_result=True)
def refresh_peaks() -> int:
    """Beat, nightly: recompute every service's peak and off-peak hours for the contact page."""
    from contactcenter.models import Service
    from routing.calendar import calendar_for

    from . import peaks

    ids = list(Service.objects.filter(is_active=True).values_list("pk", flat=True))
    for service_id in ids:
        peaks.refresh(service_id, calendar_for(service_id))
    return len(ids)


@shared_task(base=Task, bind=True, ignore_result=True, max_retries=5, default_retry_delay=120)
def send_confirmation(self, appointment_id: int) -> bool:
    """The confirmation alert, once: the service's ``appointment_booked`` template by e-mail
    (with the .ics) and SMS, through the notification outbox (``services.confirm``)."""
    try:
        return services.confirm(appointment_id)
    except Exception as exc:
        raise self.retry(exc=exc)
