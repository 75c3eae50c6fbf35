"""Hold and transfer of a call that an agent answered (docs/voice.md, "Hold and transfer").

The agent's workstation and the voice server's call thread meet in the database:

- **Hold**: the workstation sets ``Call.on_hold`` (``set_hold``); the call's thread, which looks
  at the call every half second while the caller talks with the agent (``bridged_state``),
  stops relaying the audio and plays the hold message then the hold music to the caller until
  the flag is cleared.
- **Transfer** (blind): the agent transfers the case with the workstation's usual "Transférer"
  (``contactcenter.cases.transfer_case``: the same case, its history kept, in the other
  service's queue) or releases it. The call's thread sees that the case left the agent, hangs
  up the agent's phone, puts the call back in the queue (``requeue``) and waits for the next
  agent, whose phone rings while their workstation pops the case."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.models import Case, Channel, Event, User
from contactcenter.services import add_event

from .models import Call

TALK = "talk"
HOLD = "hold"
GONE = "gone"  # the case left the agent (transfer, release): the caller is queued again


def agent_call(case: Case, agent: User) -> Call | None:
    """The call of ``case`` now bridged to ``agent``'s phone, if any (what the hold button
    acts on)."""
    if case.channel != Channel.PHONE or case.assigned_to_id != agent.pk:
        return None
    return (
        Call.objects.filter(
            case_id=case.pk, agent_id=agent.pk, answered_at__isnull=False, ended_at__isnull=True
        )
        .order_by("-pk")
        .first()
    )


def summary_allowed(case: Case, agent: User) -> bool:
    """Whether ``agent`` may write the summary of a call of ``case`` to the citizen: they
    answered a call of this open phone case."""
    return (
        case.channel == Channel.PHONE
        and case.status != Case.Status.CLOSED
        and case.citizen_id is not None
        and Call.objects.filter(
            case_id=case.pk, agent_id=agent.pk, answered_at__isnull=False
        ).exists()
    )


def summary_contact(case: Case, agent: User) -> Event | None:
    """The contact a call summary follows: the timeline event of the last call of ``case``
    that ``agent`` answered and that has ended (``services.write_call_event``: payload
    ``call`` with ``agent`` and ``talk``), or None while that call is still up."""
    return (
        Event.objects.filter(
            case_id=case.pk,
            type=Event.Type.CALL,
            payload__has_keys=["call", "talk"],
            payload__agent=agent.pk,
        )
        .order_by("-created_at", "-id")
        .first()
    )


def set_hold(call: Call, hold: bool) -> None:
    """Ask the voice server to put the call on hold (or take it back). Idempotent: a second
    hold keeps the time the first one started (``held_since``, shown in the live view)."""
    live = Call.objects.filter(pk=call.pk, ended_at__isnull=True)
    if hold:
        live.filter(held_since__isnull=True).update(held_since=timezone.now())
    live.update(on_hold=hold, **({} if hold else {"held_since": None}))
    call.on_hold = hold
    call.held_since = Call.objects.filter(pk=call.pk).values_list("held_since", flat=True).first()


def bridged_state(call: Call, agent_id: int) -> str:
    """What the call's thread does now with a caller bridged to ``agent_id``."""
    row = (
        Call.objects.filter(pk=call.pk)
        .values_list("on_hold", "case__status", "case__assigned_to")
        .first()
    )
    if row is None:
        return TALK
    on_hold, status, assigned_to = row
    if status == Case.Status.NEW or (assigned_to is not None and assigned_to != agent_id):
        return GONE
    return HOLD if on_hold else TALK


def waiting_again(call: Call) -> bool:
    """Whether the call went back to the queue after an agent answered it (a transfer)."""
    for step in reversed(call.steps):
        if step.get("step") == "agent_answered":
            return False
        if step.get("step") == "requeued":
            return True
    return False


def requeue(call: Call, agent_id: int) -> Case | None:
    """The case left the agent while they talked with the caller: the call waits again, in
    the queue of the case's service now (its timeline gets the call's new entry in a queue;
    the transfer itself is already there)."""
    from . import queueing
    from .services import record_step

    case = Case.objects.filter(pk=call.case_id or 0).select_related("service").first()
    if case is None:
        return None
    Call.objects.filter(pk=call.pk).update(on_hold=False, held_since=None)
    call.on_hold = False
    call.held_since = None
    record_step(call, "requeued", "queue", agent=agent_id, service=case.service_id)
    context: dict[str, Any] = {
        **queueing.call_context(call),
        "stage": "queued",
        "reason": "transfer",
        # A hang-up in the new queue leaves the case answered (the first agent talked).
        "joined_from": Case.Status.ANSWERED,
        "from_agent": agent_id,
    }
    add_event(
        case,
        Event.Type.CALL,
        channel=Channel.PHONE,
        body=str(
            _("Appel transféré : l'appelant attend un conseiller du service %(service)s.")
            % {"service": case.service.name}
        ),
        payload=context,
        at=timezone.now(),
    )
    return case
