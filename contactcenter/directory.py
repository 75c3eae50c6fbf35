"""What the channels publish about a service or a topic, gathered through core signals (the
apps never import each other; docs/architecture.md).

- ``service_emails(service_ids)``: the functional e-mail addresses of each service, from the
  e-mail channel's mailboxes (``service_contact_emails``; mail connects).
- ``booking_offer(topic)``: where a citizen books an appointment for a topic (or its service),
  or None when nothing is bookable (``booking_offer_requested``; appointments connects). The
  chatbot's hand-off offers it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from .models import Topic
from .signals import booking_offer_requested, service_contact_emails


def service_emails(service_ids: Iterable[int]) -> dict[int, list[str]]:
    """``{service_id: [address, ...]}`` (sorted; services without one are left out)."""
    ids = list(service_ids)
    found: dict[int, set[str]] = {}
    if not ids:
        return {}
    for _receiver, addresses in service_contact_emails.send(sender=Topic, service_ids=ids):
        for service_id, values in cast(dict[int, list[str]], addresses or {}).items():
            found.setdefault(service_id, set()).update(values)
    return {service_id: sorted(values) for service_id, values in found.items()}


def booking_offer(topic: Topic | None) -> dict[str, Any] | None:
    """``{"url": ..., "topic": slug or ""}`` of the first receiver that can book, else None."""
    for _receiver, offer in booking_offer_requested.send(sender=Topic, topic=topic):
        if offer:
            return cast(dict[str, Any], offer)
    return None
