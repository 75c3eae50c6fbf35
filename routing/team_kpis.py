"""Dashboard indicator (a KPI provider named in ``GUICHET_KPI_PROVIDERS``): the satisfaction
of the contacts each agent team handled.

The ratings are the per-contact ``Satisfaction`` rows (``contactcenter.surveys``) that name
their agent, counted for every team of the viewer's services the agent belongs to (a rating by
a member of two teams counts in both). One grouped query: ratings, average score and the
resolution declared by citizens ("Votre demande est-elle résolue ?"), per team."""

from __future__ import annotations

from django.db.models import Avg, Count, Q
from django.utils.translation import gettext as _

from contactcenter.models import Satisfaction


def team_satisfaction(start, end, *, service_ids=None, topic_id=None, channel=None) -> list[dict]:
    """Per team, best average first: ``{team, service, ratings, average, asked, resolved}``."""
    scope = Q(created_at__gte=start, created_at__lt=end, agent__teams__isnull=False)
    if service_ids is not None:
        # The team's service and the rated contact's service: both the viewer's.
        scope &= Q(agent__teams__service_id__in=service_ids, service_id__in=service_ids)
    if topic_id:
        scope &= Q(case__topic_id=topic_id)
    if channel:
        scope &= Q(channel=channel)
    rows = (
        Satisfaction.objects.filter(scope)
        .values("agent__teams__id", "agent__teams__name", "agent__teams__service__name")
        .annotate(
            ratings=Count("id"),
            average=Avg("score"),
            asked=Count("id", filter=Q(resolved__isnull=False)),
            resolved=Count("id", filter=Q(resolved=True)),
        )
        .order_by("-average", "agent__teams__name", "agent__teams__id")
    )
    return [
        {
            "team": row["agent__teams__name"],
            "service": row["agent__teams__service__name"],
            "ratings": row["ratings"],
            "average": float(row["average"]),
            "asked": row["asked"],
            "resolved": row["resolved"],
        }
        for row in rows
    ]


def team_kpis(start, end, *, user=None, service_ids=None, topic_id=None, channel=None):
    rows = team_satisfaction(
        start, end, service_ids=service_ids, topic_id=topic_id, channel=channel
    )
    if not rows:
        return None
    return {
        "title": _("Satisfaction par équipe"),
        "tables": [
            {
                "key": "satisfaction_by_team",
                "title": _("Satisfaction des usagers par équipe d'agents"),
                "columns": [
                    _("Équipe"),
                    _("Service"),
                    _("Avis"),
                    _("Moyenne sur 5"),
                    _("Résolue selon l'usager"),
                ],
                "formats": ["text", "text", "number", "decimal", "percent"],
                "rows": [
                    [
                        row["team"],
                        row["service"],
                        row["ratings"],
                        row["average"],
                        row["resolved"] / row["asked"] if row["asked"] else None,
                    ]
                    for row in rows
                ],
            }
        ],
    }
