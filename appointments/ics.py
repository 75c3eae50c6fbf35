"""The .ics of an appointment (RFC 5545, icalendar library). It names the service, the mode and
the place, never the topic: the file travels by e-mail (DESIGN invariant 4)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar
from icalendar import Event as IcsEvent

from .models import Appointment, Mode


def summary(appointment: Appointment) -> str:
    return _("Rendez-vous %(mode)s — %(service)s") % {
        "mode": appointment.get_mode_display().lower(),
        "service": appointment.service.name,
    }


def location(appointment: Appointment) -> str:
    if appointment.mode == Mode.ON_SITE:
        return " ".join(appointment.type.address.split())
    if appointment.mode == Mode.PHONE:
        return _("Un conseiller vous appelle")
    return _("Lien de visioconférence dans votre espace Guichet")


def appointment_ics(appointment: Appointment) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Guichet//Rendez-vous//FR")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if appointment.status == Appointment.Status.CANCELLED else "PUBLISH")
    event = IcsEvent()
    event.add("uid", f"{appointment.public_id}@guichet")
    event.add("dtstamp", timezone.now())
    event.add("dtstart", appointment.start)
    event.add("dtend", appointment.end)
    event.add("summary", summary(appointment))
    event.add("location", location(appointment))
    link = settings.SITE_URL + reverse("appointments:detail", args=[appointment.public_id])
    lines = [_("Détails et annulation : %(link)s") % {"link": link}]
    documents = appointment.type.document_list
    if documents:
        lines.append(_("Documents à apporter :"))
        lines.extend(f"- {doc}" for doc in documents)
    event.add("description", "\n".join(lines))
    event.add(
        "status", "CANCELLED" if appointment.status == Appointment.Status.CANCELLED else "CONFIRMED"
    )
    cal.add_component(event)
    return cal.to_ical()
