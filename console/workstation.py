"""Agent workstation ("poste de travail"): what the one-screen console reads.

Everything here is a read for one agent, bounded and indexed: the items assigned to them across
channels (newest activity first, with unread counts and SLA states), the service queues, the load
per channel group shown next to the presence selector, and the citizen panel of an open item. The
views (``console.workstation_views``) check permissions and render; actions go through the
services the full-page console already calls.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from heapq import merge
from itertools import islice

from django.db.models import Count, F, Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

import routing
from chat.models import ChatMessage, Conversation
from contactcenter.models import Case, Event, User

from . import worklist
from .synthesis import ContactRow, Synthesis, contact_page, synthesis

# Latest contacts shown in the citizen panel (the full sheet pages through all of them).
PANEL_CONTACTS = 8
# How many items each list shows: an agent holds at most their capacities (15 web messages, a
# few chats and calls) plus what was transferred to them; more belongs to the full work list.
ITEMS_LIMIT = 50
QUEUE_LIMIT = 30
# Statuses an item of "my work" may have: everything but closed (an answered case stays until
# the citizen rates or the agent closes it; an ended chat waits for its summary).
MY_STATUSES = worklist.ACTIVE_STATUSES
# Live channels are opened as a chat panel; the others as a case tab.
LIVE_CHANNELS = ("chat",)


@dataclass
class Load:
    """One entry of the load line next to the presence selector ("Tchat 1/2")."""

    group: str
    label: str
    load: int
    capacity: int | None  # None: shown without capacity ("Messages 3")


@dataclass
class Item:
    """One row of the work list: a case, whatever its channel, ready to open in a tab."""

    case: Case
    kind: str  # "chat" or "case"
    url: str  # the tab's content (chat panel or case partial)
    unread: int = 0
    sla: str = "ok"
    conversation_id: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


def agent_load(agent: User) -> list[Load]:
    """The agent's active load per channel group with their capacities (two queries)."""
    presence = routing.get_presence(agent)
    loads = routing.agent_loads(agent.pk)
    return [
        Load("chat", _("Tchat"), loads.get("chat", 0), presence.capacity_for("chat")),
        Load("phone", _("Téléphone"), loads.get("phone", 0), presence.capacity_for("phone")),
        Load("web", _("Messages"), loads.get("web", 0), None),
    ]


def _case_rows(cases: QuerySet[Case]) -> QuerySet[Case]:
    return cases.select_related("citizen", "topic").only(
        "reference",
        "subject",
        "status",
        "kind",
        "channel",
        "fragile",
        "sla_deadline",
        "sla_breached",
        "first_response_at",
        "priority",
        "last_activity_at",
        "created_at",
        "service_id",
        "assigned_to_id",
        "citizen__first_name",
        "citizen__last_name",
        "citizen__email",
        "topic__title",
    )


def my_items(agent: User, *, limit: int = ITEMS_LIMIT) -> list[Item]:
    """Everything assigned to ``agent`` across channels, newest activity first (at most
    ``limit``), with unread counts and SLA states. Four queries at most."""
    scope = worklist.view_scope(agent, worklist.VIEW_MINE).filter(status__in=MY_STATUSES)
    cases = list(_case_rows(scope).order_by(F("last_activity_at").desc(), F("pk").desc())[:limit])
    return present_items(cases)


def queue_items(agent: User, *, limit: int = QUEUE_LIMIT) -> list[Item]:
    """The queues of the agent's services (new cases nobody owns) in routing's queue order.

    Two reads merged in Python: the few cases ahead of the queue (head priority, fragility),
    and the ordinary ones by deadline then arrival, which the ``case_service_queue`` index
    (service, status, deadline) serves without sorting the whole backlog."""
    scope = worklist.view_scope(agent, worklist.VIEW_QUEUE)
    ordinary = Q(priority=0, fragile=False)
    ahead = list(_case_rows(scope.exclude(ordinary)).order_by(*routing.QUEUE_ORDER)[:limit])
    rest = list(_case_rows(scope.filter(ordinary)).order_by(*routing.QUEUE_ORDER[2:])[:limit])
    cases = list(islice(merge(ahead, rest, key=_queue_key), limit))
    return present_items(cases, unread=False)


def _queue_key(case: Case) -> tuple:
    """QUEUE_ORDER as a sort key (deadlines last when missing)."""
    deadline = case.sla_deadline
    return (
        -case.priority,
        -int(case.fragile),
        deadline is None,
        deadline or case.created_at,
        case.created_at,
        case.pk,
    )


def present_items(cases: Sequence[Case], *, unread: bool = True) -> list[Item]:
    """Work-list rows for ``cases``: labels, the URL of their tab, SLA states and unread counts."""
    worklist.label_cases(list(cases))
    sla = worklist.sla_states(cases)
    live = [c.pk for c in cases if c.channel in LIVE_CHANNELS]
    conversations: dict[int, tuple[int, int]] = {}
    if live:
        # One grouped query: each live case's conversation and, when asked, the citizen's
        # messages past the agent's read mark.
        rows = Conversation.objects.filter(case_id__in=live).order_by()
        if unread:
            counted = rows.annotate(
                n=Count(
                    "messages",
                    filter=Q(
                        messages__kind=ChatMessage.Kind.CITIZEN,
                        messages__seq__gt=F("agent_read_seq"),
                    ),
                )
            ).values_list("pk", "case_id", "n")
            conversations = {case_id: (pk, n) for pk, case_id, n in counted}
        else:
            conversations = {case_id: (pk, 0) for pk, case_id in rows.values_list("pk", "case_id")}
    written = [c for c in cases if c.pk not in conversations]
    unread_cases = unread_messages(written) if unread and written else {}
    item_base = reverse("console:ws_item", args=["0"])[:-2]
    panel_base = reverse("chat:panel", args=[0])[: -len("0/panneau/")]
    items = []
    for case in cases:
        if case.pk in conversations:
            pk, count = conversations[case.pk]
            items.append(
                Item(
                    case,
                    "chat",
                    f"{panel_base}{pk}/panneau/",
                    unread=count if unread else 0,
                    sla=sla.get(case.pk, "ok"),
                    conversation_id=pk,
                )
            )
        else:
            items.append(
                Item(
                    case,
                    "case",
                    f"{item_base}{case.reference}/",
                    unread=unread_cases.get(case.pk, 0),
                    sla=sla.get(case.pk, "ok"),
                )
            )
    return items


def unread_messages(cases: Iterable[Case]) -> dict[int, int]:
    """Citizen messages not answered yet per case: the citizen's messages after the last
    message, request for details or note written by staff (one query over the cases'
    written exchanges, newest first; the ``event_case_time`` index serves it)."""
    ids = [case.pk for case in cases]
    rows = (
        Event.objects.filter(
            case_id__in=ids, type__in=(Event.Type.MESSAGE, Event.Type.REQUEST_INFO, Event.Type.NOTE)
        )
        .order_by("case_id", F("created_at").desc(), F("pk").desc())
        .values_list("case_id", "actor_id", "citizen_id")
    )
    counts: dict[int, int] = defaultdict(int)
    answered: set[int] = set()
    for case_id, actor_id, citizen_id in rows:
        if case_id in answered:
            continue
        if actor_id is not None and actor_id == citizen_id:
            counts[case_id] += 1
        else:
            answered.add(case_id)
    return dict(counts)


@dataclass
class CitizenPanel:
    """The right-hand panel of an open item: the synthesis sheet of its citizen (only the
    cases the agent may see) and the item's case."""

    case: Case
    sheet: Synthesis
    contacts: list[ContactRow] = field(default_factory=list)


def citizen_panel(agent: User, case: Case) -> CitizenPanel:
    """Identity, contact preferences, open requests, contacts per channel, the latest contacts
    on every channel and satisfaction history, from the synthesis sheet."""
    sheet = synthesis(agent, case.citizen)
    page = contact_page(case.citizen, sheet.visible_cases, cursor=None, size=PANEL_CONTACTS)
    return CitizenPanel(case=case, sheet=sheet, contacts=page.events)


def citizen_url(case: Case) -> str:
    """The citizen panel partial of an item."""
    return reverse("console:ws_citizen", args=[case.reference])
