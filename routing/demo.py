"""Demo data of routing: presence rows with default capacities, opening hours Mon-Fri
8:30-17:30 for every demo service. Idempotent."""

from __future__ import annotations

from datetime import time

from django.db import transaction

from contactcenter.models import Service, User

from .calendar import clear_calendar_cache
from .models import AgentPresence, OpeningHours
from .services import set_missing_deadlines

DEMO_HOURS = [(weekday, time(8, 30), time(17, 30)) for weekday in range(5)]


@transaction.atomic
def load_demo(people: dict) -> None:
    for service in Service.objects.filter(code__in=["fiscalite", "social"]):
        if not OpeningHours.objects.filter(service=service).exists():
            OpeningHours.objects.bulk_create(
                OpeningHours(service=service, weekday=d, start=s, end=e) for d, s, e in DEMO_HOURS
            )
    agents = people.get("agents") or User.objects.filter(role=User.Role.AGENT)
    for agent in agents:
        AgentPresence.objects.get_or_create(user=agent)
    clear_calendar_cache()
    # Deadlines of the demo's open cases, so that the console and the live view show SLAs.
    set_missing_deadlines()
