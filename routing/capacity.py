"""Channel groups, agents' load and capacity: what every other routing module counts with.

Capacity is counted per group of channels (live conversations, voice, written messages); only
active assignments (status ``assigned`` or ``in_progress``) take a slot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Count, Exists, F, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy

from contactcenter.models import Case, Channel, User

from .models import AgentPresence

if TYPE_CHECKING:
    from typing import TypedDict

    from django_stubs_ext import WithAnnotations

    class _Room(TypedDict):
        free: int  # capacity minus active load (with_room)


CHANNEL_GROUPS: dict[str, tuple[str, ...]] = {
    "chat": (Channel.CHAT, Channel.CHATBOT, Channel.COBROWSE),
    "phone": (Channel.PHONE, Channel.CALLBACK, Channel.COUNTER),
    "web": (Channel.WEB, Channel.EMAIL, Channel.LETTER),
}
GROUP_OF: dict[str, str] = {ch: group for group, chans in CHANNEL_GROUPS.items() for ch in chans}
# Chat and callbacks before written messages.
GROUP_ORDER = ("chat", "phone", "web")
GROUP_LABELS = {
    "chat": gettext_lazy("Tchat"),
    "phone": gettext_lazy("Téléphone et rappels"),
    "web": gettext_lazy("Messagerie"),
}
# Only these statuses take a slot: a case waiting on the citizen, answered or closed does not.
ACTIVE_STATUSES = (Case.Status.ASSIGNED, Case.Status.IN_PROGRESS)
# An agent holding an active case of these channels is on the phone (a call put through by the
# voice server, a callback): not free for chat, whatever their free chat slots.
ON_CALL_CHANNELS = (Channel.PHONE, Channel.CALLBACK)
# Case.priority given to a contact that goes back to the head of its queue.
HEAD_PRIORITY = 100


def channel_group(channel: str) -> str:
    return GROUP_OF.get(channel, "web")


def agent_group(agent_id: int) -> str:
    """Channel-layer group of one agent's open consoles."""
    return f"agent-{agent_id}"


def active_load(agent: OuterRef | int, group: str) -> Coalesce:
    """The active load of an agent (an id, or ``OuterRef`` to the agent's id in the outer
    query) on a channel group, as a subquery: one ``COUNT(*)`` over the agent's cases."""
    count = (
        Case.objects.filter(
            # An OuterRef (resolved in the outer query) is valid here; the plugin only knows ids.
            assigned_to_id=agent,  # type: ignore[misc]
            status__in=ACTIVE_STATUSES,
            channel__in=CHANNEL_GROUPS[group],
        )
        .order_by()
        .values("assigned_to_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(count, output_field=IntegerField()), 0)


def on_call(agent: OuterRef | int) -> Exists:
    """Whether an agent (an id, or ``OuterRef`` to it) is on the phone (``ON_CALL_CHANNELS``)."""
    return Exists(
        Case.objects.filter(
            assigned_to_id=agent,  # type: ignore[misc]
            status__in=ACTIVE_STATUSES,
            channel__in=ON_CALL_CHANNELS,
        )
    )


def available_agents() -> QuerySet[AgentPresence]:
    """Presence rows of agents who are available now (active accounts with the agent role)."""
    return AgentPresence.objects.filter(
        status=AgentPresence.Status.AVAILABLE, user__role=User.Role.AGENT, user__is_active=True
    )


def with_room(
    presences: QuerySet[AgentPresence], group: str
) -> QuerySet[WithAnnotations[AgentPresence, _Room]]:
    """``presences`` (a queryset of ``AgentPresence``) narrowed to those with a free slot on
    ``group``, annotated with ``free`` (capacity minus active load). An agent on the phone
    has no room for chat."""
    rows = presences.annotate(
        free=F(f"capacity_{group}") - active_load(OuterRef("user_id"), group)
    ).filter(free__gt=0)
    if group == "chat":
        rows = rows.filter(~on_call(OuterRef("user_id")))
    return rows


def agent_loads(agent_id: int) -> dict[str, int]:
    """Active load of an agent per channel group."""
    loads = dict.fromkeys(CHANNEL_GROUPS, 0)
    rows = (
        Case.objects.filter(assigned_to_id=agent_id, status__in=ACTIVE_STATUSES)
        .values_list("channel")
        .annotate(n=Count("id"))
    )
    for channel, n in rows:
        loads[channel_group(channel)] += n
    return loads


def get_presence(agent: User | int) -> AgentPresence:
    """The agent's presence row, created (offline, default capacities) on first use."""
    agent_id = agent if isinstance(agent, int) else agent.pk
    presence, _created = AgentPresence.objects.get_or_create(user_id=agent_id)
    return presence


def free_capacity(agent_id: int, channel: str) -> int:
    """Free slots of an agent for a channel (capacity minus active load, never negative).

    Pure capacity: the agent's status is not taken into account.
    """
    group = channel_group(channel)
    if group == "chat" and is_on_call(agent_id):
        return 0
    presence = AgentPresence.objects.filter(pk=agent_id).first()
    capacity = presence.capacity_for(group) if presence else AgentPresence().capacity_for(group)
    load = Case.objects.filter(
        assigned_to_id=agent_id, status__in=ACTIVE_STATUSES, channel__in=CHANNEL_GROUPS[group]
    ).count()
    return max(capacity - load, 0)


def is_on_call(agent_id: int) -> bool:
    return Case.objects.filter(
        assigned_to_id=agent_id, status__in=ACTIVE_STATUSES, channel__in=ON_CALL_CHANNELS
    ).exists()


def lock_presence(agent_id: int) -> AgentPresence:
    """Lock (creating if needed) an agent's presence row until the transaction ends."""
    AgentPresence.objects.get_or_create(user_id=agent_id)
    return AgentPresence.objects.select_for_update().get(pk=agent_id)
