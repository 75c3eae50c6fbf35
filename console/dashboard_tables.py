"""What the dashboard shows, as tables and chart data built from a ``kpis.Report``.

One table feeds both the page (an accessible alternative to each chart) and its CSV export, so
the figures on screen and in the file are the same. Values stay raw (numbers, seconds, ratios);
``format_value`` turns them into French text for the page or for a CSV cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from django.utils import formats, timezone
from django.utils.translation import get_language, gettext_lazy, pgettext
from django.utils.translation import gettext as _

from .kpis import SCORES, Figures, ProviderSection, Report

NBSP = "\u00a0"
NNBSP = "\u202f"


@dataclass
class Column:
    label: str
    format: str = "text"  # text | number | decimal | percent | trend | duration | date | datetime


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[list]
    caption: str = ""
    footer: list | None = None  # a "total" row, shown in <tfoot> and exported last
    chart: dict | None = None  # Chart.js data when the table is the alternative of a chart
    provider: str = ""
    empty_text: str = ""

    @property
    def empty(self) -> bool:
        return not self.rows

    def cells(self, row: list) -> list[tuple[object, str]]:
        return list(zip(row, [c.format for c in self.columns], strict=False))


# --- formatting ----------------------------------------------------------------------------------


def format_duration(seconds: float | None) -> str:
    """45 s, 12 min, 3 h 05, 2 j 4 h: the precision a supervisor reads."""
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}{NBSP}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}{NBSP}min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}{NBSP}h{NBSP}{minutes:02d}"
    days, hours = divmod(hours, 24)
    day = pgettext("abréviation de jour dans une durée", "j")
    return f"{days}{NBSP}{day}{NBSP}{hours}{NBSP}h"


@lru_cache(maxsize=16)
def _separators(language: str) -> tuple[str, str]:
    return (
        str(formats.get_format("THOUSAND_SEPARATOR", language)),
        str(formats.get_format("DECIMAL_SEPARATOR", language)),
    )


def _number(value: float, decimals: int) -> str:
    """Grouped number in the active language (what ``number_format`` does, without its cost
    on a page of a thousand cells)."""
    thousands, decimal = _separators(get_language() or "fr")
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", decimal).replace("\x00", thousands)


def format_value(value, fmt: str, *, csv: bool = False) -> str:
    """French text of a raw value; ``csv`` keeps cells machine-readable (no unit, no grouping).

    CSV conventions (spreadsheet in French locale): decimal comma, durations in minutes,
    percentages as numbers of percent, dates as dd/mm/yyyy.
    """
    if value is None or value == "":
        return "" if csv else "—"
    if fmt == "number":
        return str(int(value)) if csv else _number(int(value), 0)
    if fmt == "decimal":
        return f"{value:.2f}".replace(".", ",") if csv else _number(round(value, 1), 1)
    if fmt == "percent":
        if csv:
            return f"{value * 100:.1f}".replace(".", ",")
        return f"{_number(round(value * 100, 1), 1)}{NNBSP}%"
    if fmt == "trend":
        if csv:
            return f"{value * 100:+.1f}".replace(".", ",")
        sign = "+" if value > 0 else ("−" if value < 0 else "")
        return f"{sign}{_number(round(abs(value) * 100, 1), 1)}{NNBSP}%"
    if fmt == "duration":
        return f"{value / 60:.1f}".replace(".", ",") if csv else format_duration(value)
    if fmt == "date":
        return value.strftime("%d/%m/%Y") if csv else formats.date_format(value, "l j F Y")
    if fmt == "datetime":
        local = timezone.localtime(value)
        return local.strftime("%d/%m/%Y %H:%M") if csv else formats.date_format(local, "j F Y H:i")
    return str(value)


def csv_header(column: Column) -> str:
    suffix = {"duration": " (min)", "percent": " (%)", "trend": " (%)"}.get(column.format, "")
    return column.label + suffix


# --- tables --------------------------------------------------------------------------------------

COMMON_COLUMNS = [
    (gettext_lazy("Contacts"), "number", lambda f: f.contacts),
    (gettext_lazy("Demandes ouvertes"), "number", lambda f: f.opened),
    (gettext_lazy("Délai médian avant 1re réponse"), "duration", lambda f: f.wait_p50),
    (gettext_lazy("Respect des délais"), "percent", lambda f: f.sla_rate),
    (gettext_lazy("Durée de traitement moyenne"), "duration", lambda f: f.handling_avg),
    (gettext_lazy("Résolution au 1er contact"), "percent", lambda f: f.fcr_rate),
    (
        gettext_lazy("Résolution déclarée par les usagers"),
        "percent",
        lambda f: f.declared_fcr_rate,
    ),
    (gettext_lazy("Taux de transfert"), "percent", lambda f: f.transfer_rate),
    (gettext_lazy("Satisfaction moyenne (sur 5)"), "decimal", lambda f: f.sat_avg),
]


def _breakdown(key, title, caption, first_label, items, overall: Figures) -> Table:
    columns = [Column(str(first_label))] + [
        Column(str(label), fmt) for label, fmt, _f in COMMON_COLUMNS
    ]
    rows = [[name] + [getter(fig) for _l, _f, getter in COMMON_COLUMNS] for name, fig in items]
    footer = [_("Ensemble")] + [getter(overall) for _l, _f, getter in COMMON_COLUMNS]
    return Table(key, title, columns, rows, caption=caption, footer=footer if rows else None)


def key_indicators(report: Report) -> list[dict]:
    """The tiles at the top, also exported as the "indicateurs" table."""
    o = report.overall
    chat = report.chat
    return [
        {
            "key": "contacts",
            "label": _("Contacts"),
            "value": o.contacts,
            "format": "number",
            "detail": (
                _("%(trend)s par rapport à la période précédente")
                % {"trend": format_value(o.trend, "trend")}
                if o.trend is not None
                else _("Pas de contact la période précédente")
            ),
        },
        {
            "key": "wait_p50",
            "label": _("Délai médian avant première réponse"),
            "value": o.wait_p50,
            "format": "duration",
            "detail": _("90 %% des usagers ont eu une réponse en %(p90)s")
            % {"p90": format_value(o.wait_p90, "duration")},
        },
        {
            "key": "sla",
            "label": _("Respect des délais"),
            "value": o.sla_rate,
            "format": "percent",
            "detail": _("%(met)s dans les délais, %(missed)s hors délai")
            % {
                "met": format_value(o.sla_met, "number"),
                "missed": format_value(o.sla_missed, "number"),
            },
        },
        {
            "key": "handling",
            "label": _("Durée de traitement moyenne"),
            "value": o.handling_avg,
            "format": "duration",
            "detail": _("Délai moyen de résolution : %(res)s")
            % {"res": format_value(o.resolution_avg, "duration")},
        },
        {
            "key": "fcr",
            "label": _("Résolution au premier contact"),
            "value": o.fcr_rate,
            "format": "percent",
            "detail": _("%(fcr)s demandes sur %(closed)s clôturées")
            % {"fcr": format_value(o.fcr, "number"), "closed": format_value(o.closed, "number")},
        },
        {
            "key": "declared_fcr",
            "label": _("Résolution déclarée par les usagers"),
            "value": o.declared_fcr_rate,
            "format": "percent",
            "detail": _("« oui » à « Votre demande est-elle résolue ? » (%(n)s réponses)")
            % {"n": format_value(o.declared_fcr_asked, "number")},
        },
        {
            "key": "transfers",
            "label": _("Taux de transfert vers un autre service"),
            "value": o.transfer_rate,
            "format": "percent",
            "detail": _("%(n)s transferts ; %(agents)s entre agents d'un même service")
            % {
                "n": format_value(o.transfers, "number"),
                "agents": format_value(o.transfers_agent, "number"),
            },
        },
        {
            "key": "chat_abandoned",
            "label": _("Tchats abandonnés en file d'attente"),
            "value": report.chat_abandon_rate,
            "format": "percent",
            "detail": _("%(n)s tchats sur %(total)s ouverts")
            % {
                "n": format_value(chat.chat_abandoned, "number"),
                "total": format_value(chat.opened, "number"),
            },
        },
        {
            "key": "messages_per_logins",
            "label": _("Messages pour 100 connexions"),
            "value": report.messages_per_100_logins,
            "format": "decimal",
            "detail": _("%(messages)s messages d'usagers, %(logins)s connexions d'usagers")
            % {
                "messages": format_value(report.written_messages, "number"),
                "logins": format_value(report.logins, "number"),
            },
        },
        {
            "key": "satisfaction",
            "label": _("Satisfaction moyenne (sur 5)"),
            "value": o.sat_avg,
            "format": "decimal",
            "detail": _("%(n)s avis") % {"n": format_value(o.sat_count, "number")},
        },
    ]


def build_tables(report: Report, services: dict, topics: dict) -> list[Table]:
    """Every table of the page, in page order (``services``/``topics``: id -> name)."""
    channels = report.channels
    tables: list[Table] = []

    # Volumes per channel against the previous period.
    volume_rows = []
    for code, label, fig in channels:
        if not fig.contacts and not fig.previous_contacts:
            continue
        external = code in report.external_channels
        volume_rows.append(
            [
                str(label),
                fig.contacts,
                None if external else fig.previous_contacts,
                None if external else fig.trend,
            ]
        )
    o = report.overall
    tables.append(
        Table(
            "volumes",
            _("Contacts par canal"),
            [
                Column(_("Canal")),
                Column(_("Contacts"), "number"),
                Column(_("Période précédente"), "number"),
                Column(_("Évolution"), "trend"),
            ],
            volume_rows,
            caption=_("Contacts reçus par canal sur la période et sur la période précédente"),
            footer=[
                _("Tous canaux (hors assistant virtuel)")
                if report.external_channels
                else _("Tous canaux"),
                o.contacts,
                o.previous_contacts,
                o.trend,
            ]
            if volume_rows
            else None,
            chart={
                "type": "bar",
                "labels": [row[0] for row in volume_rows],
                "datasets": [
                    {"label": _("Période"), "data": [row[1] for row in volume_rows]},
                    {
                        "label": _("Période précédente"),
                        "data": [row[2] or 0 for row in volume_rows],
                    },
                ],
                "unit": _("contacts"),
            },
        )
    )

    # Daily trend.
    daily_channels = [
        (code, label)
        for code, label, fig in channels
        if code not in report.external_channels and fig.contacts
    ]
    daily_rows: list[list] = []  # the day, then numbers: as Table.rows
    for day, counts in sorted(report.daily.items()):
        daily_rows.append(
            [day] + [counts.get(code, 0) for code, _l in daily_channels] + [sum(counts.values())]
        )
    tables.append(
        Table(
            "evolution",
            _("Évolution quotidienne des contacts"),
            [Column(_("Jour"), "date")]
            + [Column(str(label), "number") for _c, label in daily_channels]
            + [Column(_("Total"), "number")],
            daily_rows if any(row[-1] for row in daily_rows) else [],
            caption=_("Contacts reçus chaque jour, par canal"),
            chart={
                "type": "line",
                "labels": [formats.date_format(day, "D j/m") for day in sorted(report.daily)],
                "datasets": [
                    {"label": str(label), "data": [row[i + 1] for row in daily_rows]}
                    for i, (_c, label) in enumerate(daily_channels)
                ],
                "unit": _("contacts"),
            },
        )
    )

    # Waiting time before the first answer.
    wait_rows = [
        [str(label), fig.answered, fig.wait_p50, fig.wait_p90, fig.wait_avg, fig.sla_rate]
        for code, label, fig in channels
        if fig.answered or fig.sla_met or fig.sla_missed
    ]
    tables.append(
        Table(
            "attente",
            _("Délai avant première réponse"),
            [
                Column(_("Canal")),
                Column(_("Premières réponses"), "number"),
                Column(_("Médiane"), "duration"),
                Column(_("90e centile"), "duration"),
                Column(_("Moyenne"), "duration"),
                Column(_("Respect des délais"), "percent"),
            ],
            wait_rows,
            caption=_("Délai entre l'ouverture de la demande et la première réponse d'un agent"),
            footer=[_("Tous canaux"), o.answered, o.wait_p50, o.wait_p90, o.wait_avg, o.sla_rate]
            if wait_rows
            else None,
            chart=_wait_chart(wait_rows),
        )
    )

    # Satisfaction.
    sat_rows = [
        [str(label), fig.sat_count, fig.sat_avg, *fig.sat_distribution]
        for code, label, fig in channels
        if fig.sat_count
    ]
    tables.append(
        Table(
            "satisfaction",
            _("Satisfaction par canal"),
            [Column(_("Canal")), Column(_("Avis"), "number"), Column(_("Moyenne sur 5"), "decimal")]
            + [Column(_("Note %(score)s") % {"score": score}, "number") for score in SCORES],
            sat_rows,
            caption=_("Nombre d'avis par note (1 = très insatisfait, 5 = très satisfait)"),
            footer=[_("Tous canaux"), o.sat_count, o.sat_avg, *o.sat_distribution]
            if sat_rows
            else None,
            chart={
                "type": "bar",
                "stacked": True,
                "labels": [row[0] for row in sat_rows],
                "datasets": [
                    {
                        "label": _("Note %(score)s") % {"score": score},
                        "data": [row[2 + score] for row in sat_rows],
                    }
                    for score in SCORES
                ],
                "unit": _("avis"),
            },
        )
    )

    # Breakdowns.
    by_service = sorted(
        ((services.get(pk, "?"), fig) for pk, fig in report.by_service.items()), key=lambda x: x[0]
    )
    tables.append(
        _breakdown(
            "services",
            _("Indicateurs par service"),
            _("Indicateurs de la période pour chaque service"),
            _("Service"),
            by_service,
            o,
        )
    )
    by_topic = sorted(
        ((topics.get(pk, "?"), fig) for pk, fig in report.by_topic.items()), key=lambda x: x[0]
    )
    tables.append(
        _breakdown(
            "themes",
            _("Indicateurs par thème"),
            _("Indicateurs de la période pour chaque thème"),
            _("Thème"),
            by_topic,
            o,
        )
    )
    tables.append(
        _breakdown(
            "canaux",
            _("Indicateurs par canal"),
            _("Indicateurs de la période pour chaque canal"),
            _("Canal"),
            [
                (str(label), fig)
                for code, label, fig in channels
                if code not in report.external_channels
            ],
            o,
        )
    )

    # Latest comments.
    tables.append(
        Table(
            "commentaires",
            _("Derniers commentaires des usagers"),
            [
                Column(_("Date"), "datetime"),
                Column(_("Demande")),
                Column(_("Service")),
                Column(_("Canal")),
                Column(_("Note sur 5"), "number"),
                Column(_("Commentaire")),
            ],
            [
                [c.created_at, c.reference, c.service, str(c.channel), c.score, c.comment]
                for c in report.comments
            ],
            caption=_("Les commentaires les plus récents de la période"),
        )
    )
    for section in report.providers:
        tables.extend(provider_tables(section))
    return tables


def provider_tables(section: ProviderSection) -> list[Table]:
    return [
        Table(
            f"{section.name}-{table.key}",
            table.title,
            [Column(label, fmt) for label, fmt in zip(table.columns, table.formats, strict=False)],
            table.rows,
            caption=table.title,
            provider=section.name,
            empty_text=table.empty,
            chart=table.chart,
        )
        for table in section.tables
    ]


INDICATOR_UNITS = {"percent": "%", "duration": "min", "decimal": "", "number": ""}


def indicators_table(report: Report) -> Table:
    """The key indicators as a table (CSV export of the tiles): one row per indicator."""
    tiles = key_indicators(report)
    return Table(
        "indicateurs",
        _("Indicateurs clés"),
        [Column(_("Indicateur")), Column(_("Valeur")), Column(_("Unité")), Column(_("Détail"))],
        [
            [
                tile["label"],
                format_value(tile["value"], tile["format"], csv=True),
                INDICATOR_UNITS.get(tile["format"], ""),
                tile["detail"],
            ]
            for tile in tiles
        ],
    )


def _wait_chart(rows: list[list]) -> dict:
    """Median and p90 per channel, in the unit that keeps the bars readable."""
    longest = max((row[3] or row[2] or 0 for row in rows), default=0)
    if longest < 2 * 3600:
        divisor, unit = 60, _("minutes")
    elif longest < 72 * 3600:
        divisor, unit = 3600, _("heures")
    else:
        divisor, unit = 86400, _("jours")

    def scaled(seconds):
        return None if seconds is None else round(seconds / divisor, 1)

    return {
        "type": "bar",
        "labels": [row[0] for row in rows],
        "datasets": [
            {"label": _("Médiane"), "data": [scaled(row[2]) for row in rows]},
            {"label": _("90e centile"), "data": [scaled(row[3]) for row in rows]},
        ],
        "unit": unit,
    }


def chart_data(tables: list[Table]) -> dict[str, dict]:
    """Chart.js data of the tables that have a chart (given to the page with json_script)."""
    return {table.key: table.chart for table in tables if table.chart and not table.empty}


def describe_period(start: date, end: date) -> str:
    if start == end:
        return formats.date_format(start, "l j F Y")
    return _("du %(start)s au %(end)s") % {
        "start": formats.date_format(start, "j F Y"),
        "end": formats.date_format(end, "j F Y"),
    }


def now_label(value: datetime | None = None) -> str:
    return formats.date_format(timezone.localtime(value or timezone.now()), "H:i")
