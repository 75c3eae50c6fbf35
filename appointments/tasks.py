"""Celery tasks of appointments: thin, idempotent."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from contactcenter.celery import Task

from . import services
from .ics import appointment_ics, location, summary
from .models import Appointment


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
    """The confirmation e-mail with its .ics, once (claimed with a conditional update)."""
    claimed = Appointment.objects.filter(
        pk=appointment_id, confirmation_sent_at__isnull=True, status=Appointment.Status.BOOKED
    ).update(confirmation_sent_at=timezone.now())
    if claimed != 1:
        return False
    appointment = Appointment.objects.select_related("type", "service", "citizen").get(
        pk=appointment_id
    )
    if not appointment.citizen.email:
        return False
    with override(settings.LANGUAGE_CODE):
        link = settings.SITE_URL + reverse("appointments:detail", args=[appointment.public_id])
        lines = [
            _("Bonjour,"),
            "",
            _("Votre rendez-vous est confirmé : %(what)s, le %(when)s.")
            % {"what": summary(appointment), "when": services.when_text(appointment.start)},
            location(appointment),
        ]
        documents = appointment.type.document_list
        if documents:
            lines += ["", _("Documents à apporter :")] + [f"- {doc}" for doc in documents]
        lines += [
            "",
            _("Pour le consulter, le déplacer ou l'annuler : %(link)s") % {"link": link},
            "",
            _("Ce courriel est envoyé automatiquement, merci de ne pas y répondre."),
        ]
        message = EmailMessage(
            subject=_("Confirmation de votre rendez-vous"),
            body="\n".join(lines),
            to=[appointment.citizen.email],
        )
    message.attach("rendez-vous.ics", appointment_ics(appointment), "text/calendar")
    try:
        message.send()
    except Exception as exc:
        Appointment.objects.filter(pk=appointment_id).update(confirmation_sent_at=None)
        raise self.retry(exc=exc)
    return True
