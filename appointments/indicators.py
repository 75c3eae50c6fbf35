"""Dashboard indicators of appointments (a KPI provider, ``GUICHET_KPI_PROVIDERS``): booked,
attended, no-shows and the no-show rate of the appointments that took place in the range."""

from __future__ import annotations

from django.db.models import Count, Q
from django.utils.translation import gettext as _

from .models import Appointment


def appointment_kpis(start, end, *, user=None, service_ids=None, topic_id=None, channel=None):
    qs = Appointment.objects.filter(start__gte=start, start__lt=end)
    if service_ids is not None:
        qs = qs.filter(service_id__in=service_ids)
    if topic_id:
        qs = qs.filter(type__topic_id=topic_id)
    S = Appointment.Status
    counts = qs.aggregate(
        booked=Count("id", filter=~Q(status=S.CANCELLED)),
        cancelled=Count("id", filter=Q(status=S.CANCELLED)),
        attended=Count("id", filter=Q(status=S.ATTENDED)),
        no_show=Count("id", filter=Q(status=S.NO_SHOW)),
    )
    held = counts["attended"] + counts["no_show"]
    if not (counts["booked"] or counts["cancelled"]):
        return None
    return {
        "title": _("Rendez-vous"),
        "metrics": [
            {"key": "booked", "label": _("Rendez-vous réservés"), "value": counts["booked"]},
            {"key": "attended", "label": _("Honorés"), "value": counts["attended"]},
            {"key": "no_show", "label": _("Absences"), "value": counts["no_show"]},
            {
                "key": "no_show_rate",
                "label": _("Taux d'absence"),
                "value": counts["no_show"] / held if held else None,
                "format": "percent",
                "help": _("Absences parmi les rendez-vous honorés ou manqués."),
            },
            {"key": "cancelled", "label": _("Annulés"), "value": counts["cancelled"]},
        ],
    }
