"""Agent console: the citizen's synthesis sheet (identity, open cases, counts per channel,
ratings, every contact by keyset pages)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.dates import MONTHS
from django.utils.translation import gettext as _

from console.worklist import ACTIVE_STATUSES, label_cases
from contactcenter.labels import choice_labels
from contactcenter.labels import per_language as _per_language
from contactcenter.models import Case, Channel, Event, Satisfaction, Service, User
from contactcenter.permissions import visible_cases

CONTACT_EVENT_TYPES = (
    Event.Type.MESSAGE,
    Event.Type.REQUEST_INFO,
    Event.Type.CONTACT,
    Event.Type.CHAT,
    Event.Type.CHATBOT,
    Event.Type.CALLBACK,
    Event.Type.COBROWSE,
    Event.Type.VISIO,
)
SYNTHESIS_PAGE_SIZE = 20


def encode_cursor(created_at: datetime, pk: int) -> str:
    raw = f"{created_at.isoformat()}|{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Parse a cursor from a URL; ValueError when it was tampered with."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        stamp, pk = base64.urlsafe_b64decode(padded.encode()).decode().split("|")
        created_at = parse_datetime(stamp)
        if created_at is None or timezone.is_naive(created_at):
            raise ValueError(cursor)
        return created_at, int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise ValueError(f"invalid cursor {cursor!r}") from exc


@dataclass
class Synthesis:
    citizen: User
    visible_cases: list[Case]
    visible_case_ids: list[int]
    open_cases: list[Case]
    other_cases_count: int
    channel_counts: list[tuple[str, str, int]]
    total_contacts: int
    ratings: list[Satisfaction]


@dataclass
class ContactPage:
    events: list[ContactRow]
    next_cursor: str | None


def visible_cases_of(user: User, citizen: User) -> QuerySet[Case]:
    """The citizen's cases that ``user`` may see (``visible_cases``; the agent's scope is read
    now, the cases when the queryset is evaluated or used as a subquery)."""
    return visible_cases(user).filter(citizen=citizen)


# What the sheet shows of the citizen's cases (and what ``label_cases`` reads), of their service,
# topic and agent, and of their rating with its service (one rating per case at most: it comes
# with the case). The other columns are not loaded.
SYNTHESIS_CASE_FIELDS = (
    "reference",
    "subject",
    "status",
    "kind",
    "channel",
    "citizen",
    "service__name",
    "topic__title",
    "assigned_to__first_name",
    "assigned_to__last_name",
    "assigned_to__email",
)
SYNTHESIS_RATINGS = 5


def _sheet_cases_query(user: User, citizen: User) -> QuerySet[Case]:
    """The visible cases of a citizen with their service, topic, agent and rating (and the
    rating's service), each carrying how many cases the citizen has in all: one query."""
    in_all = (
        Case.objects.filter(citizen=citizen)
        .order_by()
        .values("citizen")
        .annotate(count=Count("pk"))
        .values("count")
    )
    # The case's newest rating by the citizen (per contact or for the whole case), read in the
    # same query: one subquery per field shown.
    newest = Satisfaction.objects.filter(case=OuterRef("pk"), citizen=citizen).order_by(
        "-created_at", "-pk"
    )
    return (
        visible_cases_of(user, citizen)
        .select_related("service", "topic", "assigned_to")
        .only(*SYNTHESIS_CASE_FIELDS)
        .annotate(
            citizen_cases=Subquery(in_all, output_field=IntegerField()),
            rating_id=Subquery(newest.values("pk")[:1]),
            rating_score=Subquery(newest.values("score")[:1]),
            rating_comment=Subquery(newest.values("comment")[:1]),
            rating_at=Subquery(newest.values("created_at")[:1]),
            rating_service=Subquery(newest.values("service__name")[:1]),
        )
        .order_by(
            F("sla_deadline").asc(nulls_last=True), F("last_activity_at").desc(), F("pk").desc()
        )
    )


def synthesis(user: User, citizen: User) -> Synthesis:
    """Identity block, open cases, counts per channel and ratings of a citizen, limited to the
    cases ``user`` may see (plus how many others exist)."""
    # One read of the visible cases gives their ids, the open ones to list, their ratings and
    # how many cases the citizen has in all, hence how many are in services ``user`` cannot
    # see. Then one grouped count of the contacts per channel.
    visible = list(_sheet_cases_query(user, citizen))
    case_ids = [case.pk for case in visible]
    open_cases = label_cases([case for case in visible if case.status in ACTIVE_STATUSES])
    # citizen_cases: annotated by _sheet_cases_query, which the plugin cannot carry through its
    # declared QuerySet[Case].
    total = (
        visible[0].citizen_cases  # type: ignore[attr-defined]
        if visible
        else Case.objects.filter(citizen=citizen).count()
    )
    # The newest rating of each visible case (annotated by _sheet_cases_query).
    ratings = [
        Satisfaction(
            pk=case.rating_id,  # type: ignore[attr-defined]
            case=case,
            citizen=citizen,
            service=Service(name=case.rating_service),  # type: ignore[attr-defined]
            score=case.rating_score,  # type: ignore[attr-defined]
            comment=case.rating_comment,  # type: ignore[attr-defined]
            created_at=case.rating_at,  # type: ignore[attr-defined]
        )
        for case in visible
        if case.rating_id  # type: ignore[attr-defined]
    ]
    ratings.sort(key=lambda rating: (rating.created_at, rating.pk), reverse=True)
    by_channel = dict(_channel_counts_query(citizen, case_ids)) if case_ids else {}
    labels = choice_labels(Channel)
    channel_counts = [
        (value, labels.get(value, value), count)
        for value, count in sorted(by_channel.items(), key=lambda item: (-item[1], item[0]))
    ]
    return Synthesis(
        citizen=citizen,
        visible_cases=visible,
        visible_case_ids=case_ids,
        open_cases=open_cases,
        other_cases_count=total - len(visible),
        channel_counts=channel_counts,
        total_contacts=sum(by_channel.values()),
        ratings=ratings[:SYNTHESIS_RATINGS],
    )


def _contacts(citizen: User, case_ids: list[int]) -> QuerySet[Event]:
    """A citizen's contacts on some cases: what the counts and the pages share."""
    return Event.objects.filter(citizen=citizen, case_id__in=case_ids, type__in=CONTACT_EVENT_TYPES)


def _channel_counts_query(citizen: User, case_ids: list[int]) -> QuerySet[Event, tuple[str, int]]:
    """(channel, count) of the citizen's contacts on the cases ``case_ids``."""
    return _contacts(citizen, case_ids).order_by().values_list("channel").annotate(Count("pk"))


# What a synthesis row shows of its event and author, read as plain values (no model instances:
# building them per row was most of the cost of a page). The case's reference and service come
# from the visible cases, already read. The order is the order of ``present_contacts``.
CONTACT_FIELDS = (
    "id",
    "case_id",
    "citizen_id",
    "type",
    "channel",
    "actor_id",
    "internal",
    "body",
    "payload__attachments",
    "created_at",
    "actor__first_name",
    "actor__last_name",
    "actor__email",
)


def _contact_page_query(
    citizen: User, case_ids: list[int], after: tuple[datetime, int] | None, limit: int
) -> QuerySet[Event, tuple[Any, ...]]:
    """One page of contacts, newest first, as ``CONTACT_FIELDS`` tuples.

    The page's ids are chosen in a subquery (keyset condition on (created_at, id) after
    ``after``, ORDER BY and LIMIT on the event table alone), then only those rows are joined
    to their author. Joined in one level, PostgreSQL joined every contact of the citizen (it
    expects a few per citizen: 400 rows read for 21 shown)."""
    contacts = _contacts(citizen, case_ids)
    if after is not None:
        at, pk = after
        contacts = contacts.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
    page = contacts.order_by("-created_at", "-pk").values("pk")[:limit]
    return (
        Event.objects.filter(pk__in=page)
        .order_by("-created_at", "-pk")
        .values_list(*CONTACT_FIELDS)
    )


def visible_case_links(user: User, citizen: User) -> list[Case]:
    """The citizen's cases that ``user`` may see, with what a contact row shows of them (its
    reference and service): what ``contact_page`` needs when the sheet was not read."""
    return list(
        visible_cases_of(user, citizen).select_related("service").only("reference", "service__name")
    )


def sheet_queries(
    user: User, citizen: User, cursor: str | None = None
) -> list[tuple[str, QuerySet[Any, Any]]]:
    """The queries that read a synthesis sheet, as run: (label, queryset) for the visible
    cases, the counts per channel and the contacts page. For EXPLAIN
    (``bench/console_synthesis.py``); the functions above run the same ones."""
    case_ids = [case.pk for case in visible_case_links(user, citizen)]
    after = decode_cursor(cursor) if cursor else None
    return [
        ("cases", _sheet_cases_query(user, citizen)),
        ("counts per channel", _channel_counts_query(citizen, case_ids)),
        ("contacts page", _contact_page_query(citizen, case_ids, after, SYNTHESIS_PAGE_SIZE + 1)),
    ]


def contact_page(
    citizen: User,
    cases: list[Case],
    *,
    cursor: str | None = None,
    size: int = SYNTHESIS_PAGE_SIZE,
) -> ContactPage:
    """One page of the citizen's contacts on ``cases`` (the visible cases, with their
    reference and service: ``Synthesis.visible_cases`` or ``visible_case_links``), newest
    first.

    Keyset pagination on (created_at, id): the next page starts strictly after the last row
    shown, so it costs the same on page 1 and page 50 (no OFFSET). Raises ValueError for a
    malformed cursor.
    """
    after = decode_cursor(cursor) if cursor else None
    if not cases:
        return ContactPage(events=[], next_cursor=None)
    by_id = {case.pk: case for case in cases}
    rows = list(_contact_page_query(citizen, list(by_id), after, size + 1))
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_cursor = encode_cursor(last[CONTACT_FIELDS.index("created_at")], last[0])
    return ContactPage(events=present_contacts(rows, by_id), next_cursor=next_cursor)


EXCERPT_CHARS = 600


@dataclass(slots=True)
class ContactRow:
    """One contact of the synthesis sheet, ready to display."""

    pk: int
    case_id: int
    type: str
    channel: str
    internal: bool
    by_citizen: bool
    created_at: datetime
    when: str  # created_at in local time, as the template filter date:"DATETIME_FORMAT" writes it
    iso: str  # created_at.isoformat(), for <time datetime>
    type_label: str
    channel_label: str
    author: str
    excerpt: str
    files: int
    case_reference: str
    service_name: str
    case_url: str

    @property
    def id(self) -> int:
        return self.pk

    @property
    def dom_id(self) -> str:
        return f"contact-{self.pk}"

    @property
    def style(self) -> str:
        """CSS modifier of the row: who wrote it."""
        return "citizen" if self.by_citizen else "internal" if self.internal else "agent"


def _month_names() -> dict[int, str]:
    """Month names in the active language (``date:"F"``), cached like ``choice_labels``."""
    names: dict[int, str] = _per_language(
        "months", lambda: {number: str(name) for number, name in MONTHS.items()}
    )
    return names


def contact_time(
    moment: datetime, tz: tzinfo | None = None, months: dict[int, str] | None = None
) -> str:
    """``moment`` in local time as ``{{ moment|date:"DATETIME_FORMAT" }}`` writes it (see
    contactcenter/formats), without the filter's per-call format lookups (20 rows a page)."""
    local = timezone.localtime(moment, tz)
    month = (months or _month_names())[local.month]
    return _datetime_pattern() % {
        "date": f"{local.day} {month} {local.year:04d}",
        "time": f"{local.hour:02d}:{local.minute:02d}",
    }


def _datetime_pattern() -> str:
    # Translators: a date and a time, as DATETIME_FORMAT of contactcenter/formats writes them.
    pattern: str = _per_language("datetime_pattern", lambda: str(_("%(date)s à %(time)s")))
    return pattern


def present_contacts(rows: Iterable[tuple[Any, ...]], cases: dict[int, Case]) -> list[ContactRow]:
    """Synthesis rows (tuples of ``CONTACT_FIELDS``) ready for display: labels, author, excerpt,
    link to the case (``cases``: the rows' cases by id, with their service), number of files.

    Done once per page in Python rather than per row in the template (url reversal, lazy
    labels, truncation), which is most of the cost of rendering a page.
    """
    types, channels = choice_labels(Event.Type), choice_labels(Channel)
    tz, months = timezone.get_current_timezone(), _month_names()
    prefix = reverse("console:case", args=["0"])[:-2]
    citizen_label, system_label = _("l'usager"), _("Système")
    contacts = []
    for (
        pk,
        case_id,
        citizen_id,
        type_,
        channel,
        actor_id,
        internal,
        body,
        attachments,
        created_at,
        first_name,
        last_name,
        email,
    ) in rows:
        case = cases[case_id]
        by_citizen = actor_id is not None and actor_id == citizen_id  # as Event.by_citizen
        if by_citizen:
            author = citizen_label
        elif actor_id:
            # User.display_name (full name, else e-mail) without building a User per row.
            author = f"{first_name} {last_name}".strip() or email
        else:
            author = system_label
        body = body or ""
        contacts.append(
            ContactRow(
                pk=pk,
                case_id=case_id,
                type=type_,
                channel=channel,
                internal=internal,
                by_citizen=by_citizen,
                created_at=created_at,
                when=contact_time(created_at, tz, months),
                iso=created_at.isoformat(),
                type_label=types.get(type_, type_),
                channel_label=channels.get(channel, channel),
                author=author,
                excerpt=body if len(body) <= EXCERPT_CHARS else body[: EXCERPT_CHARS - 1] + "…",
                files=int(attachments or 0),
                case_reference=case.reference,
                service_name=case.service.name,
                case_url=f"{prefix}{case.reference}/",
            )
        )
    return contacts
