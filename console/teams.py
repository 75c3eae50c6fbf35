"""Supervisors manage the agent teams of their services (``routing.models.Team``): a list per
service, a form to create a team, and one to rename it and choose its members among the
service's agents (``routing.teams.TeamForm``). The dashboard shows satisfaction per team
(``routing.team_kpis``)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from contactcenter.idempotency import idempotent
from routing.models import Team
from routing.teams import TeamForm, managed_services

from .dashboard_views import dashboard_access


@dashboard_access
def team_list(request):
    services = list(managed_services(request.user))
    teams = (
        Team.objects.filter(service__in=services)
        .prefetch_related("members")
        .order_by("service__name", "name")
    )
    by_service: dict[int, list[Team]] = {}
    for team in teams:
        by_service.setdefault(team.service_id, []).append(team)
    sections = [{"service": s, "teams": by_service.get(s.pk, [])} for s in services]
    return render(request, "console/teams.html", {"sections": sections, "page_title": _("Équipes")})


@dashboard_access
@require_http_methods(["GET", "POST"])
@idempotent
def team_edit(request, service_id: int, team_id: int | None = None):
    service = managed_services(request.user).filter(pk=service_id).first()
    if service is None:
        raise Http404
    team = get_object_or_404(Team, pk=team_id, service=service) if team_id else None
    if request.method == "POST":
        form = TeamForm(request.POST, instance=team, service=service)
        if form.is_valid():
            form.save()
            messages.success(
                request, _("L'équipe « %(name)s » est enregistrée.") % {"name": form.instance.name}
            )
            return redirect("console:teams")
        status = 400
    else:
        form = TeamForm(instance=team, service=service)
        status = 200
    title = _("Modifier l'équipe") if team else _("Nouvelle équipe")
    return render(
        request,
        "console/team_edit.html",
        {"form": form, "service": service, "team": team, "page_title": title},
        status=status,
    )
