"""Agent console ("e-contacts") services: work lists, recorded contacts.

Plain functions that validate, then act; the console views only parse, check, call and render.
Thread operations (reply, request for details, internal note, close, reopen) live in
``messaging.services``; transfers, their acceptance and reclassification in
``contactcenter.cases``; taking, releasing and assigning cases in ``routing``: this
module calls them and never re-implements them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case as SqlCase
from django.db.models import CharField, Count, F, Prefetch, Q, QuerySet, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.formats import get_format
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contactcenter.cases import accept_transfers
from contactcenter.labels import choice_labels, per_language
from contactcenter.models import (
    Case,
    Channel,
    Event,
    Topic,
    Transfer,
    User,
)
from contactcenter.permissions import (
    can_act_on_case,
    user_service_ids,
    visible_cases,
)
from contactcenter.services import (
    add_event,
    change_status,
    mark_first_response,
    open_case,
    validate_body,
)

# Rows (cases, events) that the label and presentation helpers give extra attributes to.
RowsT = TypeVar("RowsT", bound=Iterable[Any])

# --- work lists ("Mon travail") -------------------------------------------------------------------

VIEW_MINE = "mine"
VIEW_QUEUE = "queue"
VIEW_TEAM = "team"
VIEWS = {
    VIEW_MINE: gettext_lazy("Mes demandes"),
    VIEW_QUEUE: gettext_lazy("File de mes services"),
    VIEW_TEAM: gettext_lazy("Toutes les demandes de mes services"),
}

STATUS_ACTIVE = ""  # default: every status that still needs work
STATUS_ALL = "all"
ACTIVE_STATUSES = (*Case.OPEN_STATUSES, Case.Status.ANSWERED)

AGE_BUCKETS = {
    "lt1": (gettext_lazy("Moins de 24 h"), 0, 1),
    "1to3": (gettext_lazy("De 1 à 3 jours"), 1, 3),
    "3to7": (gettext_lazy("De 3 à 7 jours"), 3, 7),
    "gt7": (gettext_lazy("Plus de 7 jours"), 7, None),
}

PAGE_SIZE = 25
QUERY_MAX_CHARS = 100


@dataclass
class WorkFilters:
    """What the agent chose in the filter bar; every value is checked, unknown ones dropped."""

    view: str = VIEW_MINE
    status: str = STATUS_ACTIVE
    topic: int | None = None
    channel: str = ""
    kind: str = ""
    age: str = ""
    q: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, data: Mapping[str, str]) -> WorkFilters:
        filters = cls()
        view = data.get("vue", "")
        filters.view = view if view in VIEWS else VIEW_MINE
        status = data.get("statut", "")
        if status == STATUS_ALL or status in Case.Status.values:
            filters.status = status
        topic = data.get("theme", "")
        if topic.isdigit():
            filters.topic = int(topic)
        channel = data.get("canal", "")
        filters.channel = channel if channel in Channel.values else ""
        kind = data.get("nature", "")
        filters.kind = kind if kind in Case.Kind.values else ""
        age = data.get("anciennete", "")
        filters.age = age if age in AGE_BUCKETS else ""
        filters.q = " ".join(data.get("q", "").split())[:QUERY_MAX_CHARS]
        page = data.get("page", "")
        filters.page = int(page) if page.isdigit() and int(page) > 0 else 1
        return filters

    def as_query(self, **overrides: object) -> dict[str, str]:
        """The filters as URL parameters (defaults left out), for links and hx-push-url."""
        values = {
            "vue": self.view,
            "statut": self.status,
            "theme": str(self.topic or ""),
            "canal": self.channel,
            "nature": self.kind,
            "anciennete": self.age,
            "q": self.q,
            "page": str(self.page) if self.page > 1 else "",
        }
        values.update({key: str(value) for key, value in overrides.items()})
        if values["vue"] == VIEW_MINE:
            values["vue"] = ""
        return {key: value for key, value in values.items() if value}

    @property
    def active_count(self) -> int:
        return sum(
            bool(value)
            for value in (self.status, self.topic, self.channel, self.kind, self.age, self.q)
        )


def view_scope(user: User, view: str) -> QuerySet[Case]:
    """The cases behind one tab of "Mon travail", before filters.

    - mine: assigned to me, plus cases transferred to me by name and still pending;
    - queue: cases of my services nobody owns yet;
    - team: every case of my services (supervisors' usual view).
    """
    # Written as plain conditions on indexed columns rather than as visible_cases(user) & ...:
    # its "or transferred to me" subquery would make PostgreSQL scan the whole case table. Each
    # branch is a subset of visible_cases(user) (contactcenter.permissions), which tests check.
    mine_services = Q() if user.is_admin_role else Q(service_id__in=user_service_ids(user))
    if view == VIEW_MINE:
        scope = Q(assigned_to=user) & mine_services
        if user.is_agent:
            pending_to_me = list(
                Transfer.objects.filter(to_agent=user, accepted_at__isnull=True).values_list(
                    "case_id", flat=True
                )
            )
            if pending_to_me:
                scope |= Q(pk__in=pending_to_me)
        return Case.objects.filter(scope)
    cases = Case.objects.filter(mine_services)
    if view == VIEW_QUEUE:
        # Routing's queue: new cases nobody owns (what "Prendre" applies to).
        return cases.filter(assigned_to__isnull=True, status=Case.Status.NEW)
    return cases


def _age_q(bucket: str, now: datetime) -> Q:
    _label, low, high = AGE_BUCKETS[bucket]
    q = Q(created_at__lte=now - timedelta(days=low))
    if high is not None:
        q &= Q(created_at__gt=now - timedelta(days=high))
    return q


def _search_q(text: str) -> Q:
    if re.fullmatch(r"\d{4}-\d{1,6}", text):
        return Q(reference__startswith=text)
    q = Q(reference__icontains=text) | Q(subject__icontains=text)
    q |= Q(citizen__email__icontains=text)
    for term in text.split()[:4]:
        q |= Q(citizen__last_name__icontains=term) | Q(citizen__first_name__icontains=term)
    return q


def _dimension_qs(filters: WorkFilters, now: datetime) -> dict[str, Q]:
    """One Q per facet dimension for the chosen filters (an empty Q when not filtered)."""
    if filters.status == STATUS_ACTIVE:
        status = Q(status__in=ACTIVE_STATUSES)
    elif filters.status == STATUS_ALL:
        status = Q()
    else:
        status = Q(status=filters.status)
    return {
        "status": status,
        "topic": Q(topic_id=filters.topic) if filters.topic else Q(),
        "channel": Q(channel=filters.channel) if filters.channel else Q(),
        "kind": Q(kind=filters.kind) if filters.kind else Q(),
        "age": _age_q(filters.age, now) if filters.age else Q(),
    }


def _all_but(dimensions: dict[str, Q], skip: str) -> Q:
    q = Q()
    for name, condition in dimensions.items():
        if name != skip:
            q &= condition
    return q


def apply_filters(
    cases: QuerySet[Case], filters: WorkFilters, *, skip: str = "", now: datetime | None = None
) -> QuerySet[Case]:
    """Apply every filter except ``skip``."""
    cases = cases.filter(_all_but(_dimension_qs(filters, now or timezone.now()), skip))
    if filters.q:
        cases = cases.filter(_search_q(filters.q))
    return cases


# What a row of the work list shows (and ``routing.sla_state`` reads) of a case, its citizen,
# topic and agent. The other columns are not loaded (every datetime column costs its parsing).
WORK_LIST_FIELDS = (
    "reference",
    "subject",
    "status",
    "kind",
    "channel",
    "fragile",
    "service",
    "assigned_to",
    "sla_deadline",
    "sla_breached",
    "first_response_at",
    "created_at",
    "topic__title",
    "citizen__first_name",
    "citizen__last_name",
    "citizen__email",
    "assigned_to__first_name",
    "assigned_to__last_name",
    "assigned_to__email",
)


def work_list(user: User, filters: WorkFilters) -> QuerySet[Case]:
    """The filtered cases of the chosen tab, most urgent first: SLA deadline, then oldest."""
    pending = (
        Transfer.objects.filter(accepted_at__isnull=True)
        .select_related("from_service")
        .only("id", "case_id", "reason", "created_at", "from_service__name")
    )
    return (
        apply_filters(view_scope(user, filters.view), filters)
        .select_related("citizen", "topic", "assigned_to")
        .only(*WORK_LIST_FIELDS)
        .prefetch_related(Prefetch("transfers", queryset=pending, to_attr="pending_transfers"))
        .order_by(F("sla_deadline").asc(nulls_last=True), "created_at", "id")
    )


@dataclass
class FacetOption:
    value: str
    label: str
    count: int
    selected: bool


@dataclass
class Facets:
    status: list[FacetOption] = field(default_factory=list)
    topic: list[FacetOption] = field(default_factory=list)
    channel: list[FacetOption] = field(default_factory=list)
    kind: list[FacetOption] = field(default_factory=list)
    age: list[FacetOption] = field(default_factory=list)
    total: int = 0  # cases matching every filter (the list's size)


def facet_topics(user: User, filters: WorkFilters) -> list[Topic]:
    """Topics offered in the filter: my services' (all for an admin), plus the chosen one."""
    topics = Topic.objects.filter(is_active=True)
    if not user.is_admin_role:
        topics = topics.filter(service_id__in=user_service_ids(user))
    if filters.topic:
        topics = topics | Topic.objects.filter(pk=filters.topic)
    # Only what the options show: DISTINCT compares every column it selects (the service's
    # description included, without only()).
    topics = topics.select_related("service").only("title", "position", "service__name")
    return list(topics.distinct().order_by("service__name", "position"))


def _age_bucket(now: datetime) -> SqlCase:
    """SQL expression: the age bucket of a case (same bounds as ``_age_q``)."""
    whens = [When(created_at__gt=now, then=Value(""))]
    for key, (_label, low, high) in AGE_BUCKETS.items():
        if high is None:
            whens.append(When(created_at__lte=now - timedelta(days=low), then=Value(key)))
        else:
            whens.append(When(created_at__gt=now - timedelta(days=high), then=Value(key)))
    return SqlCase(*whens, default=Value(""), output_field=CharField())


def _any(_value: object) -> bool:
    return True


def facet_counts(user: User, filters: WorkFilters) -> Facets:
    """How many cases each filter option would show, given the other filters (faceted search).

    One small query: the tab's cases grouped by (status, topic, channel, kind, age bucket);
    each option's count (its value, and the filters chosen in the *other* dimensions) is then
    summed over those groups in Python — a few hundred rows at most.
    """
    now = timezone.now()
    scope = view_scope(user, filters.view)
    if filters.q:
        scope = scope.filter(_search_q(filters.q))
    groups = list(
        scope.order_by()
        .annotate(age_bucket=_age_bucket(now))
        .values_list("status", "topic_id", "channel", "kind", "age_bucket")
        # COUNT(*), not COUNT(id): the queue's partial index (case_unassigned_queue) holds every
        # other column read here, so PostgreSQL answers from it alone (index-only scan).
        .annotate(n=Count("*"))
    )
    if filters.status == STATUS_ACTIVE:
        status_ok = set(ACTIVE_STATUSES).__contains__
    elif filters.status == STATUS_ALL:
        status_ok = _any
    else:
        status_ok = filters.status.__eq__
    chosen = [
        status_ok,
        (lambda value: value == filters.topic) if filters.topic else _any,
        (lambda value: value == filters.channel) if filters.channel else _any,
        (lambda value: value == filters.kind) if filters.kind else _any,
        (lambda value: value == filters.age) if filters.age else _any,
    ]
    # An option's count: the groups that pass the filters chosen in the *other* dimensions,
    # with the option's value in its own. One pass over the groups sums them per dimension
    # and value: a group counts in dimension ``d`` when no filter fails, or only ``d``'s.
    sums: list[dict[Any, int]] = [{} for _ in chosen]
    total = 0
    for row in groups:
        failed = [i for i, ok in enumerate(chosen) if not ok(row[i])]
        if len(failed) > 1:
            continue
        n = row[5]
        if not failed:
            total += n
        for dimension in failed or range(len(chosen)):
            by_value = sums[dimension]
            by_value[row[dimension]] = by_value.get(row[dimension], 0) + n
    statuses, topic_ids, channels, kinds, ages = sums

    topics = facet_topics(user, filters)
    selected_topic = str(filters.topic or "")
    facets = Facets()
    facets.total = total
    facets.status.append(
        FacetOption(
            STATUS_ACTIVE,
            _("À traiter"),
            sum(n for value, n in statuses.items() if value in ACTIVE_STATUSES),
            filters.status == STATUS_ACTIVE,
        )
    )
    for value, status_label in status_labels().items():
        facets.status.append(
            FacetOption(value, status_label, statuses.get(value, 0), filters.status == value)
        )
    facets.status.append(
        FacetOption(
            STATUS_ALL,
            _("Tous les statuts"),
            sum(statuses.values()),
            filters.status == STATUS_ALL,
        )
    )
    for topic in topics:
        facets.topic.append(
            FacetOption(
                str(topic.pk),
                f"{topic.title} ({topic.service.name})",
                topic_ids.get(topic.pk, 0),
                str(topic.pk) == selected_topic,
            )
        )
    for value, label in Channel.choices:
        facets.channel.append(
            FacetOption(value, str(label), channels.get(value, 0), filters.channel == value)
        )
    for value, label in Case.Kind.choices:
        facets.kind.append(
            FacetOption(value, str(label), kinds.get(value, 0), filters.kind == value)
        )
    for key, (label, _low, _high) in AGE_BUCKETS.items():
        facets.age.append(FacetOption(key, str(label), ages.get(key, 0), filters.age == key))
    return facets


COUNT_CAP = 1000


def capped_count(cases: QuerySet[Case], cap: int = COUNT_CAP) -> int:
    """Exact count up to ``cap``, else ``cap + 1`` (shown "plus de 1 000"): reads at most
    ``cap + 1`` rows however large the table."""
    return cases.order_by()[: cap + 1].count()


def tab_counts(user: User, filters: WorkFilters, *, current: int | None = None) -> dict[str, int]:
    """Cases per tab with the current filters applied (shown next to each tab). The current
    tab's exact count can be passed in (``Facets.total``); the others are capped counts."""
    counts = {}
    for view in VIEWS:
        if view == filters.view and current is not None:
            counts[view] = current
        else:
            counts[view] = capped_count(apply_filters(view_scope(user, view), filters))
    return counts


# --- taking, releasing and assigning (routing does the work) -------------------------------------

ALREADY_TAKEN = gettext_lazy("Cette demande vient d'être prise par un autre agent.")


def take(agent: User, case: Case) -> None:
    """The agent takes a queued case (routing's atomic take), then accepts pending transfers.

    Raises ValidationError when someone else got it first.
    """
    import routing

    with transaction.atomic():
        routing.take_case(agent, case)
        accept_transfers(case, agent)


def release(agent: User, case: Case) -> None:
    """The agent gives a case back to the queue of its service."""
    import routing

    routing.release_case(agent, case)


def assign(case: Case, agent: User, *, by: User) -> None:
    """A supervisor gives a case to a named agent (routing checks service and capacity)."""
    import routing

    if not (by.is_supervisor or by.is_admin_role):
        raise ValidationError(_("Seul un superviseur peut attribuer une demande à un agent."))
    with transaction.atomic():
        routing.assign_case(case, agent, by=by)
        accept_transfers(case, agent)


def sla_states(cases: Iterable[Case]) -> dict[int, str]:
    """SLA state ("ok" / "at_risk" / "breached") of each case, from routing."""
    from routing import sla_state

    return {case.pk: sla_state(case) for case in cases}


# --- case view helpers ---------------------------------------------------------------------------


def timeline(case: Case) -> QuerySet[Event]:
    """Every event of the case, internal ones included, oldest first (the agent's view)."""
    return (
        Event.objects.filter(case=case)
        .select_related("actor")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )


# --- recorded contacts (phone, counter, email, letter) --------------------------------------------

CONTACT_CHANNELS = (Channel.PHONE, Channel.COUNTER, Channel.EMAIL, Channel.LETTER)
SUMMARY_MAX_CHARS = 5000
SEARCH_MIN_CHARS = 2
SEARCH_LIMIT = 20
REFERENCE_RE = re.compile(r"^\d{4}-\d{6}$")


def find_citizens(query: str, *, limit: int = SEARCH_LIMIT) -> list[User]:
    """Citizens matching a name, an e-mail address, a case reference or a tax/social number.

    Raises ValidationError when the query is too short to search.
    """
    text = " ".join((query or "").split())[:QUERY_MAX_CHARS]
    if len(text) < SEARCH_MIN_CHARS:
        raise ValidationError(
            _("Saisissez au moins %(min)s caractères pour rechercher un usager.")
            % {"min": SEARCH_MIN_CHARS},
            code="too_short",
        )
    citizens = User.objects.filter(role=User.Role.CITIZEN, is_active=True)
    digits = re.sub(r"[\s.\-]", "", text)
    if REFERENCE_RE.match(text):
        citizens = citizens.filter(cases__reference=text)
    elif digits.isdigit() and len(digits) >= 5:
        # Exact identifiers only: tax numbers have 13 digits, social security numbers 13 plus a
        # 2-digit key (an agent may type it without the key).
        by_number = Q(tax_number=digits) | Q(social_number=digits)
        if len(digits) == 13:
            by_number |= Q(social_number__startswith=digits)
        citizens = citizens.filter(by_number)
    elif "@" in text:
        citizens = citizens.filter(email__icontains=text)
    else:
        for term in text.split()[:4]:
            citizens = citizens.filter(Q(last_name__icontains=term) | Q(first_name__icontains=term))
    return list(citizens.distinct().order_by("last_name", "first_name", "id")[:limit])


def citizen_or_none(citizen_id: str | int) -> User | None:
    try:
        return User.objects.get(pk=int(citizen_id), role=User.Role.CITIZEN, is_active=True)
    except (User.DoesNotExist, TypeError, ValueError):
        return None


def contact_cases(user: User, citizen: User) -> QuerySet[Case]:
    """Cases of ``citizen`` a recorded contact may be attached to: those ``user`` may act on."""
    return (
        visible_cases(user)
        .filter(citizen=citizen)
        .select_related("service", "topic")
        .order_by(F("closed_at").desc(nulls_first=True), "-last_activity_at", "-id")
    )


@transaction.atomic
def record_contact(
    *,
    agent: User,
    citizen: User,
    channel: str,
    summary: str,
    resolved: bool,
    topic: Topic | None = None,
    kind: str = Case.Kind.QUESTION,
    subject: str = "",
    case: Case | None = None,
) -> Event:
    """Record a phone, counter, e-mail or letter contact on the citizen's timeline.

    Either attached to an existing case of the citizen (one the agent may act on), or as a new
    case of ``topic`` owned by the topic's (competent) service: routed to its queue after commit,
    or created closed ("répondu", resolved at first contact) when ``resolved``. The summary is
    visible to the citizen in "Mon historique". One transaction.
    """
    errors: dict[str, list[str]] = {}
    if not agent.is_authenticated or not agent.is_staff_member:
        raise ValidationError(_("Seuls les agents enregistrent un contact."))
    if citizen is None or not citizen.is_citizen:
        raise ValidationError(
            {"citizen": [_("Usager introuvable : recherchez-le à nouveau.")]}, code="no_citizen"
        )
    if channel not in CONTACT_CHANNELS:
        errors["channel"] = [
            _("Choisissez le canal du contact (téléphone, accueil, courriel, courrier).")
        ]
    try:
        summary = validate_body(summary, max_chars=SUMMARY_MAX_CHARS)
    except ValidationError:
        errors["summary"] = [
            _("Résumez l'échange (1 à %(max)s caractères).") % {"max": SUMMARY_MAX_CHARS}
        ]
    if case is not None:
        if case.citizen_id != citizen.pk or not can_act_on_case(agent, case):
            errors["case"] = [_("Cette demande n'appartient pas à l'usager choisi.")]
    else:
        if topic is None or not topic.is_active:
            errors["topic"] = [_("Choisissez le thème du contact.")]
        if kind not in Case.Kind.values:
            errors["kind"] = [_("Choisissez la nature de la demande.")]
    if errors:
        raise ValidationError(errors)

    payload = {"resolved_first_contact": bool(resolved), "recorded_by": agent.pk}
    if case is None:
        assert topic is not None  # checked above: a new case needs its topic
        now = timezone.now()
        new_case, event = open_case(
            citizen=citizen,
            topic=topic,
            kind=kind,
            channel=channel,
            subject=subject or summary.splitlines()[0][:120],
            first_event_type=Event.Type.CONTACT,
            body=summary,
            actor=agent,
            payload=payload,
            route=not resolved,
            status=Case.Status.CLOSED if resolved else Case.Status.NEW,
        )
        if resolved:
            Case.objects.filter(pk=new_case.pk).update(
                resolution=Case.Resolution.ANSWERED,
                resolved_first_contact=True,
                first_response_at=now,
                assigned_to=agent,
                assigned_at=now,
            )
        return event

    fresh = Case.objects.select_for_update().get(pk=case.pk)
    event = add_event(
        fresh, Event.Type.CONTACT, actor=agent, channel=channel, body=summary, payload=payload
    )
    if fresh.status == Case.Status.WAITING_CITIZEN:
        # The citizen answered by phone, at the counter or by mail: work can resume.
        change_status(fresh, Case.Status.IN_PROGRESS, actor=agent)
    mark_first_response(fresh, at=event.created_at)
    return event


# --- how events read on the agent's timeline -----------------------------------------------------


def label_events(events: RowsT) -> RowsT:
    """Give each event ``type_label`` and ``channel_label``: translated once per language, where
    ``get_FOO_display`` would hash every lazy choice label of the field for every row."""
    types, channels = choice_labels(Event.Type), choice_labels(Channel)
    for event in events:
        event.type_label = types.get(event.type, event.type)
        event.channel_label = channels.get(event.channel, event.channel)
    return events


def present_cases(cases: RowsT, user: User, now: datetime | None = None) -> RowsT:
    """Prepare work-list rows: labels, links, the row's action (take, release or open), the
    deadline and the age as the template filters wrote them (``deadline_text``:
    ``sla_deadline|date:"SHORT_DATETIME_FORMAT"``; ``age_text``: ``created_at|timesince:now``).

    Done once per page in Python (URL prefixes, one translation of each label, one lookup of the
    date format) rather than per row in the template.
    """
    label_cases(cases)
    base = reverse("console:case", args=["0"])[:-2]
    now = now or timezone.now()
    tz, deadline_format = timezone.get_current_timezone(), get_format("SHORT_DATETIME_FORMAT")
    for case in cases:
        case.url = f"{base}{case.reference}/"
        deadline = case.sla_deadline
        case.deadline_text = (
            date_format(timezone.localtime(deadline, tz), deadline_format) if deadline else ""
        )
        case.age_text = timesince(case.created_at, now)
        if case.assigned_to_id is None and case.status == Case.Status.NEW and user.is_agent:
            case.action, case.action_url = "take", f"{case.url}prendre/"
        elif case.assigned_to_id == user.pk and case.status != Case.Status.CLOSED:
            case.action, case.action_url = "release", f"{case.url}liberer/"
        else:
            case.action, case.action_url = "open", case.url
    return cases


def status_labels() -> dict[str, str]:
    """Status names as agents read them (the model's are worded for the citizen). Cached per
    language like ``choice_labels``: read-only."""

    def build() -> dict[str, str]:
        labels = dict(choice_labels(Case.Status))
        labels[Case.Status.WAITING_CITIZEN] = _("En attente de l'usager")
        return labels

    labels: dict[str, str] = per_language("agent-statuses", build)
    return labels


def label_cases(cases: RowsT) -> RowsT:
    """Give each case ``status_label``, ``kind_label`` and ``channel_label`` (see label_events)."""
    statuses, kinds = status_labels(), choice_labels(Case.Kind)
    channels = choice_labels(Channel)
    for case in cases:
        case.status_label = statuses.get(case.status, case.status)
        case.kind_label = kinds.get(case.kind, case.kind)
        case.channel_label = channels.get(case.channel, case.channel)
    return cases


def describe_event(event: Event, people: dict[int, User] | None = None) -> str:
    """A one-line French description of a system event (status, assignment, transfer...).

    ``people`` maps user ids found in payloads (assignments) to users, to show their names.
    """
    payload = event.payload or {}
    if event.type == Event.Type.ASSIGNMENT:
        agent_id = payload.get("agent")
        agent = (people or {}).get(agent_id) if agent_id else None
        if agent is not None:
            return _("Attribuée à %(agent)s") % {"agent": agent.display_name}
        if payload.get("agent") is None and "agent" in payload:
            return _("Remise dans la file du service")
        return event.body or _("Attribution")
    if event.type == Event.Type.STATUS:
        if "classification" in payload:
            parts = []
            change = payload["classification"]
            if "topic" in change:
                parts.append(
                    _("thème : %(from)s → %(to)s")
                    % {"from": change["topic"]["from"], "to": change["topic"]["to"]}
                )
            if "kind" in change:
                parts.append(
                    _("nature : %(from)s → %(to)s")
                    % {"from": change["kind"]["from"], "to": change["kind"]["to"]}
                )
            return _("Reclassement (%(changes)s)") % {"changes": ", ".join(parts)}
        labels = status_labels()
        before, after = payload.get("from", "?"), payload.get("to", "?")
        text = _("Statut : %(from)s → %(to)s") % {
            "from": labels.get(before, before),
            "to": labels.get(after, after),
        }
        if payload.get("resolution"):
            text += " — " + str(dict(Case.Resolution.choices).get(payload["resolution"], ""))
        return text
    if event.type == Event.Type.TRANSFER:
        return _("Transfert de %(from)s vers %(to)s") % {
            "from": payload.get("from_service_name", "?"),
            "to": payload.get("to_service_name", "?"),
        }
    return event.body or str(event.get_type_display())
