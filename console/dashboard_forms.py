"""The dashboard's filters: period, service, topic, channel. All in the URL (GET) so that a view
can be shared; choices are limited to what the viewer may see."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from contactcenter.forms import DsfrFormMixin
from contactcenter.models import Service, Topic

from .kpis import CHANNEL_LABELS, CHANNEL_ORDER, KpiRange, Scope, local_today

MAX_RANGE_DAYS = 366
MAX_HISTORY_DAYS = 5 * 366


class Period:
    TODAY = "jour"
    WEEK = "7j"
    MONTH = "30j"
    CUSTOM = "perso"
    CHOICES = [
        (TODAY, _("Aujourd'hui")),
        (WEEK, _("7 derniers jours")),
        (MONTH, _("30 derniers jours")),
        (CUSTOM, _("Période personnalisée")),
    ]
    DAYS = {TODAY: 1, WEEK: 7, MONTH: 30}


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class DashboardFilterForm(DsfrFormMixin, forms.Form):
    """Filters of the dashboard for one viewer (``services``: the services they may see)."""

    periode = forms.ChoiceField(
        label=_("Période"), choices=Period.CHOICES, required=False, initial=Period.WEEK
    )
    du = forms.DateField(
        label=_("Date de début"),
        required=False,
        widget=DateInput(),
        help_text=_("Période personnalisée"),
        error_messages={"invalid": _("Saisissez une date valide, par exemple 01/03/2026.")},
    )
    au = forms.DateField(
        label=_("Date de fin"),
        required=False,
        widget=DateInput(),
        help_text=_("Période personnalisée, jour inclus"),
        error_messages={"invalid": _("Saisissez une date valide, par exemple 31/03/2026.")},
    )
    service = forms.ChoiceField(label=_("Service"), required=False)
    theme = forms.ChoiceField(label=_("Thème"), required=False)
    canal = forms.ChoiceField(label=_("Canal"), required=False)

    def __init__(
        self, data=None, *, services: list[Service], topics: list[Topic], all_services: bool
    ):
        self.services = {service.code: service for service in services}
        self.topics = {topic.slug: topic for topic in topics}
        self.all_services = all_services
        # Bound only once the choices are set: DsfrFormMixin validates while initialising.
        super().__init__(None)
        self.fields["service"].choices = [
            ("", _("Tous les services") if all_services else _("Tous mes services"))
        ] + [(service.code, service.name) for service in services]
        self.fields["theme"].choices = [("", _("Tous les thèmes"))] + [
            (topic.slug, f"{topic.title} ({topic.service.name})") for topic in topics
        ]
        self.fields["canal"].choices = [("", _("Tous les canaux"))] + [
            (str(code), CHANNEL_LABELS[code]) for code in CHANNEL_ORDER
        ]
        for name in ("service", "theme", "canal"):
            self.fields[name].error_messages["invalid_choice"] = {
                "service": _("Ce service n'existe pas ou ne fait pas partie de vos services."),
                "theme": _("Ce thème n'existe pas ou ne relève pas de vos services."),
                "canal": _("Canal inconnu : choisissez un canal de la liste."),
            }[name]
        self.fields["periode"].error_messages["invalid_choice"] = _(
            "Période inconnue : choisissez une période de la liste."
        )
        if data is not None:
            self.is_bound, self.data = True, data

    def clean(self):
        data = super().clean()
        today = local_today()
        period = data.get("periode") or Period.WEEK
        data["periode"] = period
        start, end = data.get("du"), data.get("au")
        if period == Period.CUSTOM:
            if "du" not in self.errors and start is None:
                self.add_error("du", _("Indiquez la date de début de la période."))
            if "au" not in self.errors and end is None:
                self.add_error("au", _("Indiquez la date de fin de la période."))
            if start and end:
                if start > end:
                    self.add_error("au", _("La date de fin doit suivre la date de début."))
                elif end > today:
                    self.add_error(
                        "au",
                        _("La date de fin ne peut pas dépasser aujourd'hui (%(today)s).")
                        % {"today": formats.date_format(today, "SHORT_DATE_FORMAT")},
                    )
                elif (end - start).days + 1 > MAX_RANGE_DAYS:
                    self.add_error(
                        "au",
                        _("La période couvre au plus %(days)s jours.") % {"days": MAX_RANGE_DAYS},
                    )
                elif start < today - timedelta(days=MAX_HISTORY_DAYS):
                    self.add_error(
                        "du", _("La date de début ne peut pas remonter à plus de cinq ans.")
                    )
        service = self.services.get(data.get("service") or "")
        topic = self.topics.get(data.get("theme") or "")
        if service and topic and topic.service_id != service.pk:
            self.add_error(
                "theme",
                _("Le thème « %(topic)s » ne relève pas du service « %(service)s ».")
                % {"topic": topic.title, "service": service.name},
            )
        return data

    # --- results (only once valid) ---

    def kpi_range(self) -> KpiRange:
        data = self.cleaned_data
        if data["periode"] == Period.CUSTOM:
            return KpiRange(data["du"], data["au"])
        return KpiRange.last_days(Period.DAYS[data["periode"]])

    def scope(self) -> Scope:
        data = self.cleaned_data
        service = self.services.get(data.get("service") or "")
        topic = self.topics.get(data.get("theme") or "")
        if service is not None:
            service_ids: tuple[int, ...] | None = (service.pk,)
        elif self.all_services:
            service_ids = None
        else:
            service_ids = tuple(s.pk for s in self.services.values())
        return Scope(
            service_ids=service_ids,
            topic_id=topic.pk if topic else None,
            channel=data.get("canal") or None,
        )

    def query(self) -> dict[str, str]:
        """The filters as URL parameters (for export links and shared views)."""
        data = self.cleaned_data
        query = {"periode": data["periode"]}
        if data["periode"] == Period.CUSTOM:
            query["du"] = data["du"].isoformat()
            query["au"] = data["au"].isoformat()
        for name in ("service", "theme", "canal"):
            if data.get(name):
                query[name] = data[name]
        return query

    def describe(self) -> dict[str, str]:
        """Human-readable filters (audit records, export headers)."""
        data = self.cleaned_data
        kpi_range = self.kpi_range()
        out = {"du": kpi_range.start.isoformat(), "au": kpi_range.end.isoformat()}
        if data.get("service"):
            out["service"] = self.services[data["service"]].name
        if data.get("theme"):
            out["theme"] = self.topics[data["theme"]].title
        if data.get("canal"):
            out["canal"] = str(CHANNEL_LABELS[data["canal"]])
        return out


def default_dates(today: date | None = None) -> tuple[date, date]:
    today = today or local_today()
    return today - timedelta(days=6), today
