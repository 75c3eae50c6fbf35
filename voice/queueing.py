"""A call to an agent, on the database: the call becomes (or joins) a Case of channel phone
that routing's engine gives to an agent with free phone capacity and the skill; the call's
thread polls the case for its agent, rings them (voice.bridge), and at the end of the call
frees the agent's phone slot and writes the wait, the agent and who hung up on the timeline.

Called from the voice server's call threads (voice.to_agent), like voice.services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

import routing
from contactcenter.models import AgentProfile, Case, Channel, Event, Topic, User
from contactcenter.services import add_event, change_status, open_case, request_routing
from routing.calendar import calendar_for
from routing.models import AgentPresence

from .models import Call

# A phone case of the caller in one of these statuses is joined by a new call to an agent
# (nobody holds it: it goes back to the queue).
JOINABLE_STATUSES = (Case.Status.NEW, Case.Status.WAITING_CITIZEN, Case.Status.ANSWERED)
HELD_STATUSES = (Case.Status.ASSIGNED, Case.Status.IN_PROGRESS)


def agent_topic(call: Call) -> Topic | None:
    """The topic (and so the skill) of the call's case: the topic the callbot understood
    when it belongs to the called service, else the menu's ``agent_topic``, else the
    service's first active topic."""
    understood = [
        s["topic"] for s in call.steps if s.get("step") == "callbot_heard" and s.get("topic")
    ]
    if understood and call.service_id is not None:
        topic = Topic.objects.filter(
            pk=understood[-1], service_id=call.service_id, is_active=True
        ).first()
        if topic is not None:
            return topic
    if call.menu is not None and call.menu.agent_topic_id is not None:
        topic = Topic.objects.filter(pk=call.menu.agent_topic_id, is_active=True).first()
        if topic is not None:
            return topic
    if call.service_id is None:
        return None
    return Topic.objects.filter(service_id=call.service_id, is_active=True).order_by("pk").first()


def service_open(call: Call, at: datetime | None = None) -> bool:
    return call.service_id is not None and calendar_for(call.service_id).is_open(at)


def agents_on_duty(topic: Topic) -> bool:
    """Whether an available agent of the topic's service with its skill has a phone capacity
    (free or not): otherwise waiting is pointless and a callback is offered at once."""
    agents = AgentPresence.objects.filter(
        status=AgentPresence.Status.AVAILABLE,
        user__role=User.Role.AGENT,
        user__is_active=True,
        user__agent_profile__services=topic.service_id,
        capacity_phone__gt=0,
    )
    if topic.skill_id:
        agents = agents.filter(user__agent_profile__skills=topic.skill_id)
    return agents.exists()


def call_context(call: Call) -> dict[str, Any]:
    """What the agent sees of the call before answering: menu path and self-service done."""
    return {
        "call": call.pk,
        "menu_path": call.menu_path,
        # What the callbot heard (and the article it read), for the agent.
        "transcript": [
            {"text": s["text"], "article": s.get("article", "")}
            for s in call.steps
            if s.get("step") == "callbot_heard" and s.get("text")
        ],
        "self_service": [
            {"kind": s["kind"], "completed": s["completed"]}
            for s in call.steps
            if s.get("step") == "self_service"
        ],
    }


def call_in_progress(case_id: int) -> dict[str, Any] | None:
    """The context of the call of a case that is not over (the agent's screen-pop)."""
    call = Call.objects.filter(case_id=case_id, ended_at__isnull=True).order_by("-pk").first()
    return call_context(call) if call is not None else None


def context_text(context: dict[str, Any]) -> str:
    path = " > ".join(context["menu_path"]) or _("aucun choix")
    done = ", ".join(
        f"{s['kind']} ({_('terminé') if s['completed'] else _('abandonné')})"
        for s in context["self_service"]
    )
    text = _("Appel transféré à un conseiller. Parcours dans le menu : %(path)s.") % {"path": path}
    if done:
        text += " " + _("Services automatiques : %(done)s.") % {"done": done}
    heard = " / ".join(f"« {line['text']} »" for line in context.get("transcript", []))
    if heard:
        text += " " + _("Dit à l'assistant vocal : %(heard)s.") % {"heard": heard}
    return str(text)


def enqueue(call: Call, topic: Topic, reason: str) -> Case:
    """Put the call in the queue of ``topic``: the caller's open phone case of that service
    nobody holds goes back to the queue, else a new phone case is opened; routing is asked
    after commit. The case's timeline gets the transfer with the menu path and the
    self-service done (what the agent's screen-pop shows)."""
    from .unidentified import unidentified_caller

    if call.citizen_id is None:
        # An unidentified caller: a new case of the placeholder account, never joined (two
        # unknown callers are not the same person); the agent links it to a citizen.
        citizen = unidentified_caller()
        joinable = Case.objects.none()
    else:
        citizen = User.objects.get(pk=call.citizen_id)
        joinable = Case.objects.select_for_update()
    context = {**call_context(call), "stage": "queued", "reason": reason}
    if call.citizen_id is None:
        context["unidentified"] = True
    now = timezone.now()
    with transaction.atomic():
        case = (
            joinable.filter(
                citizen_id=citizen.pk,
                service_id=topic.service_id,
                channel=Channel.PHONE,
                status__in=JOINABLE_STATUSES,
            )
            .filter(
                Q(status=Case.Status.NEW, assigned_to__isnull=True) | ~Q(status=Case.Status.NEW)
            )
            .order_by("-last_activity_at", "-id")
            .first()
        )
        if case is not None:
            joined_from = case.status
            Case.objects.filter(pk=case.pk).update(
                status=Case.Status.NEW, assigned_to=None, assigned_at=None, last_activity_at=now
            )
            case.status, case.assigned_to_id = Case.Status.NEW, None
            context["joined_from"] = joined_from
            add_event(
                case,
                Event.Type.CALL,
                channel=Channel.PHONE,
                body=context_text(context),
                payload=context,
                at=now,
            )
            request_routing(case)
        else:
            case, _event = open_case(
                citizen=citizen,
                topic=topic,
                kind=Case.Kind.QUESTION,
                channel=Channel.PHONE,
                subject=str(_("Appel téléphonique")),
                first_event_type=Event.Type.CALL,
                body=context_text(context),
                payload=context,
            )
        Call.objects.filter(pk=call.pk).update(case=case, queued_at=now)
        call.case, call.queued_at = case, now
    return case


@dataclass(frozen=True)
class Assignment:
    agent_id: int
    extension: str


def assignment(case_id: int) -> Assignment | None:
    """The agent routing gave the case to (still held), with their SIP extension."""
    row = (
        Case.objects.filter(pk=case_id, status__in=HELD_STATUSES, assigned_to__isnull=False)
        .values_list("assigned_to_id", flat=True)
        .first()
    )
    if row is None:
        return None
    extension = (
        AgentProfile.objects.filter(user_id=row).values_list("sip_extension", flat=True).first()
    )
    return Assignment(int(row), extension or "")


def case_topic(case_id: int) -> Topic | None:
    """The case's topic now (after a transfer: the new service's)."""
    return Topic.objects.filter(cases__pk=case_id).first()


def position(case: Case) -> tuple[int, int | None]:
    """(position in the queue, estimated wait in seconds or None): routing's estimate."""
    return routing.queue_position(case)


def ring_failed(call: Call, agent_id: int, status: str) -> None:
    """The agent's phone did not answer (busy, no extension, timeout): the case goes back to
    the head of the queue, routing tries again."""
    from .services import record_step

    record_step(call, "agent_no_answer", call.position, agent=agent_id, status=status[:40])
    case = Case.objects.filter(pk=call.case_id or 0).first()
    if case is not None and case.assigned_to_id == agent_id:
        routing.requeue_case(case, head=True)


def answered(call: Call, agent_id: int) -> None:
    from .services import record_step

    now = timezone.now()
    # After a transfer the next agent answers: the wait of the call stays its first one.
    Call.objects.filter(pk=call.pk).update(agent_id=agent_id)
    Call.objects.filter(pk=call.pk, answered_at__isnull=True).update(answered_at=now)
    call.agent_id, call.answered_at = agent_id, call.answered_at or now
    record_step(call, "agent_answered", "agent", agent=agent_id)


def leave_queue(call: Call, reason: str) -> None:
    """The call leaves the queue without an agent (hang-up, callback offered instead, the
    voice server stopped): a case opened by this call is closed without follow-up, a joined
    case goes back to its previous status. Inside ``end_call``'s transaction or alone."""
    from .controls import waiting_again
    from .services import record_step

    if call.case_id is None or (call.answered_at is not None and not waiting_again(call)):
        return
    # The case the call waited for last (the call may since be attached to a callback's case).
    queued = (
        Event.objects.filter(
            case_id=call.case_id,
            type=Event.Type.CALL,
            payload__call=call.pk,
            payload__stage="queued",
        )
        .order_by("-pk")
        .first()
    )
    case = Case.objects.filter(pk=call.case_id).first()
    if queued is None or case is None or case.status not in (Case.Status.NEW, *HELD_STATUSES):
        return
    record_step(call, "left_queue", call.position, reason=reason)
    joined_from = (queued.payload or {}).get("joined_from")
    with transaction.atomic():
        try:
            if joined_from:
                Case.objects.filter(pk=case.pk).update(assigned_to=None, assigned_at=None)
                case.assigned_to_id = None
                change_status(case, joined_from, internal=True)
            else:
                change_status(
                    case, Case.Status.CLOSED, resolution=Case.Resolution.NO_FOLLOW_UP, internal=True
                )
        except ValidationError:
            return


def call_ended(call: Call) -> None:
    """At the end of a call that reached an agent: the case is answered (the agent's phone
    slot is free: routing gives them more work); they close it from the console."""
    if call.case_id is None or call.answered_at is None:
        return
    # Still with that agent (not transferred to another one meanwhile).
    case = Case.objects.filter(
        pk=call.case_id, status__in=HELD_STATUSES, assigned_to_id=call.agent_id
    ).first()
    if case is None:
        return
    agent = User.objects.filter(pk=call.agent_id or 0).first()
    change_status(case, Case.Status.ANSWERED, actor=agent, internal=True)


def timeline_fields(call: Call) -> dict[str, Any]:
    """The call event's fields about the agent: wait, agent, time with the agent."""
    if call.queued_at is None:
        return {}
    end = call.answered_at or call.ended_at or timezone.now()
    fields: dict[str, Any] = {"wait": int((end - call.queued_at).total_seconds())}
    if call.answered_at is not None and call.agent_id is not None:
        fields["agent"] = call.agent_id
        finished = call.ended_at or timezone.now()
        fields["talk"] = int((finished - call.answered_at).total_seconds())
    return fields
