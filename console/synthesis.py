"""Agent console: the citizen's synthesis sheet (identity, open cases, counts per channel,
ratings, every contact by keyset pages)."""

from __future__ import annotations

import base64
import binascii
import functools
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.dates import MONTHS
from django.utils.translation import gettext as _

from console.worklist import ACTIVE_STATUSES, label_cases
from contactcenter import hot
from contactcenter.labels import choice_labels
from contactcenter.labels import per_language as _per_language
from contactcenter.models import Case, Channel, Event, Satisfaction, Service, Topic, User
from contactcenter.permissions import case_scope

CONTACT_EVENT_TYPES = (
    Event.Type.MESSAGE,
    Event.Type.REQUEST_INFO,
    Event.Type.CONTACT,
    Event.Type.CHAT,
    Event.Type.CHATBOT,
    Event.Type.CALLBACK,
    Event.Type.COBROWSE,
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


def citizen_visible_case_ids(user: User, citizen: User) -> list[int]:
    """The ids of the citizen's cases that ``user`` may see (one hot statement)."""
    scope = case_scope(user)
    if scope.nothing:
        return []
    where, params = scope.sql("c")
    return [row[0] for row in hot.fetchall(_visible_ids_sql(where), [citizen.pk, *params])]


@functools.lru_cache(maxsize=64)
def _visible_ids_sql(where: str) -> str:
    # Cached per scope text (the lengths of its IN lists); a process has one database vendor.
    return f"SELECT c.id FROM {hot.table(Case)} c WHERE c.citizen_id = %s AND {where}"  # noqa: S608 (table names and placeholders only)


# What the sheet shows of the citizen's cases (and what ``label_cases`` reads), of their service,
# topic and agent, and of their ratings (one rating per case at most: they come with the cases).
# The other columns are not loaded.
SYNTHESIS_CASE_FIELDS = (
    "id",
    "reference",
    "subject",
    "status",
    "kind",
    "channel",
    "citizen",
    "service",
    "topic",
    "assigned_to",
)
SYNTHESIS_RATING_FIELDS = ("id", "case", "citizen", "service", "score", "comment", "created_at")
SYNTHESIS_RATINGS = 5


@functools.cache
def _sheet_columns(vendor: str) -> tuple[hot.Columns, ...]:
    return (
        hot.Columns(Case, SYNTHESIS_CASE_FIELDS, "c"),
        hot.Columns(Service, ("id", "name"), "s"),
        hot.Columns(Topic, ("id", "title"), "t"),
        hot.Columns(User, ("id", "first_name", "last_name", "email"), "u"),
        hot.Columns(Satisfaction, SYNTHESIS_RATING_FIELDS, "r"),
        hot.Columns(Service, ("id", "name"), "rs"),
    )


@functools.lru_cache(maxsize=64)
def _sheet_cases_sql(vendor: str, where: str) -> str:
    """The visible cases of a citizen with their service, topic, agent and rating (and the
    rating's service), plus how many cases the citizen has in all: one statement."""
    columns = _sheet_columns(vendor)
    case = hot.table(Case)
    return (
        f"SELECT {', '.join(part.sql() for part in columns)}, "  # noqa: S608 (table names, columns and placeholders only)
        f"(SELECT COUNT(*) FROM {case} a WHERE a.citizen_id = %s) "
        f"FROM {case} c "
        f"JOIN {hot.table(Service)} s ON s.id = c.service_id "
        f"JOIN {hot.table(Topic)} t ON t.id = c.topic_id "
        f"LEFT JOIN {hot.table(User)} u ON u.id = c.assigned_to_id "
        f"LEFT JOIN {hot.table(Satisfaction)} r ON r.case_id = c.id "
        f"LEFT JOIN {hot.table(Service)} rs ON rs.id = r.service_id "
        f"WHERE c.citizen_id = %s AND {where} "
        f"ORDER BY c.sla_deadline ASC NULLS LAST, c.last_activity_at DESC, c.id DESC"
    )


def _sheet_cases(user: User, citizen: User) -> tuple[list[Case], int | None]:
    """The citizen's cases that ``user`` may see, as model instances with their related objects
    cached (``select_related`` would give the same), and the citizen's number of cases in all
    (None when no case is visible: no row carries it)."""
    scope = case_scope(user)
    if scope.nothing:
        return [], None
    columns = _sheet_columns(connection.vendor)
    plan = _sheet_plan(connection.vendor)
    rows = hot.fetchall(*_sheet_cases_statement(scope, citizen))
    cases, total = [], None
    for row in hot.convert(rows, plan):
        values, service, topic, agent, rating, rating_service, (total,) = hot.split(row, columns)
        case = columns[0].build(values)
        cache = case._state.fields_cache
        cache["service"] = columns[1].build(service)
        cache["topic"] = columns[2].build(topic)
        cache["assigned_to"] = columns[3].build(agent)
        rating = columns[4].build(rating)
        if rating is not None:
            rating._state.fields_cache["case"] = case
            rating._state.fields_cache["service"] = columns[5].build(rating_service)
        # None marks "no rating" for the reverse one-to-one: hasattr(case, "satisfaction") is
        # then False without a query, as after select_related.
        cache["satisfaction"] = rating
        cases.append(case)
    return cases, total


def _sheet_cases_statement(scope, citizen: User) -> tuple[str, list]:
    where, params = scope.sql("c")
    return _sheet_cases_sql(connection.vendor, where), [citizen.pk, citizen.pk, *params]


@functools.cache
def _sheet_plan(vendor: str):
    fields = [field for part in _sheet_columns(vendor) for field in part.fields]
    return hot.converters([*fields, None])


def synthesis(user: User, citizen: User) -> Synthesis:
    """Identity block, open cases, counts per channel and ratings of a citizen, limited to the
    cases ``user`` may see (plus how many others exist)."""
    # One read of the visible cases gives their ids, the open ones to list, their ratings and
    # how many cases the citizen has in all, hence how many are in services ``user`` cannot
    # see. Then one grouped count of the contacts per channel.
    visible, total = _sheet_cases(user, citizen)
    case_ids = [case.pk for case in visible]
    open_cases = label_cases([case for case in visible if case.status in ACTIVE_STATUSES])
    if total is None:
        total = Case.objects.filter(citizen=citizen).count()
    ratings = [
        case.satisfaction
        for case in visible
        if hasattr(case, "satisfaction") and case.satisfaction.citizen_id == citizen.pk
    ]
    ratings.sort(key=lambda rating: (rating.created_at, rating.pk), reverse=True)
    by_channel = {}
    if case_ids:
        by_channel = dict(hot.fetchall(*_channel_counts_statement(citizen, case_ids)))
    labels = choice_labels(Channel)
    channel_counts = [
        (value, labels.get(value, value), count)
        for value, count in sorted(by_channel.items(), key=lambda item: (-item[1], item[0]))
    ]
    return Synthesis(
        citizen=citizen,
        visible_case_ids=case_ids,
        open_cases=open_cases,
        other_cases_count=total - len(visible),
        channel_counts=channel_counts,
        total_contacts=sum(by_channel.values()),
        ratings=ratings[:SYNTHESIS_RATINGS],
    )


def _contacts_where(alias: str, cases: int) -> str:
    """A citizen's contacts on some cases: the condition shared by the counts and the pages
    (parameters: the citizen, then the case ids)."""
    return (
        f"{alias}.citizen_id = %s AND {alias}.case_id IN {hot.placeholders(cases)} "
        f"AND {alias}.type IN {hot.literals(CONTACT_EVENT_TYPES)}"
    )


def _channel_counts_statement(citizen: User, case_ids: list[int]) -> tuple[str, list]:
    return _channel_counts_sql(len(case_ids)), [citizen.pk, *case_ids]


@functools.lru_cache(maxsize=64)
def _channel_counts_sql(cases: int) -> str:
    return (
        f"SELECT e.channel, COUNT(*) FROM {hot.table(Event)} e "  # noqa: S608 (table names, code constants and placeholders only)
        f"WHERE {_contacts_where('e', cases)} GROUP BY e.channel"
    )


@functools.lru_cache(maxsize=128)
def _contact_page_sql(vendor: str, cases: int, after: bool, limit: int) -> str:
    """One page of contacts, newest first: the page's ids first (keyset condition on
    (created_at, id), served by the index ``event_citizen_time`` (citizen, -created_at, -id),
    the LIMIT written in the text so that a generic plan knows it), then their rows with the
    joined columns. Joining before the LIMIT made PostgreSQL join every contact of the citizen
    (400 rows: 2 ms; it grows with them)."""
    keyset = " AND (p.created_at, p.id) < (%s, %s)" if after else ""
    event = hot.table(Event)
    return (
        f"SELECT {', '.join(_contact_columns(vendor))} "  # noqa: S608 (table names, code constants and placeholders only)
        f"FROM (SELECT p.id FROM {event} p WHERE {_contacts_where('p', cases)}{keyset} "
        f"ORDER BY p.created_at DESC, p.id DESC LIMIT {int(limit)}) page "
        f"JOIN {event} e ON e.id = page.id "
        f"JOIN {hot.table(Case)} c ON c.id = e.case_id "
        f"JOIN {hot.table(Service)} s ON s.id = c.service_id "
        f"LEFT JOIN {hot.table(User)} a ON a.id = e.actor_id "
        f"ORDER BY e.created_at DESC, e.id DESC"
    )


def _contact_page_statement(citizen: User, case_ids, after, limit: int) -> tuple[str, list]:
    params = [citizen.pk, *case_ids]
    if after is not None:
        params += [connection.ops.adapt_datetimefield_value(after[0]), after[1]]
    return _contact_page_sql(connection.vendor, len(case_ids), after is not None, limit), params


def sheet_statements(user: User, citizen: User, cursor: str | None = None) -> list[tuple]:
    """The statements that read a synthesis sheet, as run, with their parameters: (label, SQL,
    parameters) for the visible cases, the counts per channel and the contacts page. For
    EXPLAIN (``bench/console_synthesis.py``); the functions above run the same ones."""
    case_ids = citizen_visible_case_ids(user, citizen)
    after = decode_cursor(cursor) if cursor else None
    page = _contact_page_statement(citizen, case_ids, after, SYNTHESIS_PAGE_SIZE + 1)
    return [
        ("cases", *_sheet_cases_statement(case_scope(user), citizen)),
        ("counts per channel", *_channel_counts_statement(citizen, case_ids)),
        ("contacts page", *page),
    ]


def contact_page(
    citizen: User,
    case_ids: list[int],
    *,
    cursor: str | None = None,
    size: int = SYNTHESIS_PAGE_SIZE,
) -> ContactPage:
    """One page of the citizen's contacts on the given cases, newest first.

    Keyset pagination on (created_at, id): the next page starts strictly after the last row
    shown, so it costs the same on page 1 and page 50 (no OFFSET). Raises ValueError for a
    malformed cursor.
    """
    after = decode_cursor(cursor) if cursor else None
    if not case_ids:
        return ContactPage(events=[], next_cursor=None)
    rows = hot.convert(
        hot.fetchall(*_contact_page_statement(citizen, case_ids, after, size + 1)),
        _contact_plan(connection.vendor),
    )
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_cursor = encode_cursor(last[CONTACT_FIELDS.index("created_at")], last[0])
    return ContactPage(events=present_contacts(rows), next_cursor=next_cursor)


# What a synthesis row shows, read as plain values (no model instances: building four of them
# per row was most of the cost of a page). The order is the order of ``present_contacts``.
CONTACT_FIELDS = (
    "id",
    "case_id",
    "citizen_id",
    "type",
    "channel",
    "actor_id",
    "internal",
    "body",
    "payload",
    "created_at",
    "actor__first_name",
    "actor__last_name",
    "actor__email",
    "case__reference",
    "case__service__name",
)


# The tables of ``_contact_page_sql`` by relation path from the event, with their aliases.
_CONTACT_TABLES = {
    "": (Event, "e"),
    "actor": (User, "a"),
    "case": (Case, "c"),
    "case__service": (Service, "s"),
}


def _contact_field(name: str):
    """The model field and table alias (in ``_contact_page_sql``) of a ``CONTACT_FIELDS`` name."""
    path, _sep, attr = name.rpartition("__")
    model, alias = _CONTACT_TABLES[path]
    return model._meta.get_field(attr), alias


@functools.cache
def _contact_columns(vendor: str) -> list[str]:
    return [hot.column_of(*_contact_field(name)) for name in CONTACT_FIELDS]


@functools.cache
def _contact_plan(vendor: str):
    return hot.converters([_contact_field(name)[0] for name in CONTACT_FIELDS])


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
    return _per_language("months", lambda: {number: str(name) for number, name in MONTHS.items()})


def contact_time(moment: datetime, tz=None, months: dict[int, str] | None = None) -> str:
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
    return _per_language("datetime_pattern", lambda: str(_("%(date)s à %(time)s")))


def present_contacts(rows) -> list[ContactRow]:
    """Synthesis rows (tuples of ``CONTACT_FIELDS``) ready for display: labels, author, excerpt,
    link to the case, number of files.

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
        payload,
        created_at,
        first_name,
        last_name,
        email,
        reference,
        service_name,
    ) in rows:
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
                files=int((payload or {}).get("attachments") or 0),
                case_reference=reference,
                service_name=service_name,
                case_url=f"{prefix}{reference}/",
            )
        )
    return contacts
