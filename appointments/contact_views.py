"""The public "Nous contacter" page (no login): each service's phone, functional e-mail, counter
address, hours, closures, the channels open right now with their current estimated wait, real
busy and quiet half hours, and links to book, chat or write.

Two cache entries, read in one round trip: the **directory** (per language, ``DIRECTORY_TTL``):
each service's block rendered once, its contacts and hours on top and its busy/quiet table
and links below (rendering the ~300 cells of the tables is what a page costs); and the **live**
state (per language, ``LIVE_TTL``): open now, today's closure (routing's calendar) and the
estimated waits (routing's ``estimated_waits``, three grouped queries for every service). A
warm page runs no query but the session's, if any (docs/appointments.md).
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

import routing
from contactcenter.directory import service_emails
from contactcenter.models import Service
from routing.calendar import calendar_for, weekly_schedule_text

from . import peaks
from .models import AppointmentType, Mode

DIRECTORY_TTL = 300
LIVE_TTL = 30
WAIT_GROUPS = ("chat", "phone")  # routing's live channel groups


def directory_key() -> str:
    return f"appointments:contact:directory:{get_language()}"


def live_key() -> str:
    return f"appointments:contact:live:{get_language()}"


def _service_rows() -> list[dict[str, Any]]:
    services = list(Service.objects.filter(is_active=True).order_by("name"))
    ids = [service.pk for service in services]
    emails = service_emails(ids)
    bookable: set[int] = set()
    addresses: dict[int, list[str]] = {}
    for service_id, mode, address in (
        AppointmentType.objects.filter(is_active=True, service_id__in=ids)
        .values_list("service_id", "mode", "address")
        .order_by("service_id", "address")
    ):
        bookable.add(service_id)
        address = address.strip()
        if mode == Mode.ON_SITE and address and address not in addresses.get(service_id, []):
            addresses.setdefault(service_id, []).append(address)
    rows = []
    for service in services:
        calendar = calendar_for(service.pk)
        service_peaks = peaks.cached(service.pk, calendar)
        rows.append(
            {
                "service": service,
                "emails": emails.get(service.pk, []),
                "addresses": addresses.get(service.pk, []),
                "hours": weekly_schedule_text(calendar),
                "slots": [peaks.slot_label(slot) for slot in service_peaks.slots],
                "hours_row": [
                    peaks.slot_label(slot) if slot % 2 == 0 else "" for slot in service_peaks.slots
                ],
                "table": peaks.heat_rows(service_peaks),
                "sentence": peaks.sentence(service_peaks),
                "bookable": service.pk in bookable,
            }
        )
    return rows


def build_directory() -> list[dict[str, Any]]:
    """Each active service's block, rendered (``head`` and ``body`` HTML)."""
    return [
        {
            "id": row["service"].pk,
            "code": row["service"].code,
            "head": render_to_string("appointments/_contact_head.html", {"row": row}),
            "body": render_to_string("appointments/_contact_body.html", {"row": row}),
        }
        for row in _service_rows()
    ]


def wait_minutes(seconds: int | None) -> int | None:
    """Whole minutes, at least one (a wait shown as "0 min" would promise too much)."""
    return None if seconds is None else max(1, (seconds + 59) // 60)


def build_live(service_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Open now, today's closure and the estimated waits of each service."""
    now = timezone.now()
    today = timezone.localdate()
    waits = routing.estimated_waits(service_ids)
    live = {}
    for service_id in service_ids:
        calendar = calendar_for(service_id)
        closure = calendar.closed_reason(today)
        open_now = not closure and calendar.is_open(now)
        live[service_id] = {
            "closure": str(closure) if closure else "",
            "open_now": open_now,
            "waits": [
                (
                    group,
                    str(routing.GROUP_LABELS[group]),
                    wait_minutes(waits[service_id].get(group)),
                )
                for group in WAIT_GROUPS
            ]
            if open_now
            else [],
        }
    return live


def contact(request):
    keys = (directory_key(), live_key())
    found = cache.get_many(keys)
    rows = found.get(keys[0])
    if rows is None:
        rows = build_directory()
        cache.set(keys[0], rows, DIRECTORY_TTL)
    ids = [row["id"] for row in rows]
    live = found.get(keys[1])
    if live is None or not set(ids) <= set(live):
        live = build_live(ids)
        cache.set(keys[1], live, LIVE_TTL)
    page = [
        {
            **row,
            "head": mark_safe(row["head"]),  # rendered by our templates, escaped there
            "body": mark_safe(row["body"]),
            **live[row["id"]],
        }
        for row in rows
    ]
    return render(request, "appointments/contact.html", {"rows": page})
