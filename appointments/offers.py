"""Where a citizen books an appointment for a topic: the answer to the core's
``booking_offer_requested`` (the chatbot's hand-off asks it through
``contactcenter.directory.booking_offer``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from contactcenter.models import Topic

from .models import AppointmentType


def booking_offer(sender: Any, *, topic: Topic | None, **kwargs: Any) -> dict[str, str] | None:
    """The booking page prefilled with ``topic`` when it has appointment types (the mode is
    chosen next), else with its service's topics when the service has some; without a topic,
    the list of every bookable topic. None when nothing is bookable."""
    types = AppointmentType.objects.filter(
        is_active=True, topic__is_active=True, service__is_active=True
    )
    url = reverse("appointments:book")
    if topic is None:
        return {"url": url, "topic": ""} if types.exists() else None
    if types.filter(topic=topic).exists():
        return {"url": url + "?" + urlencode({"theme": topic.slug}), "topic": topic.slug}
    service = topic.service
    if types.filter(service_id=topic.service_id).exists():
        return {"url": url + "?" + urlencode({"service": service.code}), "topic": ""}
    return None
