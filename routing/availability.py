"""Chat availability per topic: computed, cached, published; and the services' chat hours.

The snapshot (topic slug -> an agent can take a chat now) lives in the Django cache, is
recomputed after commit when presence or load changes and published to the ``availability``
channel-layer group (changed topics only).

Refreshes run concurrently (one per request thread, per ASGI process, per Celery worker): one
that read the data before a change committed may store its result after the change's own
refresh. Every change counts itself in ``AVAILABILITY_EVENTS_KEY`` after commit, before its
refresh starts; a refresh that finds the count moved while it computed computes again, so the
last snapshot stored was computed after the last change committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from django.utils import timezone

from contactcenter.models import AgentProfile, Service, Topic, User

from .calendar import calendar_for, chat_schedule_text, clear_calendar_cache
from .capacity import available_agents, with_room
from .publish import group_send, queue_task_now

AVAILABILITY_GROUP = "availability"
AVAILABILITY_CACHE_KEY = "routing:availability"
AVAILABILITY_PENDING_KEY = "routing:availability:pending"
AVAILABILITY_EVENTS_KEY = "routing:availability:events"
# A refresh computes again at most this many times while changes keep coming (each of those
# changes runs a refresh of its own afterwards).
REFRESH_ATTEMPTS = 4


def compute_availability(
    service_ids: list[int] | None = None, now: datetime | None = None
) -> dict[str, bool]:
    """For each active topic: is the service open and does at least one available agent with
    the topic's skill have a free chat slot right now? One SQL statement."""
    now = now or timezone.now()
    topics = Topic.objects.filter(is_active=True)
    if service_ids is not None:
        if not service_ids:
            return {}
        topics = topics.filter(service_id__in=service_ids)
    staffed = with_room(
        available_agents().filter(user__agent_profile__services=OuterRef("service_id")), "chat"
    )
    skilled = staffed.filter(
        Exists(
            AgentProfile.skills.through.objects.filter(
                agentprofile__user_id=OuterRef("user_id"), skill_id=OuterRef(OuterRef("skill_id"))
            )
        )
    )
    rows = topics.annotate(
        staffed=ExpressionWrapper(
            Q(Q(skill__isnull=True), Exists(staffed)) | Q(Exists(skilled)),
            output_field=BooleanField(),
        )
    ).values_list("slug", "service_id", "staffed")
    open_now: dict[int, bool] = {}
    result = {}
    for slug, service_id, is_staffed in rows:
        if service_id not in open_now:
            open_now[service_id] = calendar_for(service_id).is_open(now)
        result[slug] = bool(is_staffed) and open_now[service_id]
    return result


def refresh_availability(
    service_ids: list[int] | None = None, *, publish: bool = True
) -> dict[str, bool]:
    """Recompute the availability snapshot (all topics, or those of some services), store it in
    the cache and publish what changed to the ``availability`` group. Returns the snapshot.

    Computed again when a change committed meanwhile (the module's docstring)."""
    for _attempt in range(REFRESH_ATTEMPTS):
        events = cache.get(AVAILABILITY_EVENTS_KEY, 0)
        old = cache.get(AVAILABILITY_CACHE_KEY)
        if old is None or service_ids is None:
            snapshot = compute_availability()
        else:
            snapshot = dict(old)
            snapshot.update(compute_availability(service_ids))
            active = set(Topic.objects.filter(is_active=True).values_list("slug", flat=True))
            snapshot = {slug: value for slug, value in snapshot.items() if slug in active}
        cache.set(AVAILABILITY_CACHE_KEY, snapshot, None)
        previous = old or {}
        changed = {slug: value for slug, value in snapshot.items() if previous.get(slug) != value}
        for slug in previous:
            if slug not in snapshot:
                changed[slug] = False
        if changed and publish:
            group_send(AVAILABILITY_GROUP, {"type": "availability.update", "topics": changed})
        if cache.get(AVAILABILITY_EVENTS_KEY, 0) == events:
            break
    return snapshot


def note_availability_change() -> None:
    """Count a committed change of presence, load or hours (the module's docstring)."""
    try:
        cache.incr(AVAILABILITY_EVENTS_KEY)
    except ValueError:  # not set yet (or evicted): a new count, any value other than the last
        if not cache.add(AVAILABILITY_EVENTS_KEY, 1, None):
            cache.incr(AVAILABILITY_EVENTS_KEY)


def availability_snapshot() -> dict[str, bool]:
    """topic slug -> chat available, from the cache (computed on a miss)."""
    snapshot: dict[str, bool] | None = cache.get(AVAILABILITY_CACHE_KEY)
    if snapshot is None:
        # Cold cache (restart, eviction): compute and store; nothing to announce.
        snapshot = refresh_availability(publish=False)
    return snapshot


def chat_available(topic: Topic | str) -> bool:
    """Whether the chat button for this topic (Topic or slug) should be shown right now."""
    slug = topic.slug if isinstance(topic, Topic) else str(topic)
    return bool(availability_snapshot().get(slug, False))


@dataclass(frozen=True)
class ChatHours:
    """Whether a service's chat is open now, and its schedule in words (with the reopening)."""

    service_id: int
    is_open: bool
    text: str


def chat_hours(service_id: int, now: datetime | None = None) -> ChatHours:
    cal = calendar_for(service_id)
    return ChatHours(service_id, cal.is_open(now), chat_schedule_text(cal, now))


def chat_button_hours(
    topic: Topic | str | None = None, now: datetime | None = None
) -> tuple[bool, list[tuple[str, str]]]:
    """For a chat button (one topic, or every topic when none is given): whether every service
    behind it is closed now, and (service name, schedule text) of each of those services."""
    if isinstance(topic, Topic):
        service_ids = [topic.service_id]
    elif topic:
        service_ids = list(
            Topic.objects.filter(slug=str(topic), is_active=True).values_list(
                "service_id", flat=True
            )
        )
    else:
        service_ids = list(
            Topic.objects.filter(is_active=True, service__is_active=True)
            .values_list("service_id", flat=True)
            .distinct()
        )
    rows = []
    all_closed = bool(service_ids)
    names = dict(Service.objects.filter(pk__in=service_ids).values_list("pk", "name"))
    for service_id in sorted(set(service_ids), key=lambda pk: names.get(pk, "")):
        hours = chat_hours(service_id, now)
        all_closed = all_closed and not hours.is_open
        rows.append((names.get(service_id, ""), hours.text))
    return all_closed, rows


def closed_chat_hours(
    topic: Topic | str | None = None, now: datetime | None = None
) -> list[tuple[str, str]]:
    """(service name, schedule text) of the services a chat button stands for, when all of them
    are closed now; [] when one is open (then an empty chat means no agent is free, not closed
    hours)."""
    all_closed, rows = chat_button_hours(topic, now)
    return rows if all_closed else []


def closed_services_of(agent: User, now: datetime | None = None) -> list[tuple[str, str]]:
    """(service name, schedule text) of the agent's services that are closed now."""
    services = Service.objects.filter(pk__in=user_service_ids_for(agent.pk)).order_by("name")
    result = []
    for service in services:
        hours = chat_hours(service.pk, now)
        if not hours.is_open:
            result.append((service.name, hours.text))
    return result


def schedule_availability_refresh(
    service_ids: list[int] | None = None, *, agent_id: int | None = None
) -> None:
    """Refresh the availability after commit, of some services (``service_ids``, or the
    services of ``agent_id``; all if neither).

    Debounced: while a refresh task is queued and not started, further requests are absorbed
    (the task deletes the marker when it starts, then recomputes every service from fresh
    data, so the services asked for are not needed and the agent's are not read). In eager
    mode (dev, tests) it runs at once, for those services only.
    """
    from django.conf import settings

    if settings.CELERY_TASK_ALWAYS_EAGER:

        def refresh() -> None:
            note_availability_change()
            ids = service_ids if agent_id is None else user_service_ids_for(agent_id)
            refresh_availability(ids)

        transaction.on_commit(refresh)
        return

    def queue() -> None:
        note_availability_change()
        if cache.add(AVAILABILITY_PENDING_KEY, 1, timeout=10):
            queue_task_now("refresh_availability", None)

    transaction.on_commit(queue)


def refresh_queued(service_ids: list[int] | None = None) -> None:
    """Body of the queued refresh task: lift the debounce marker, then recompute from fresh
    data (hours may have just changed in another process, the admin: read them afresh)."""
    cache.delete(AVAILABILITY_PENDING_KEY)
    clear_calendar_cache()
    refresh_availability(service_ids)


def refresh_all() -> None:
    """Full recompute (beat: opening and closing times change availability with no event)."""
    clear_calendar_cache()
    refresh_availability()


def user_service_ids_for(agent_id: int) -> list[int]:
    """The services of an agent (ids)."""
    return list(
        AgentProfile.services.through.objects.filter(agentprofile__user_id=agent_id).values_list(
            "service_id", flat=True
        )
    )
