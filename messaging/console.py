"""Agent console ("e-contacts") services: work lists, recorded contacts, transfers, synthesis sheet.

Plain functions that validate, then act; the console views only parse, check, call and render.
Thread operations (reply, request for details, internal note, close, reopen) live in
``messaging.services``; taking, releasing and assigning cases in ``routing.services``: this
module calls them and never re-implements them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case as SqlCase
from django.db.models import CharField, Count, F, Prefetch, Q, QuerySet, Value, When
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.dates import MONTHS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contactcenter import hot
from contactcenter.models import (
    AgentProfile,
    Case,
    Channel,
    Event,
    Satisfaction,
    Service,
    Topic,
    Transfer,
    User,
)
from contactcenter.permissions import (
    can_act_on_case,
    case_scope,
    user_service_ids,
    visible_cases,
)
from contactcenter.services import (
    add_event,
    change_status,
    mark_first_response,
    open_case,
    request_routing,
    validate_body,
)

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
    def from_query(cls, data) -> WorkFilters:
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

    def as_query(self, **overrides) -> dict[str, str]:
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


def _dimension_qs(filters: WorkFilters, now) -> dict[str, Q]:
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
    cases: QuerySet[Case], filters: WorkFilters, *, skip: str = "", now=None
) -> QuerySet[Case]:
    """Apply every filter except ``skip``."""
    cases = cases.filter(_all_but(_dimension_qs(filters, now or timezone.now()), skip))
    if filters.q:
        cases = cases.filter(_search_q(filters.q))
    return cases


def work_list(user: User, filters: WorkFilters) -> QuerySet[Case]:
    """The filtered cases of the chosen tab, most urgent first: SLA deadline, then oldest."""
    pending = (
        Transfer.objects.filter(accepted_at__isnull=True)
        .select_related("from_service")
        .only("id", "case_id", "reason", "created_at", "from_service__name")
    )
    return (
        apply_filters(view_scope(user, filters.view), filters)
        .select_related("citizen", "topic", "service", "assigned_to")
        .defer(
            *(
                f"{person}__{name}"
                for person in ("citizen", "assigned_to")
                for name in (
                    "password",
                    "last_login",
                    "is_superuser",
                    "username",
                    "is_staff",
                    "date_joined",
                    "mobile_phone",
                    "notify_email",
                    "notify_sms",
                    "tax_number",
                    "social_number",
                )
            )
        )
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
    topics = topics | Topic.objects.filter(pk=filters.topic or 0)
    return list(topics.select_related("service").distinct().order_by("service__name", "position"))


def _age_bucket(now):
    """SQL expression: the age bucket of a case (same bounds as ``_age_q``)."""
    whens = [When(created_at__gt=now, then=Value(""))]
    for key, (_label, low, high) in AGE_BUCKETS.items():
        if high is None:
            whens.append(When(created_at__lte=now - timedelta(days=low), then=Value(key)))
        else:
            whens.append(When(created_at__gt=now - timedelta(days=high), then=Value(key)))
    return SqlCase(*whens, default=Value(""), output_field=CharField())


def _any(_value) -> bool:
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
        .annotate(n=Count("id"))
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
    # One row of the group: does it pass every chosen filter but the one at ``skip``?
    passes = [
        [all(i == skip or ok(row[i]) for i, ok in enumerate(chosen)) for skip in range(5)]
        for row in groups
    ]

    def count(dimension: int, test) -> int:
        return sum(
            row[5] for row, ok in zip(groups, passes, strict=True) if ok[dimension] and test(row)
        )

    topics = facet_topics(user, filters)
    selected_topic = str(filters.topic or "")
    facets = Facets()
    facets.total = sum(
        row[5] for row, ok in zip(groups, passes, strict=True) if chosen[0](row[0]) and ok[0]
    )
    facets.status.append(
        FacetOption(
            STATUS_ACTIVE,
            _("À traiter"),
            count(0, lambda row: row[0] in ACTIVE_STATUSES),
            filters.status == STATUS_ACTIVE,
        )
    )
    for value, label in status_labels().items():
        facets.status.append(
            FacetOption(
                value,
                label,
                count(0, lambda row, v=value: row[0] == v),
                filters.status == value,
            )
        )
    facets.status.append(
        FacetOption(
            STATUS_ALL,
            _("Tous les statuts"),
            count(0, lambda row: True),
            filters.status == STATUS_ALL,
        )
    )
    for topic in topics:
        facets.topic.append(
            FacetOption(
                str(topic.pk),
                f"{topic.title} ({topic.service.name})",
                count(1, lambda row, pk=topic.pk: row[1] == pk),
                str(topic.pk) == selected_topic,
            )
        )
    for value, label in Channel.choices:
        facets.channel.append(
            FacetOption(
                value,
                str(label),
                count(2, lambda row, v=value: row[2] == v),
                filters.channel == value,
            )
        )
    for value, label in Case.Kind.choices:
        facets.kind.append(
            FacetOption(
                value,
                str(label),
                count(3, lambda row, v=value: row[3] == v),
                filters.kind == value,
            )
        )
    for key, (label, _low, _high) in AGE_BUCKETS.items():
        facets.age.append(
            FacetOption(
                key, str(label), count(4, lambda row, k=key: row[4] == k), filters.age == key
            )
        )
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


def _receiving_side(agent_id: int, service_ids) -> Q:
    """Transfers the agent's side receives: to the agent by name, or to one of ``service_ids``
    (a list, or a subquery of service ids)."""
    return Q(to_agent_id=agent_id) | Q(to_service_id__in=service_ids)


def accept_transfers(case: Case, agent: User, *, at=None) -> int:
    """Mark the case's pending transfers as accepted once someone of the receiving side owns it.

    Accepted when ``agent`` works for the service the case was transferred to, or is the agent
    it was transferred to by name. A conditional update: safe to call twice. Returns the count.
    """
    if agent is None:
        return 0
    return (
        Transfer.objects.filter(case_id=case.pk, accepted_at__isnull=True)
        .filter(_receiving_side(agent.pk, user_service_ids(agent)))
        .update(accepted_at=at or timezone.now())
    )


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


def on_case_assigned(sender, case_id, agent_id, **kwargs) -> None:
    """Receiver for ``contactcenter.signals.case_assigned``: automatic routing of a transferred
    case to an agent of the receiving service also accepts the transfer.

    Routing's hot path sends this after every assignment, nearly always for a case without a
    pending transfer: one statement, the agent's services read in it as a subquery (routing
    only gives cases to agents, whose services are those of their profile). None at all when
    routing says the case has no pending transfer (``pending_transfer=False``)."""
    if agent_id is None or kwargs.get("pending_transfer") is False:
        return
    services = AgentProfile.services.through.objects.filter(agentprofile__user_id=agent_id)
    Transfer.objects.filter(case_id=case_id, accepted_at__isnull=True).filter(
        _receiving_side(agent_id, services.values("service_id"))
    ).update(accepted_at=timezone.now())


def assignable_agents(case: Case) -> QuerySet[User]:
    """Agents a supervisor may pick for a case: active agents of the case's service."""
    return (
        User.objects.filter(
            is_active=True,
            role=User.Role.AGENT,
            agent_profile__services=case.service_id,
        )
        .order_by("last_name", "first_name", "id")
        .distinct()
    )


def sla_states(cases) -> dict[int, str]:
    """SLA state ("ok" / "at_risk" / "breached") of each case, from routing."""
    from routing import sla_state

    return {case.pk: sla_state(case) for case in cases}


# --- case view helpers ---------------------------------------------------------------------------


def pending_transfer(case: Case) -> Transfer | None:
    """The latest transfer of the case still waiting for the receiving side, if any."""
    return (
        Transfer.objects.filter(case=case, accepted_at__isnull=True)
        .select_related("from_service", "to_service", "created_by", "to_agent")
        .order_by("-created_at", "-id")
        .first()
    )


def timeline(case: Case) -> QuerySet[Event]:
    """Every event of the case, internal ones included, oldest first (the agent's view)."""
    return (
        Event.objects.filter(case=case)
        .select_related("actor")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )


@transaction.atomic
def change_classification(case: Case, actor: User, *, topic: Topic, kind: str) -> Event | None:
    """Correct the topic and/or kind of a case (within its service; to change service, transfer).

    One transaction with the case row locked. Writes an internal timeline event; no-op (None)
    when nothing changes.
    """
    if not can_act_on_case(actor, case):
        raise ValidationError(_("Vous n'êtes pas habilité à traiter cette demande."))
    errors: dict[str, list[str]] = {}
    fresh = Case.objects.select_for_update().select_related("topic").get(pk=case.pk)
    if topic is None or not topic.is_active:
        errors["topic"] = [_("Choisissez un des thèmes proposés.")]
    elif topic.service_id != fresh.service_id:
        errors["topic"] = [
            _(
                "Le thème « %(topic)s » relève d'un autre service (%(service)s) : "
                "transférez la demande à ce service."
            )
            % {"topic": topic.title, "service": topic.service.name}
        ]
    if kind not in Case.Kind.values:
        errors["kind"] = [_("Choisissez la nature de la demande.")]
    if errors:
        raise ValidationError(errors)
    changes: dict = {}
    if topic.pk != fresh.topic_id:
        changes["topic"] = {"from": fresh.topic.title, "to": topic.title}
    if kind != fresh.kind:
        changes["kind"] = {
            "from": str(Case.Kind(fresh.kind).label),
            "to": str(Case.Kind(kind).label),
        }
    if not changes:
        return None
    Case.objects.filter(pk=case.pk).update(topic=topic, kind=kind)
    case.topic, case.kind = topic, kind
    return add_event(
        case,
        Event.Type.STATUS,
        actor=actor,
        internal=True,
        payload={"classification": changes},
        touch=False,
    )


# --- transfer (liaison interservices) -------------------------------------------------------------

REASON_MAX_CHARS = 2000


def transfer_case(
    case: Case,
    *,
    to_service: Service,
    reason: str,
    by: User,
    to_agent: User | None = None,
    to_topic: Topic | None = None,
) -> Transfer:
    """Hand a case over to the competent service, with a reason the receiving service reads.

    The case keeps its whole history; it moves to the new service's queue (assignment reset,
    routing requested after commit). The citizen's timeline says only which service now handles
    the request; the internal reason stays on the Transfer row and in the event's payload.
    ``to_topic`` (a topic of ``to_service``) reclassifies the case; by default the case keeps its
    topic if it belongs to the new service, else takes the new service's first active topic.

    One transaction with the case row locked (``select_for_update``), so two concurrent transfers
    cannot both move the case.
    """
    errors: dict[str, list[str]] = {}
    try:
        reason = validate_body(reason, max_chars=REASON_MAX_CHARS)
    except ValidationError:
        errors["reason"] = [
            _("Indiquez le motif du transfert (%(max)s caractères au maximum).")
            % {"max": REASON_MAX_CHARS}
        ]
    if to_service is None:
        errors["to_service"] = [_("Choisissez le service destinataire.")]
    elif not to_service.is_active:
        errors["to_service"] = [
            _("Le service « %(service)s » n'est plus actif : choisissez un autre service.")
            % {"service": to_service.name}
        ]
    if (
        to_service is not None
        and to_topic is not None
        and (to_topic.service_id != to_service.pk or not to_topic.is_active)
    ):
        errors["to_topic"] = [
            _("Le thème « %(topic)s » ne relève pas du service « %(service)s ».")
            % {"topic": to_topic.title, "service": to_service.name}
        ]
    if to_service is not None and to_agent is not None:
        in_service = (
            to_agent.is_active
            and to_agent.is_staff_member
            and Service.objects.filter(pk=to_service.pk, agents__user=to_agent).exists()
        )
        if not in_service:
            errors["to_agent"] = [
                _("%(agent)s ne fait pas partie du service « %(service)s ».")
                % {"agent": to_agent.display_name, "service": to_service.name}
            ]
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        fresh = Case.objects.select_for_update().select_related("service", "topic").get(pk=case.pk)
        if not can_act_on_case(by, fresh):
            raise ValidationError(_("Vous n'êtes pas habilité à traiter cette demande."))
        if fresh.service_id == to_service.pk:
            raise ValidationError(
                {
                    "to_service": [
                        _("La demande est déjà traitée par le service « %(service)s ».")
                        % {"service": to_service.name}
                    ]
                }
            )
        if fresh.status == Case.Status.CLOSED:
            raise ValidationError(
                _("Une demande clôturée ne peut pas être transférée : rouvrez-la d'abord."),
                code="closed",
            )
        topic = to_topic
        if topic is None:
            topic = (
                fresh.topic
                if fresh.topic.service_id == to_service.pk
                else to_service.topics.filter(is_active=True).order_by("position", "id").first()
                or fresh.topic
            )
        now = timezone.now()
        transfer = Transfer.objects.create(
            case=fresh,
            from_service=fresh.service,
            to_service=to_service,
            to_agent=to_agent,
            reason=reason,
            created_by=by,
            created_at=now,
        )
        # A transferred case starts again in the new service's queue (routing queues "new"
        # unowned cases), whatever it was waiting for: the receiving service decides.
        new_status = Case.Status.NEW
        Case.objects.filter(pk=fresh.pk).update(
            service=to_service,
            topic=topic,
            status=new_status,
            assigned_to=None,
            assigned_at=None,
            last_activity_at=now,
        )
        old_status = fresh.status
        for attr, value in (
            ("service", to_service),
            ("topic", topic),
            ("status", new_status),
            ("assigned_to", None),
            ("assigned_at", None),
            ("last_activity_at", now),
        ):
            setattr(case, attr, value)
        with translation.override(settings.LANGUAGE_CODE):
            citizen_text = _("Votre demande a été transmise au service %(service)s.") % {
                "service": to_service.name
            }
        add_event(
            case,
            Event.Type.TRANSFER,
            actor=by,
            body=citizen_text,
            payload={
                "transfer": transfer.pk,
                "from_service": fresh.service_id,
                "from_service_name": fresh.service.name,
                "to_service": to_service.pk,
                "to_service_name": to_service.name,
                "to_agent": to_agent.pk if to_agent else None,
                "from_topic": fresh.topic.title,
                "to_topic": topic.title,
                "from_status": old_status,
                "to_status": new_status,
                # Internal: the receiving service's context, never rendered for the citizen.
                "reason": reason,
            },
            at=now,
            # Signed by the service that hands the case over; what follows by the new one.
            service=fresh.service,
        )
        request_routing(case)
    return transfer


def transfer_targets(case: Case) -> QuerySet[Service]:
    """Services a case can be transferred to: every active service but its own."""
    return Service.objects.filter(is_active=True).exclude(pk=case.service_id).order_by("name")


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


def citizen_or_none(citizen_id) -> User | None:
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


# --- synthesis sheet -----------------------------------------------------------------------------

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


# --- how events read on the agent's timeline -----------------------------------------------------


# Translated labels per (choices class, language): translating every lazy choice label again on
# each request was a measurable part of building a page. The dicts are shared: read-only.
_LABELS: dict[tuple, dict[str, str]] = {}


def _per_language(name, build):
    """``build()`` once per (name, active language), then the same read-only value."""
    key = (name, translation.get_language())
    value = _LABELS.get(key)
    if value is None:
        value = _LABELS[key] = build()
    return value


def choice_labels(choices_class) -> dict[str, str]:
    """``value -> label`` of a Choices class in the active language (cached, read-only)."""
    return _per_language(
        choices_class, lambda: {value: str(label) for value, label in choices_class.choices}
    )


def label_events(events):
    """Give each event ``type_label`` and ``channel_label``: translated once per language, where
    ``get_FOO_display`` would hash every lazy choice label of the field for every row."""
    types, channels = choice_labels(Event.Type), choice_labels(Channel)
    for event in events:
        event.type_label = types.get(event.type, event.type)
        event.channel_label = channels.get(event.channel, event.channel)
    return events


def present_cases(cases, user: User):
    """Prepare work-list rows: labels, links and the row's action (take, release or open).

    Done once per page in Python (URL prefixes, one translation of each label) rather than per
    row in the template.
    """
    label_cases(cases)
    base = reverse("console:case", args=["0"])[:-2]
    for case in cases:
        case.url = f"{base}{case.reference}/"
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

    def build():
        labels = dict(choice_labels(Case.Status))
        labels[Case.Status.WAITING_CITIZEN] = _("En attente de l'usager")
        return labels

    return _per_language("agent-statuses", build)


def label_cases(cases):
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
        agent = (people or {}).get(payload.get("agent")) if payload.get("agent") else None
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
        text = _("Statut : %(from)s → %(to)s") % {
            "from": labels.get(payload.get("from"), payload.get("from", "?")),
            "to": labels.get(payload.get("to"), payload.get("to", "?")),
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
