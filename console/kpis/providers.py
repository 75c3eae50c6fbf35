"""Indicators contributed by other apps (KPI providers) and the live queue tiles' provider."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from contactcenter.models import User

from .definitions import CHANNEL_LABELS, KpiRange, Scope

logger = logging.getLogger(__name__)


@dataclass
class ProviderMetric:
    key: str
    label: str
    value: float | int | None
    format: str = "number"  # number | percent | duration | decimal
    help: str = ""


@dataclass
class ProviderTable:
    key: str
    title: str
    columns: list[str]
    rows: list[list]
    formats: list[str] = field(default_factory=list)
    empty: str = ""
    chart: dict | None = None  # Chart.js data: the table is then the chart's alternative


@dataclass
class ProviderSection:
    name: str
    title: str
    metrics: list[ProviderMetric] = field(default_factory=list)
    tables: list[ProviderTable] = field(default_factory=list)
    volumes: dict[str, int] = field(default_factory=dict)
    error: str = ""


ProviderFunc = Callable[..., dict]
_REGISTRY: dict[str, ProviderFunc] = {}


def register_provider(name: str, func: ProviderFunc) -> None:
    """Add a source of indicators shown on the dashboard (in code; settings can add more).

    The function is called as ``func(start, end, *, user, service_ids, topic_id, channel)``
    (aware datetimes, [start, end); ``user`` the viewer; ``service_ids`` None means every
    service) and returns a dict (or None to show nothing)::

        {"title": "Assistant virtuel",
         "metrics": [{"key": "recognition_rate", "label": "Taux de reconnaissance",
                      "value": 0.82, "format": "percent", "help": "..."}],
         "tables": [{"key": "unanswered", "title": "...", "columns": ["Question", "Nombre"],
                     "rows": [["...", 12]], "formats": ["text", "number"]}],
         "volumes": {"chatbot": 120}}   # contacts the core timeline does not see

    Formats: number, decimal, percent (a ratio: 0.82), duration (seconds), text.
    """
    _REGISTRY[name] = func


def unregister_provider(name: str) -> None:
    _REGISTRY.pop(name, None)


_WARNED: set[str] = set()


def _import(path: str) -> Callable | None:
    try:
        return import_string(path)
    except ImportError:
        if path not in _WARNED:  # once per process: the app may simply not be installed
            _WARNED.add(path)
            logger.warning("dashboard: %s cannot be imported", path)
        return None


def providers() -> dict[str, ProviderFunc]:
    """Registered providers plus those named by dotted path in ``GUICHET_KPI_PROVIDERS``."""
    found: dict[str, ProviderFunc] = {}
    for name, path in getattr(settings, "GUICHET_KPI_PROVIDERS", {}).items():
        func = _import(path)
        if func is not None:
            found[name] = func
    found.update(_REGISTRY)
    return found


def _section(name: str, data: dict) -> ProviderSection:
    section = ProviderSection(name=name, title=str(data.get("title") or name))
    for metric in data.get("metrics") or []:
        section.metrics.append(
            ProviderMetric(
                key=str(metric["key"]),
                label=str(metric.get("label") or metric["key"]),
                value=metric.get("value"),
                format=str(metric.get("format") or "number"),
                help=str(metric.get("help") or ""),
            )
        )
    for table in data.get("tables") or []:
        columns = [str(column) for column in table.get("columns") or []]
        formats = list(table.get("formats") or [])
        formats += ["text"] * (len(columns) - len(formats))
        section.tables.append(
            ProviderTable(
                key=str(table["key"]),
                title=str(table.get("title") or table["key"]),
                columns=columns,
                rows=[list(row) for row in table.get("rows") or []],
                formats=formats[: len(columns)],
                empty=str(table.get("empty") or ""),
                chart=table["chart"] if isinstance(table.get("chart"), dict) else None,
            )
        )
    for channel, count in (data.get("volumes") or {}).items():
        if channel in CHANNEL_LABELS and isinstance(count, int):
            section.volumes[channel] = count
    return section


def run_providers(kpi_range: KpiRange, scope: Scope, user: User | None) -> list[ProviderSection]:
    """Call every provider; a failing one shows an error in its section, never a 500."""
    sections = []
    for name, func in providers().items():
        try:
            data = func(
                kpi_range.start_dt,
                kpi_range.end_dt,
                user=user,
                service_ids=list(scope.service_ids) if scope.service_ids is not None else None,
                topic_id=scope.topic_id,
                channel=scope.channel,
            )
        except Exception:  # noqa: BLE001 - a plug-in must not break the dashboard
            logger.exception("dashboard: KPI provider %s failed", name)
            sections.append(
                ProviderSection(
                    name=name,
                    title=name,
                    error=str(_("Ces indicateurs sont momentanément indisponibles.")),
                )
            )
            continue
        if not data:
            continue
        try:
            sections.append(_section(name, data))
        except (KeyError, TypeError, ValueError, AttributeError):
            logger.exception("dashboard: KPI provider %s returned an invalid result", name)
            sections.append(
                ProviderSection(
                    name=name,
                    title=name,
                    error=str(_("Ces indicateurs sont momentanément indisponibles.")),
                )
            )
    return sections


def live_provider() -> Callable | None:
    """The function giving the live queue tiles (``GUICHET_DASHBOARD_LIVE_PROVIDER``)."""
    path = getattr(settings, "GUICHET_DASHBOARD_LIVE_PROVIDER", "")
    return _import(path) if path else None
