"""Demo data of routing: presence rows with default capacities and the opening hours of the
demo services. Idempotent.

By default the demo services are open 24 hours a day, 7 days a week, public holidays included,
so that the live chat works whenever the demo is started. ``load_demo --real-hours`` gives them
realistic hours instead (Monday to Friday, 8:30 to 17:30, closed on public holidays). Each run
replaces the hours of the demo services with the chosen set."""

from __future__ import annotations

from datetime import time

from django.db import transaction

from contactcenter.models import Service, User

from .availability import schedule_availability_refresh
from .calendar import END_OF_DAY, clear_calendar_cache
from .models import AgentPresence, OpeningHours
from .sla import set_missing_deadlines

REAL_HOURS = [(weekday, time(8, 30), time(17, 30), False) for weekday in range(5)]
ALWAYS_OPEN_HOURS = [(weekday, time(0, 0), END_OF_DAY, True) for weekday in range(7)]
DEMO_SERVICES = ["fiscalite", "social"]


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
    clear_calendar_cache()
    schedule_availability_refresh()
    # Deadlines of the demo's open cases, so that the console and the live view show SLAs.
    set_missing_deadlines()
