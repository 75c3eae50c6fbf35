"""Providers named by dotted path in the dashboard tests (as GUICHET_* settings name them)."""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from contactcenter.models import Service


def demo_provider(start, end, *, user, service_ids, topic_id, channel):
    return {
        "title": "Démonstration",
        "metrics": [{"key": "n", "label": "Indicateur de démonstration", "value": 7}],
    }


@dataclass
class Row:
    service: Service
    waiting: int
    oldest_wait: timedelta | None
    breached: int
    at_risk: int
    scheduled_callbacks: int


def live_provider(user):
    """The shape of routing.live_view: queues per service/skill, agents, now."""
    rows = []
    for service in Service.objects.order_by("pk"):
        mine = service.agents.filter(user=user).exists()
        rows.append(
            Row(
                service,
                3 if mine else 50,
                timedelta(minutes=10 if mine else 90),
                1 if mine else 9,
                2,
                1,
            )
        )
    return {"queues": rows, "agents": [], "now": timezone.now()}
