"""Who may see what. Every view, API endpoint and consumer goes through these functions.

- a citizen sees only their own cases;
- an agent sees cases of their services, plus cases transferred to them while pending;
- a supervisor sees cases of the services they supervise;
- an admin sees everything.
Anything else is a 404, never a 403, so that existence is not disclosed.
"""

from dataclasses import dataclass
from functools import cached_property

from django.db.models import F, IntegerField, Q, QuerySet, Value
from django.http import Http404

from .exceptions import NotFound
from .models import AuditLog, Case, Service, Transfer, User


class ServicePrincipal:
    """Who an API client's token authenticates: an information system, not a person. It sees
    the cases of its services (``case_scope`` treats it like staff without pending transfers),
    and its reads are audited under its technical ``account``, with the client named in the
    audit detail. ``scopes`` are the token's scopes (``contactcenter.api.ClientScopes``)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_citizen = False
    is_agent = False
    is_admin_role = False
    is_superuser = False
    is_staff_member = True

    def __init__(
        self, *, client_id: str, account: User, service_ids, scopes, client: object = None
    ) -> None:
        self.client_id = client_id
        self.client = client  # the accounts.ApiClient row the token belongs to, when known
        self.account = account
        self.pk = account.pk
        self._service_ids = service_ids
        self.scopes = frozenset(scopes)

    @cached_property
    def service_ids(self) -> tuple[int, ...]:
        """The client's services, read on first use (a push naming its démarche needs none)."""
        return tuple(self._service_ids)

    def __str__(self) -> str:
        return f"api:{self.client_id}"


def user_services(user) -> QuerySet[Service]:
    if isinstance(user, ServicePrincipal):
        return Service.objects.filter(pk__in=user.service_ids)
    if not user.is_authenticated or user.is_citizen:
        return Service.objects.none()
    if user.is_admin_role:
        return Service.objects.all()
    return Service.objects.filter(agents__user=user)


def user_service_ids(user: User) -> list[int]:
    cached = getattr(user, "_guichet_service_ids", None)
    if cached is None:
        cached = list(user_services(user).values_list("id", flat=True))
        user._guichet_service_ids = cached
    return cached


def _pending_transfers(user: User):
    """Cases transferred to this agent by name, not accepted yet."""
    return Transfer.objects.filter(to_agent=user, accepted_at__isnull=True).order_by()


def _agent_scope(user: User) -> tuple[list[int], list[int]]:
    """An agent's service ids (as ``user_service_ids``, cached on the user) and the cases
    transferred to them and still pending (never cached: a transfer is accepted at any time).

    When the service ids are not cached yet, both come from one query (one round trip less
    on every page of the console)."""
    if getattr(user, "_guichet_service_ids", None) is not None:
        return user._guichet_service_ids, list(
            _pending_transfers(user).values_list("case_id", flat=True)
        )
    integer: IntegerField[int, int] = IntegerField()
    services = (
        user_services(user)
        .order_by()
        .annotate(part=Value(0, output_field=integer), ref=F("id"), sort=F("name"))
        .values_list("part", "ref", "sort")
    )
    pending = (
        _pending_transfers(user)
        .annotate(part=Value(1, output_field=integer), ref=F("case_id"), sort=Value(""))
        .values_list("part", "ref", "sort")
    )
    rows = list(services.union(pending, all=True))
    # user_services' order (the service's name, then id), as the cached list always had.
    services_rows = sorted((row for row in rows if row[0] == 0), key=lambda row: (row[2], row[1]))
    service_ids = [ref for _part, ref, _sort in services_rows]
    user._guichet_service_ids = service_ids
    return service_ids, [ref for part, ref, _sort in rows if part == 1]


@dataclass(frozen=True, slots=True)
class CaseScope:
    """Which cases a user may see, as data: every case, one citizen's, or those of some
    services plus some cases by id (an agent's pending transfers). ``q`` reads it as a filter
    for ``visible_cases``; the rule is written once, in ``case_scope``."""

    everything: bool = False
    citizen_id: int | None = None
    service_ids: tuple[int, ...] = ()
    case_ids: tuple[int, ...] = ()

    @property
    def nothing(self) -> bool:
        return (
            not self.everything
            and self.citizen_id is None
            and not (self.service_ids or self.case_ids)
        )

    def q(self) -> Q:
        if self.everything:
            return Q()
        if self.citizen_id is not None:
            return Q(citizen_id=self.citizen_id)
        scope = Q(service_id__in=self.service_ids)
        if self.case_ids:
            scope |= Q(pk__in=self.case_ids)
        return scope


def case_scope(user: User) -> CaseScope:
    """The cases ``user`` may see (see the module docstring)."""
    if not user.is_authenticated:
        return CaseScope()
    if user.is_admin_role:
        return CaseScope(everything=True)
    if user.is_citizen:
        return CaseScope(citizen_id=user.pk)
    if not user.is_agent:
        return CaseScope(service_ids=tuple(user_service_ids(user)))
    service_ids, pending = _agent_scope(user)
    return CaseScope(service_ids=tuple(service_ids), case_ids=tuple(pending))


def visible_cases(user: User) -> QuerySet[Case]:
    scope = case_scope(user)
    if scope.nothing:
        return Case.objects.none()
    if scope.everything:
        return Case.objects.all()
    # Pending transfers to a named agent are few: a literal id list keeps the planner on the
    # service indexes (an OR with a subquery made PostgreSQL scan and sort).
    return Case.objects.filter(scope.q())


def get_visible_case(user: User, **lookup) -> Case:
    """The case matching ``lookup`` among those ``user`` may see; ``NotFound`` otherwise
    (existence is not disclosed). For services; views and the API use ``get_case_or_404``."""
    try:
        return visible_cases(user).select_related("topic", "service", "citizen").get(**lookup)
    except (Case.DoesNotExist, ValueError, TypeError):
        raise NotFound("Demande introuvable") from None


def get_case_or_404(user: User, **lookup) -> Case:
    """``get_visible_case`` for a request: the case, or the 404 page."""
    try:
        return get_visible_case(user, **lookup)
    except NotFound as exc:
        raise Http404(exc.message) from None


def can_see_case(user: User, case: Case) -> bool:
    return visible_cases(user).filter(pk=case.pk).exists()


def can_act_on_case(user: User, case: Case) -> bool:
    """Agents and supervisors of the case's service (or its pending transferee) may act on it."""
    return user.is_staff_member and can_see_case(user, case)


def is_staff_member(user: User) -> bool:
    return user.is_authenticated and user.is_staff_member


def record_access(
    actor: User,
    action: str,
    *,
    case: Case | None = None,
    citizen: User | None = None,
    reason: str = "",
    detail: dict | None = None,
) -> AuditLog | None:
    """Write an audit record when staff read a citizen's file. Citizens reading their own: none."""
    if not actor.is_staff_member:
        return None
    citizen = citizen or (case.citizen if case else None)
    service_ids = user_service_ids(actor)
    actor_service_id = None
    if case is not None and case.service_id in service_ids:
        actor_service_id = case.service_id
    elif service_ids:
        actor_service_id = service_ids[0]
    if isinstance(actor, ServicePrincipal):
        detail = {**(detail or {}), "api_client": actor.client_id}
        actor = actor.account
    return AuditLog.objects.create(
        actor=actor,
        actor_service_id=actor_service_id,
        citizen=citizen,
        case=case,
        action=action,
        reason=reason[:300],
        detail=detail or {},
    )
