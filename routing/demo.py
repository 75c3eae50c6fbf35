"""Demo data of routing: presence rows with default capacities and the opening hours of the
demo services. Idempotent.

By default the demo services are open 24 hours a day, 7 days a week, public holidays included,
so that the live chat works whenever the demo is started. ``load_demo --real-hours`` gives them
realistic hours instead (Monday to Friday, 8:30 to 17:30, closed on public holidays). Each run
replaces the hours of the demo services with the chosen set.

It also forms the agent teams of the demo services (``/console/equipes/``) and records the
citizens' ratings of the answered demo contacts, naming the agent who answered, over the
last week: the dashboard's "Satisfaction par équipe" then has figures."""

from __future__ import annotations

from datetime import time, timedelta

from django.db import transaction
from django.utils import timezone

from contactcenter.models import Case, Event, Satisfaction, Service, User

from .availability import schedule_availability_refresh
from .calendar import END_OF_DAY, clear_calendar_cache
from .models import AgentPresence, OpeningHours, Team
from .sla import set_missing_deadlines

REAL_HOURS = [(weekday, time(8, 30), time(17, 30), False) for weekday in range(5)]
ALWAYS_OPEN_HOURS = [(weekday, time(0, 0), END_OF_DAY, True) for weekday in range(7)]
DEMO_SERVICES = ["fiscalite", "social"]
# (service, team, members' e-mails): the demo agents (contactcenter.demo.AGENTS).
DEMO_TEAMS = [
    ("fiscalite", "Accueil des particuliers", ["alice.durand@guichet.example.fr"]),
    (
        "fiscalite",
        "Réclamations et contentieux",
        ["marc.petit@guichet.example.fr", "alice.durand@guichet.example.fr"],
    ),
    ("social", "Prestations familiales", ["nadia.leroy@guichet.example.fr"]),
    ("social", "Logement et solidarité", ["thomas.moreau@guichet.example.fr"]),
]
# The ratings given to the answered demo contacts, in turn: (score, resolved as declared).
DEMO_RATINGS = [(5, True), (4, True), (3, False), (5, True), (2, None), (4, True), (4, False)]


@transaction.atomic
def load_demo(people: dict, *, real_hours: bool = False) -> None:
    hours = REAL_HOURS if real_hours else ALWAYS_OPEN_HOURS
    for service in Service.objects.filter(code__in=DEMO_SERVICES):
        OpeningHours.objects.filter(service=service).delete()
        OpeningHours.objects.bulk_create(
            OpeningHours(service=service, weekday=d, start=s, end=e, on_holidays=h)
            for d, s, e, h in hours
        )
    agents = people.get("agents") or User.objects.filter(role=User.Role.AGENT)
    for agent in agents:
        AgentPresence.objects.get_or_create(user=agent)
    load_teams()
    load_ratings()
    clear_calendar_cache()
    schedule_availability_refresh()
    # Deadlines of the demo's open cases, so that the console and the live view show SLAs.
    set_missing_deadlines()


def load_teams() -> int:
    """The demo services' agent teams and their members; returns how many were created."""
    services = {s.code: s for s in Service.objects.filter(code__in=DEMO_SERVICES)}
    created = 0
    for code, name, emails in DEMO_TEAMS:
        if code not in services:
            continue
        team, new = Team.objects.get_or_create(service=services[code], name=name)
        created += new
        team.members.add(*User.objects.filter(email__in=emails, role=User.Role.AGENT))
    return created


def load_ratings() -> int:
    """A rating of the last answer of each answered or closed demo case, by the agent who
    wrote it, spread over the last six days; a contact already rated is left alone. Returns
    how many were recorded."""
    cases = Case.objects.filter(
        service__code__in=DEMO_SERVICES,
        status__in=[Case.Status.ANSWERED, Case.Status.CLOSED],
        assigned_to__isnull=False,
    ).order_by("pk")
    now = timezone.now()
    rows = []
    for index, case in enumerate(cases):
        answer = (
            Event.objects.filter(case=case, type=Event.Type.MESSAGE, actor_id=case.assigned_to_id)
            .order_by("-created_at", "-pk")
            .first()
        )
        if answer is None or Satisfaction.objects.filter(event=answer).exists():
            continue
        score, resolved = DEMO_RATINGS[index % len(DEMO_RATINGS)]
        rows.append(
            Satisfaction(
                case=case,
                event=answer,
                agent_id=case.assigned_to_id,
                citizen_id=case.citizen_id,
                channel=case.channel,
                service_id=case.service_id,
                score=score,
                resolved=resolved,
                created_at=now - timedelta(hours=6 + 11 * (index % 12)),
            )
        )
    Satisfaction.objects.bulk_create(rows)
    return len(rows)
