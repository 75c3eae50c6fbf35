"""Demo appointment types and agents' availabilities (``load_demo``): every service's first two
topics in the three modes, and each agent available on weekdays 8:30-12:00 and 13:30-17:00 plus
Saturday mornings, so the next slots exist whatever the day and hour of the demo."""

from __future__ import annotations

from datetime import time
from typing import Any

from django.db import transaction

from contactcenter.models import Service, Topic, User

from .models import AppointmentType, Availability, Mode

DOCUMENTS = "Une pièce d'identité en cours de validité\nVotre dernier avis d'imposition"
ADDRESS = "Guichet — 10 rue de la République, 75011 Paris (rez-de-chaussée, accueil B)"
WEEK_RANGES = [(d, time(8, 30), time(12, 0)) for d in range(6)] + [
    (d, time(13, 30), time(17, 0)) for d in range(5)
]


@transaction.atomic
def load_demo(agents: list[User]) -> int:
    created = 0
    for service in Service.objects.filter(is_active=True):
        for topic in Topic.objects.filter(service=service, is_active=True).order_by("position")[:2]:
            for mode, minutes in ((Mode.ON_SITE, 30), (Mode.PHONE, 20), (Mode.VISIO, 30)):
                _type, new = AppointmentType.objects.get_or_create(
                    topic=topic,
                    mode=mode,
                    defaults={
                        "service": service,
                        "duration_minutes": minutes,
                        "buffer_minutes": 10 if mode == Mode.ON_SITE else 5,
                        "min_notice_hours": 1,
                        "address": ADDRESS if mode == Mode.ON_SITE else "",
                        "documents": DOCUMENTS,
                    },
                )
                created += new
    for agent in agents:
        profile = getattr(agent, "agent_profile", None)
        if profile is None:
            continue
        for service in profile.services.all():
            if Availability.objects.filter(agent=agent, service=service).exists():
                continue
            Availability.objects.bulk_create(
                Availability(agent=agent, service=service, weekday=d, start=s, end=e)
                for d, s, e in WEEK_RANGES
            )
    return created


def on_demo_loaded(sender: Any, people: dict | None = None, **kwargs: Any) -> None:
    load_demo((people or {}).get("agents", []))
