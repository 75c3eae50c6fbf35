"""The public "Nous contacter" page (no login): each service's phone, functional e-mail, counter
address, hours, closures, the channels open right now with their current estimated wait, real
busy and quiet half hours, and links to book, chat or write.

What changes slowly (services, addresses, hours, the busy/quiet table and its sentence) is
cached per language for ``DIRECTORY_TTL``; the estimated waits (routing, three grouped queries
for every service) for ``WAITS_TTL``; open now and today's closure come from routing's calendar
(cached per process). A warm page costs no query but the session's, if any.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language

import routing
from contactcenter.directory import service_emails
from contactcenter.models import Service
from routing.calendar import calendar_for, weekly_schedule_text

from . import peaks
from .models import AppointmentType, Mode

DIRECTORY_TTL = 300
WAITS_TTL = 30
WAITS_KEY = "appointments:contact:waits"
WAIT_GROUPS = ("chat", "phone")  # routing's live channel groups


def _directory_key() -> str:
    return f"appointments:contact:directory:{get_language()}"


def _directory() -> list[dict[str, Any]]:
    """The slow-changing part of each service's block (cached)."""
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
                "table": [
                    (
                        str(peaks.DAY_NAMES[day]),
                        [
                            (service_peaks.grid.get((day, slot)), service_peaks.level(day, slot))
                            for slot in service_peaks.slots
                        ],
                    )
                    for day in service_peaks.days
                ],
                "sentence": peaks.sentence(service_peaks),
                "bookable": service.pk in bookable,
            }
        )
    return rows


def directory() -> list[dict[str, Any]]:
    key = _directory_key()
    rows = cache.get(key)
    if rows is None:
        rows = _directory()
        cache.set(key, rows, DIRECTORY_TTL)
    return rows


def current_waits(service_ids: list[int]) -> dict[int, dict[str, int | None]]:
    waits = cache.get(WAITS_KEY)
    if waits is None or not set(service_ids) <= set(waits):
        waits = routing.estimated_waits(service_ids)
        cache.set(WAITS_KEY, waits, WAITS_TTL)
    return waits


def wait_minutes(seconds: int | None) -> int | None:
    """Whole minutes, at least one (a wait shown as "0 min" would promise too much)."""
    return None if seconds is None else max(1, (seconds + 59) // 60)


def contact(request):
    now = timezone.now()
    today = timezone.localdate()
    rows = directory()
    waits = current_waits([row["service"].pk for row in rows])
    page = []
    for row in rows:
        calendar = calendar_for(row["service"].pk)
        closure = calendar.closed_reason(today)
        open_now = not closure and calendar.is_open(now)
        service_waits = waits.get(row["service"].pk, {})
        page.append(
            {
                **row,
                "open_now": open_now,
                "closure": closure,
                "waits": [
                    (group, routing.GROUP_LABELS[group], wait_minutes(service_waits.get(group)))
                    for group in WAIT_GROUPS
                ]
                if open_now
                else [],
            }
        )
    return render(request, "appointments/contact.html", {"rows": page})
