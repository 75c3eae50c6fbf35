"""Callback requests (webcallback): bookable slots, booking, outcome of each call attempt,
cancellation by the citizen.

A callback is a case of channel ``callback`` that enters its queue at its slot time and is
routed on phone capacity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.models import Case, Channel, Event, Service, Topic, User
from contactcenter.phones import parse_phone as normalize_phone
from contactcenter.services import (
    add_event,
    change_status,
    mark_first_response,
    notify_citizen,
    open_case,
    validate_body,
)

from .actions import requeue_case
from .calendar import calendar_for
from .capacity import agent_group
from .models import CallbackRequest
from .publish import group_send, queue_task

CALLBACK_SLOT = timedelta(minutes=30)
CALLBACK_LEAD = timedelta(minutes=15)
CALLBACK_DAYS = 5
CALLBACK_RETRY_DELAY = timedelta(hours=1)


def slot_capacity(topic: Topic) -> int:
    """How many callbacks may share one slot: agents of the service holding the skill."""
    agents = User.objects.filter(
        role=User.Role.AGENT, is_active=True, agent_profile__services=topic.service_id
    )
    if topic.skill_id:
        agents = agents.filter(agent_profile__skills=topic.skill_id)
    return agents.distinct().count()


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime

    @property
    def value(self) -> str:
        return self.start.isoformat()


def callback_slots(
    topic: Topic, *, now: datetime | None = None, earliest: datetime | None = None
) -> list[Slot]:
    """The next bookable callback slots of a topic's service (opening hours, not full)."""
    now = now or timezone.now()
    capacity = slot_capacity(topic)
    if capacity == 0:
        return []
    start = max(earliest or now, now + CALLBACK_LEAD)
    slots = calendar_for(topic.service_id).slots(start, days=CALLBACK_DAYS, length=CALLBACK_SLOT)
    if not slots:
        return []
    booked: dict[datetime, int] = {}
    for slot_start in CallbackRequest.objects.filter(
        status=CallbackRequest.Status.SCHEDULED,
        case__service_id=topic.service_id,
        slot_start__gte=slots[0][0],
        slot_start__lte=slots[-1][0],
    ).values_list("slot_start", flat=True):
        booked[slot_start] = booked.get(slot_start, 0) + 1
    return [Slot(s, e) for s, e in slots if booked.get(s, 0) < capacity]


def parse_slot(value) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValidationError({"slot": [_("Choisissez un créneau dans la liste.")]})
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def request_callback(
    *,
    citizen: User,
    topic: Topic,
    phone: str,
    description: str,
    slot,
    now: datetime | None = None,
) -> Case:
    """Book a callback: a case of channel "callback" (first event "callback") for the slot.

    Validates everything first (phone, description, slot in the future, inside opening hours,
    not full) and reports each problem on its field. Runs in a transaction; the slot's
    service row is locked while counting bookings so that a slot is never overbooked. The
    citizen is notified of the booking after commit (no content in the notification).
    """
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    if not citizen.is_citizen:
        raise ValidationError(_("Seul un usager peut demander à être rappelé."))
    if not topic.is_active:
        errors["topic"] = [_("Ce thème n'est plus proposé.")]
    try:
        phone = normalize_phone(phone)
    except ValidationError as exc:
        errors["phone"] = exc.messages
    try:
        description = validate_body(description, max_chars=1000)
    except ValidationError as exc:
        errors["description"] = (
            [_("Décrivez en quelques mots l'objet de votre appel.")]
            if exc.code == "required"
            else exc.messages
        )
    try:
        slot_start = parse_slot(slot)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        slot_start = None
    if slot_start is not None and "topic" not in errors:
        slot_error = _slot_error(topic, slot_start, now)
        if slot_error:
            errors["slot"] = [slot_error]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        Service.objects.select_for_update().get(pk=topic.service_id)
        if not any(s.start == slot_start for s in callback_slots(topic, now=now)):
            raise ValidationError(
                {"slot": [_("Ce créneau vient d'être réservé : choisissez-en un autre.")]}
            )
        slot_end = slot_start + CALLBACK_SLOT
        case, _event = open_case(
            citizen=citizen,
            topic=topic,
            kind=Case.Kind.QUESTION,
            channel=Channel.CALLBACK,
            subject=_("Demande de rappel — %(topic)s") % {"topic": topic.title},
            first_event_type=Event.Type.CALLBACK,
            body=description,
            payload={
                "slot_start": slot_start.isoformat(),
                "slot_end": slot_end.isoformat(),
                "phone": phone,
            },
        )
        CallbackRequest.objects.create(
            case=case, phone=phone, slot_start=slot_start, slot_end=slot_end
        )
        Case.objects.filter(pk=case.pk).update(sla_deadline=slot_end)
        case.sla_deadline = slot_end
        notify_citizen(case, "callback_booked")
        queue_task("route_case", case.pk, eta=slot_start)
    return case


def _slot_error(topic: Topic, slot_start: datetime, now: datetime) -> str | None:
    if slot_start <= now:
        return _("Ce créneau est déjà passé : choisissez-en un autre.")
    cal = calendar_for(topic.service_id)
    slot_end = slot_start + CALLBACK_SLOT
    inside = (
        any(
            s <= slot_start and slot_end <= e
            for s, e in cal.ranges_on(slot_start.astimezone(timezone.get_current_timezone()).date())
        )
        and not cal.always_open
    )
    if not inside:
        return _("Ce créneau est en dehors des horaires d'ouverture du service.")
    if slot_start < now + CALLBACK_LEAD:
        return _("Ce créneau est trop proche : choisissez-en un à partir de %(time)s.") % {
            "time": timezone.localtime(now + CALLBACK_LEAD).strftime("%H:%M")
        }
    if not any(s.start == slot_start for s in callback_slots(topic, now=now)):
        return _("Ce créneau n'est plus disponible : choisissez-en un autre.")
    return None


def cancel_callback(citizen: User, case: Case) -> CallbackRequest:
    """The citizen cancels a callback not yet made. Checked conditional update."""
    with transaction.atomic():
        updated = CallbackRequest.objects.filter(
            case=case, case__citizen=citizen, status=CallbackRequest.Status.SCHEDULED
        ).update(status=CallbackRequest.Status.CANCELLED)
        if updated != 1:
            raise ValidationError(_("Ce rappel ne peut plus être annulé."), code="not_cancellable")
        fresh = Case.objects.get(pk=case.pk)
        add_event(fresh, Event.Type.CALLBACK, actor=citizen, payload={"outcome": "cancelled"})
        change_status(fresh, Case.Status.CLOSED, actor=citizen, resolution="no_follow_up")
        if fresh.assigned_to_id:
            agent_id = fresh.assigned_to_id
            transaction.on_commit(
                lambda: group_send(
                    agent_group(agent_id), {"type": "case.unassigned", "case_id": case.pk}
                )
            )
    return CallbackRequest.objects.get(case=case)


def record_callback_outcome(
    agent: User, case: Case, *, reached: bool, note: str = "", now: datetime | None = None
) -> CallbackRequest:
    """Record a call attempt on a callback the agent owns.

    Reached: the case moves to "in progress" with the agent (first answer recorded). Not
    reached: retried up to 3 attempts in all (next free slot at least an hour later, back in
    the queue then); after the third, the case is closed "sans suite" and the citizen told.
    Runs in a transaction with the callback row locked.
    """
    now = now or timezone.now()
    note = (note or "").strip()
    if len(note) > 2000:
        raise ValidationError({"note": [_("La note fait 2 000 caractères au maximum.")]})
    with transaction.atomic():
        callback = CallbackRequest.objects.select_for_update().filter(case_id=case.pk).first()
        case = Case.objects.select_related("topic", "service").get(pk=case.pk)
        if callback is None:
            raise ValidationError(_("Cette demande n'est pas un rappel."), code="not_callback")
        if case.assigned_to_id != agent.pk:
            raise ValidationError(_("Ce rappel ne vous est pas attribué."), code="not_owner")
        if not callback.is_scheduled:
            raise ValidationError(_("Ce rappel est déjà terminé."), code="done")
        callback.attempts += 1
        callback.last_attempt_at = now
        payload = {"outcome": "reached" if reached else "not_reached", "attempt": callback.attempts}
        if reached:
            callback.status = CallbackRequest.Status.REACHED
            callback.save()
            add_event(
                case, Event.Type.CALLBACK, actor=agent, channel=Channel.PHONE, payload=payload
            )
            if note:
                add_event(case, Event.Type.NOTE, actor=agent, internal=True, body=note)
            mark_first_response(case, at=now)
            if case.status == Case.Status.ASSIGNED:
                change_status(case, Case.Status.IN_PROGRESS, actor=agent, internal=True)
            return callback
        if note:
            add_event(case, Event.Type.NOTE, actor=agent, internal=True, body=note)
        if callback.attempts >= CallbackRequest.MAX_ATTEMPTS:
            callback.status = CallbackRequest.Status.FAILED
            callback.save()
            payload["final"] = True
            add_event(
                case, Event.Type.CALLBACK, actor=agent, channel=Channel.PHONE, payload=payload
            )
            change_status(case, Case.Status.CLOSED, actor=agent, resolution="no_follow_up")
            notify_citizen(case, "callback_failed")
            return callback
        slots = callback_slots(case.topic, now=now, earliest=now + CALLBACK_RETRY_DELAY)
        if not slots:
            # No slot in the coming days: keep the booking, the agent may try again later.
            callback.save()
            add_event(
                case, Event.Type.CALLBACK, actor=agent, channel=Channel.PHONE, payload=payload
            )
            return callback
        nxt = slots[0]
        callback.slot_start, callback.slot_end = nxt.start, nxt.end
        callback.save()
        payload["next_slot"] = nxt.start.isoformat()
        add_event(case, Event.Type.CALLBACK, actor=agent, channel=Channel.PHONE, payload=payload)
        Case.objects.filter(pk=case.pk).update(sla_deadline=nxt.end)
        case.sla_deadline = nxt.end
        requeue_case(case, actor=agent)
        notify_citizen(case, "callback_booked")
        queue_task("route_case", case.pk, eta=nxt.start)
    return callback


# --- Supervisor live view -------------------------------------------------------------------------
