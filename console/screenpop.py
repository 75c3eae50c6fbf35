"""Screen-pop: open an item in an agent's workstation from any channel.

A channel that gives an agent a live contact (chat and callbacks now; phone, e-mail and visio
later) sends the core signal ``contactcenter.signals.screen_pop(case_id, agent_id, focus)``
(channels never import the console), which calls ``open_item(agent_id, case)``; routing's
assignments of live channels (``POP_CHANNELS``) pop by themselves, their item carried by
routing's one message of the pass (``on_case_assigned``). After the commit, the
agent's consoles receive a ``workstation.open`` frame on their presence socket
(``ws/presence/``, group ``agent-<id>``) carrying the item (``reference``, ``kind``, ``url``,
``title``, ``citizen_url``); the workstation opens it in a tab, brings it to the front unless the
agent is typing, and fills the citizen panel. A page that is not the workstation ignores the frame.

The frame only names the item: the workstation then loads the tab and the panel through their
partials, which check the agent's access and audit the opening like any other.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

import routing
from contactcenter.models import Case, Channel
from voice import queueing as voice_calls

from . import workstation

# Channels whose assignment pops the item on the agent's screen.
POP_CHANNELS = ("chat", "callback", "phone")
MESSAGE_TYPE = "workstation.open"


def item_payload(case: Case) -> dict[str, Any]:
    """What the browser needs to open a tab for ``case`` (see ``workstation.present_items``)."""
    item = workstation.present_items([case], unread=False)[0]
    citizen = case.citizen
    payload: dict[str, Any] = {
        "reference": case.reference,
        "kind": item.kind,
        "url": item.url,
        "title": citizen.display_name if citizen else case.reference,
        "channel": case.channel,
        "citizen_url": workstation.citizen_url(case),
    }
    if case.channel == Channel.PHONE:
        call = voice_calls.call_in_progress(case.pk)
        if call is not None:
            # The call ringing the agent's phone: its menu path and self-service done.
            payload["call"] = call
    return payload


def open_item(
    agent_id: int,
    case: Case | int,
    *,
    focus: bool = True,
    appointment: dict[str, Any] | None = None,
) -> None:
    """Open ``case`` in the workstation of agent ``agent_id`` (after the current transaction
    commits; at once outside one). ``focus``: bring the tab to the front. ``appointment``: the
    context of the appointment the file is opened for (``appointments.panel.context``), sent
    with the item and announced by the workstation.

    The item is read now (one or two queries); a failure to publish is logged by
    ``routing.group_send``, never raised (the contact is assigned whatever the screen shows).
    """
    if isinstance(case, int):
        case = Case.objects.select_related("citizen").get(pk=case)
    item = {**item_payload(case), "focus": focus}
    if appointment:
        item["appointment"] = appointment
    message = {"type": MESSAGE_TYPE, "item": item}
    group = routing.agent_group(agent_id)
    transaction.on_commit(lambda: routing.group_send(group, message))


def on_case_assigned(
    sender, *, case_id: int, agent_id: int, **kwargs: Any
) -> dict[str, Any] | None:
    """Receiver of ``contactcenter.signals.case_assigned``: pop chats, callbacks and calls (a
    sender that does not say the channel pops nothing). The item rides on routing's message of
    the pass (``{"pop": item}`` in the case's notice; the presence socket sends it as a
    ``workstation.open`` frame): no publish of its own per assignment."""
    if kwargs.get("channel") not in POP_CHANNELS:
        return None
    case = Case.objects.select_related("citizen").filter(pk=case_id).first()
    if case is None:
        return None
    return {"pop": {**item_payload(case), "focus": True}}


def on_screen_pop(
    sender,
    *,
    case_id: int,
    agent_id: int,
    focus: bool = True,
    appointment: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Receiver of ``contactcenter.signals.screen_pop`` (a channel rings an agent, or an
    appointment is about to start)."""
    open_item(agent_id, case_id, focus=focus, appointment=appointment)
