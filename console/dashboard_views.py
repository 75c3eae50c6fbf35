"""Supervisor dashboard: the page, its live tiles, CSV exports (thin views).

Supervisors see their services only, admins every service, agents and citizens nothing (403).
Every export is written to the audit log.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import AsyncIterator, Iterator
from functools import wraps
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.db.models import Exists, OuterRef, Q, Subquery
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from contactcenter.models import (
    AuditLog,
    Case,
    Channel,
    Satisfaction,
    Service,
    Topic,
    Transfer,
    User,
)
from contactcenter.permissions import record_access, user_services

from . import kpis
from .dashboard_forms import DashboardFilterForm, Period
from .dashboard_tables import (
    Table,
    build_tables,
    chart_data,
    csv_header,
    describe_period,
    format_value,
    indicators_table,
    key_indicators,
    now_label,
)

logger = logging.getLogger(__name__)

EXPORT_BATCH = 2000


def dashboard_access(view):
    """Supervisors and admins only; anybody else gets a 403 (they know the page exists)."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not (user.is_supervisor or user.is_admin_role):
            raise PermissionDenied(_("Le tableau de bord est réservé aux superviseurs."))
        return view(request, *args, **kwargs)

    return wrapper


def _filter_form(request) -> DashboardFilterForm:
    user = request.user
    services = list(user_services(user).order_by("name"))
    topics = list(
        Topic.objects.filter(service__in=services)
        .select_related("service")
        .order_by("service__name", "position", "title")
    )
    data = request.GET.copy()
    data.setdefault("periode", Period.WEEK)
    return DashboardFilterForm(
        data, services=services, topics=topics, all_services=user.is_admin_role
    )


def _names() -> tuple[dict, dict]:
    services = {s.pk: s.name for s in Service.objects.all()}
    topics = {t.pk: t.title for t in Topic.objects.all()}
    return services, topics


@require_GET
@dashboard_access
def index(request):
    form = _filter_form(request)
    context: dict = {"form": form, "page_title": _("Tableau de bord")}
    if not form.is_valid():
        return render(request, "dashboard/index.html", context, status=400)
    kpi_range, scope = form.kpi_range(), form.scope()
    snapshot = kpis.report_snapshot(kpi_range, scope, request.user)
    report = snapshot.report
    services, topics = _names()
    tables = build_tables(report, services, topics)
    query = form.query()
    context.update(
        report=report,
        tiles=key_indicators(report),
        tables={table.key: table for table in tables},
        provider_tables=[t for t in tables if t.provider],
        charts=chart_data(tables),
        query=urlencode(query),
        period_label=describe_period(kpi_range.start, kpi_range.end),
        export_max=settings.GUICHET_EXPORT_MAX_ROWS,
        live_cache=settings.GUICHET_KPI_LIVE_CACHE_SECONDS,
        figures_age=snapshot.age_seconds,
    )
    return render(request, "dashboard/index.html", context)


@require_GET
@dashboard_access
def live(request):
    """htmx polling: the live queue tiles only."""
    form = _filter_form(request)
    if form.is_valid():
        scope = form.scope()
    elif request.user.is_admin_role:
        scope = kpis.ALL
    else:
        scope = kpis.Scope(service_ids=tuple(s.pk for s in form.services.values()))
    return render(
        request,
        "dashboard/_live.html",
        {"live": live_context(request.user, scope), "query": request.GET.urlencode()},
    )


def live_context(user: User, scope: kpis.Scope) -> dict | None:
    """Queue tiles from routing's supervisor live view, restricted to the dashboard's services."""
    provider = kpis.live_provider()
    if provider is None:
        return None
    try:
        data = provider(user)
    except Exception:  # noqa: BLE001 - the live tiles must not break the dashboard
        logger.exception("dashboard: live provider failed")
        return {"error": True, "updated": now_label()}
    queues = [
        row
        for row in data.get("queues", [])
        if scope.service_ids is None or row.service.pk in scope.service_ids
    ]
    waits = [row.oldest_wait for row in queues if row.oldest_wait is not None]
    agents = data.get("agents", [])
    if scope.service_ids is not None:
        wanted = set(scope.service_ids)
        agent_services = {
            pk: set(ids) for pk, ids in _agent_service_ids([row.agent.pk for row in agents]).items()
        }
        agents = [row for row in agents if agent_services.get(row.agent.pk, set()) & wanted]
    statuses = [row.status for row in agents]
    return {
        "waiting": sum(row.waiting for row in queues),
        "oldest_wait": max(waits).total_seconds() if waits else None,
        "breached": sum(row.breached for row in queues),
        "at_risk": sum(row.at_risk for row in queues),
        "callbacks": sum(row.scheduled_callbacks for row in queues),
        "available": statuses.count("available"),
        # An agent whose call is on hold (routing.live.AgentActivity) is still busy.
        "busy": statuses.count("busy") + statuses.count("on_hold"),
        "on_hold": statuses.count("on_hold"),
        "paused": statuses.count("paused"),
        "offline": statuses.count("offline"),
        "agents": len(statuses),
        "updated": now_label(data.get("now")),
    }


def _agent_service_ids(agent_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for user_id, service_id in Service.agents.through.objects.filter(
        agentprofile__user_id__in=agent_ids
    ).values_list("agentprofile__user_id", "service_id"):
        out.setdefault(user_id, []).append(service_id)
    return out


# --- CSV exports ---------------------------------------------------------------------------------


class Echo:
    """A file-like object whose write returns the line (csv.writer into a generator)."""

    def write(self, value: str) -> str:
        return value


def _safe(cell: str) -> str:
    # Spreadsheets run cells that start with = + - @ as formulas (CSV injection).
    if cell and cell[0] in "=+-@\t\r" and not _is_number(cell):
        return "'" + cell
    return cell


def _is_number(cell: str) -> bool:
    try:
        float(cell.replace(",", "."))
    except ValueError:
        return False
    return True


def _csv_line(writer, cells: list[str]) -> str:
    return writer.writerow([_safe(cell) for cell in cells])


def _filename(kind: str, form: DashboardFilterForm) -> str:
    kpi_range = form.kpi_range()
    return f"guichet-{kind}-{kpi_range.start:%Y%m%d}-{kpi_range.end:%Y%m%d}.csv"


def _csv_response(lines, filename: str, rows: int) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Export-Rows"] = str(rows)
    response["Cache-Control"] = "no-store, private"
    return response


def _audit_export(request, kind: str, form: DashboardFilterForm, rows: int) -> None:
    record_access(
        request.user,
        AuditLog.Action.EXPORT,
        reason=_("Export CSV : %(kind)s") % {"kind": kind},
        detail={"export": kind, "filters": form.describe(), "rows": rows},
    )


def _invalid_export(request, form, message: str | None = None):
    return render(
        request,
        "dashboard/export_error.html",
        {"form": form, "message": message, "page_title": _("Export impossible")},
        status=400,
    )


@require_GET
@dashboard_access
def export_table(request, key: str):
    """One table of the page as CSV (same filters, same figures)."""
    form = _filter_form(request)
    if not form.is_valid():
        return _invalid_export(request, form)
    kpi_range, scope = form.kpi_range(), form.scope()
    report = kpis.build_report(
        kpi_range,
        scope,
        with_providers="-" in key,
        comments=20 if key == "commentaires" else 0,
        user=request.user,
    )
    services, topics = _names()
    if key == "indicateurs":
        table: Table | None = indicators_table(report)
    else:
        table = next((t for t in build_tables(report, services, topics) if t.key == key), None)
    if table is None:
        raise Http404(_("Tableau inconnu."))
    rows = table.rows + ([table.footer] if table.footer else [])
    _audit_export(request, key, form, len(rows))

    def lines() -> Iterator[str]:
        writer = csv.writer(Echo(), delimiter=";", lineterminator="\r\n")
        yield "\ufeff" + _csv_line(writer, [csv_header(c) for c in table.columns])
        for row in rows:
            yield _csv_line(
                writer,
                [
                    format_value(value, column.format, csv=True)
                    for value, column in zip(row, table.columns, strict=False)
                ],
            )

    return _csv_response(lines(), _filename(key, form), len(rows))


CASE_COLUMNS = [
    _("Référence"),
    _("Ouverte le"),
    _("Service"),
    _("Thème"),
    _("Canal"),
    _("Nature"),
    _("Statut"),
    _("Agent"),
    _("Première réponse le"),
    _("Délai avant première réponse (min)"),
    _("Échéance"),
    _("Échéance respectée"),
    _("Clôturée le"),
    _("Résolution"),
    _("Résolue au premier contact"),
    _("Transférée"),
    _("Note de satisfaction"),
]


def export_cases_queryset(form: DashboardFilterForm):
    kpi_range, scope = form.kpi_range(), form.scope()
    cases = Case.objects.filter(
        created_at__gte=kpi_range.start_dt,
        created_at__lt=kpi_range.end_dt,
        **scope.filter_kwargs("service_id", "topic_id"),
    )
    if scope.channel:
        cases = cases.filter(channel=scope.channel)
    return cases


def case_batches(cases, batch: int = EXPORT_BATCH) -> Iterator[list[str]]:
    """CSV lines of the cases, a batch at a time, by keyset on (created_at, id): constant memory,
    no long transaction or server-side cursor, each batch an index range scan."""
    services = {s.pk: s.name for s in Service.objects.all()}
    topics = {t.pk: t.title for t in Topic.objects.all()}
    staff = {
        u.pk: u.display_name
        for u in User.objects.exclude(role=User.Role.CITIZEN).only(
            "pk", "first_name", "last_name", "email"
        )
    }
    labels = {
        "channel": dict(Channel.choices),
        "kind": dict(Case.Kind.choices),
        "status": dict(Case.Status.choices),
        "resolution": dict(Case.Resolution.choices),
    }
    yes, no = _("oui"), _("non")
    writer = csv.writer(Echo(), delimiter=";", lineterminator="\r\n")
    fields = (
        "pk",
        "reference",
        "created_at",
        "service_id",
        "topic_id",
        "channel",
        "kind",
        "status",
        "assigned_to_id",
        "first_response_at",
        "sla_deadline",
        "sla_breached",
        "closed_at",
        "resolution",
        "resolved_first_contact",
        "transferred",
        "case_score",
    )
    # The rating of the case itself (ratings per contact are in the dashboard's figures).
    case_rating = Satisfaction.objects.filter(case=OuterRef("pk"), event=None).values("score")[:1]
    base = cases.annotate(
        transferred=Exists(Transfer.objects.filter(case=OuterRef("pk"))),
        case_score=Subquery(case_rating),
    ).order_by("created_at", "pk")
    last = None
    now = timezone.now()
    while True:
        page = base
        if last is not None:
            page = page.filter(Q(created_at__gt=last[0]) | Q(created_at=last[0], pk__gt=last[1]))
        rows = list(page.values_list(*fields)[:batch])
        if not rows:
            return
        lines = []
        for (
            _pk,
            reference,
            created,
            service_id,
            topic_id,
            channel,
            kind,
            status,
            agent_id,
            first,
            deadline,
            breached,
            closed,
            resolution,
            fcr,
            transferred,
            score,
        ) in rows:
            wait = kpis.wait_seconds(created, first) if first else None
            if deadline is None:
                met = ""
            elif first is not None and first <= deadline and not breached:
                met = yes
            elif breached or (first is not None and first > deadline) or deadline < now:
                met = no
            else:
                met = ""
            lines.append(
                _csv_line(
                    writer,
                    [
                        reference,
                        format_value(created, "datetime", csv=True),
                        services.get(service_id, ""),
                        topics.get(topic_id, ""),
                        str(labels["channel"].get(channel, channel)),
                        str(labels["kind"].get(kind, kind)),
                        str(labels["status"].get(status, status)),
                        staff.get(agent_id, "") if agent_id else "",
                        format_value(first, "datetime", csv=True),
                        format_value(wait, "duration", csv=True),
                        format_value(deadline, "datetime", csv=True),
                        met,
                        format_value(closed, "datetime", csv=True),
                        str(labels["resolution"].get(resolution, resolution)),
                        yes if fcr else no,
                        yes if transferred else no,
                        str(score) if score else "",
                    ],
                )
            )
        yield lines
        last = (rows[-1][2], rows[-1][0])


def case_lines(cases) -> Iterator[str]:
    writer = csv.writer(Echo(), delimiter=";", lineterminator="\r\n")
    yield "\ufeff" + _csv_line(writer, [str(c) for c in CASE_COLUMNS])
    for lines in case_batches(cases):
        yield "".join(lines)


async def acase_lines(cases) -> AsyncIterator[str]:
    """The same lines for an ASGI server, which would otherwise buffer a sync iterator whole."""
    lines = case_lines(cases)

    def next_line() -> str | None:
        return next(lines, None)

    next_chunk = sync_to_async(next_line, thread_sensitive=True)
    while True:
        chunk = await next_chunk()
        if chunk is None:
            return
        yield chunk


@require_GET
@dashboard_access
def export_cases(request):
    """The cases of the filters (opened in the range), streamed as CSV. No citizen identity and
    no free text: the export is for steering, not for reading files."""
    form = _filter_form(request)
    if not form.is_valid():
        return _invalid_export(request, form)
    cases = export_cases_queryset(form)
    total = cases.count()
    if total > settings.GUICHET_EXPORT_MAX_ROWS:
        return _invalid_export(
            request,
            form,
            _(
                "L'export contiendrait %(total)s demandes ; %(max)s au maximum. "
                "Réduisez la période ou filtrez par service, thème ou canal."
            )
            % {
                "total": format_value(total, "number"),
                "max": format_value(settings.GUICHET_EXPORT_MAX_ROWS, "number"),
            },
        )
    _audit_export(request, "demandes", form, total)
    lines = acase_lines(cases) if isinstance(request, ASGIRequest) else case_lines(cases)
    return _csv_response(lines, _filename("demandes", form), total)
