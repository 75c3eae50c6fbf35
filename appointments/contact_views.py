"""The public "Nous contacter" page (no login): each service's phone, hours, closures, real
peak and off-peak hours, and links to book, chat or write."""

from __future__ import annotations

from django.shortcuts import render
from django.utils import timezone

from contactcenter.models import Service
from routing.calendar import calendar_for, weekly_schedule_text

from . import peaks
from .models import AppointmentType


def contact(request):
    now = timezone.now()
    with_types = set(
        AppointmentType.objects.filter(is_active=True).values_list("service_id", flat=True)
    )
    rows = []
    for service in Service.objects.filter(is_active=True).order_by("name"):
        calendar = calendar_for(service.pk)
        service_peaks = peaks.cached(service.pk, calendar)
        rows.append(
            {
                "service": service,
                "hours": weekly_schedule_text(calendar),
                "open_now": calendar.is_open(now),
                "closure": calendar.closed_reason(timezone.localdate()),
                "peaks": service_peaks,
                "table": [
                    (
                        peaks.DAY_NAMES[day],
                        [
                            (service_peaks.grid.get((day, h)), service_peaks.level(day, h))
                            for h in service_peaks.hours
                        ],
                    )
                    for day in service_peaks.days
                ],
                "sentence": peaks.sentence(service_peaks),
                "bookable": service.pk in with_types,
            }
        )
    return render(request, "appointments/contact.html", {"rows": rows})
