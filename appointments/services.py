"""Booking, moving, cancelling and marking appointments; reminders (docs/appointments.md).

No double booking: a booking locks the candidate agent's row (``select_for_update``, agents in
ascending id order, so two bookings never wait on each other in a cycle), checks the agent is
still free at that moment, and writes; a unique constraint on (agent, start) of the holding
appointments backs the check up.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from contactcenter.exceptions import InvalidState, NotAllowed, NotFound
from contactcenter.models import Case, Channel, Event, User
from contactcenter.services import add_event, open_case
from contactcenter.signals import appointment_booked, appointment_cancelled, citizen_notification
from routing.calendar import local_tz

from . import panel
from .ics import appointment_ics
from .models import Appointment, AppointmentType, Mode
from .slots import agents_free_at, earliest_start, horizon_day

# The channel of the case an appointment opens.
MODE_CHANNEL = {Mode.ON_SITE: Channel.COUNTER, Mode.PHONE: Channel.PHONE, Mode.VISIO: Channel.VISIO}
DAY_BEFORE = timedelta(hours=24)
HOUR_BEFORE = timedelta(hours=1)


def when_text(start: datetime) -> str:
    local = start.astimezone(local_tz())
    return _("%(day)s à %(time)s") % {
        "day": formats.date_format(local, "l j F Y"),
        "time": formats.time_format(local, "H:i"),
    }


def _send_after_commit(signal, appointment: Appointment) -> None:
    kwargs = {
        "appointment_id": appointment.pk,
        "case": appointment.case,
        "mode": str(appointment.mode),
        "start": appointment.start,
        "end": appointment.end,
        "agent_id": appointment.agent_id,
    }
    transaction.on_commit(lambda: signal.send(sender=Appointment, **kwargs))


# The alerts of a booking and of a reminder: the service's template of that event
# (docs/messaging.md), with the appointment's date and time, never its topic or address.
CONFIRMATION_KIND = "appointment_booked"
REMINDER_KIND = "appointment_reminder"


def alert_params(appointment: Appointment) -> dict:
    """The placeholders' data of an appointment's alert: its start and its own page."""
    link = settings.SITE_URL + reverse("appointments:detail", args=[appointment.public_id])
    return {"at": appointment.start.isoformat(), "link": link}


def _notify(appointment: Appointment, kind: str, key: str, params: dict | None = None) -> None:
    citizen_id, case_id = appointment.citizen_id, appointment.case_id
    transaction.on_commit(
        lambda: citizen_notification.send(
            sender=Appointment,
            citizen_id=citizen_id,
            case_id=case_id,
            kind=kind,
            key=key,
            params=params or {},
        )
    )


def confirm(appointment_id: int) -> bool:
    """Queue the booking's confirmation alert once: claimed with a conditional update on
    ``confirmation_sent_at``, in the same transaction as the outbox rows it writes (a failure
    leaves it unclaimed for the task's retry); the outbox key is per appointment as well. The
    e-mail carries the .ics. False when already confirmed or no longer booked."""
    with transaction.atomic():
        claimed = Appointment.objects.filter(
            pk=appointment_id, confirmation_sent_at__isnull=True, status=Appointment.Status.BOOKED
        ).update(confirmation_sent_at=timezone.now())
        if claimed != 1:
            return False
        appointment = Appointment.objects.select_related("type", "service").get(pk=appointment_id)
        with override(settings.LANGUAGE_CODE):
            ics = appointment_ics(appointment)
        citizen_notification.send(
            sender=Appointment,
            citizen_id=appointment.citizen_id,
            case_id=appointment.case_id,
            kind=CONFIRMATION_KIND,
            key=f"appointment-booked:{appointment.pk}",
            params={
                **alert_params(appointment),
                "files": [("rendez-vous.ics", "text/calendar", ics)],
            },
        )
    return True


def citizen_appointment(citizen: User, public_id) -> Appointment:
    appointment = (
        Appointment.objects.select_related("type", "type__topic", "service", "case")
        .filter(public_id=public_id, citizen=citizen)
        .first()
    )
    if appointment is None:
        raise NotFound(_("Rendez-vous introuvable."))
    return appointment


@transaction.atomic
def book(
    citizen: User,
    atype: AppointmentType,
    start: datetime,
    *,
    case: Case | None = None,
    proposed_by: User | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Book ``start`` for ``citizen`` with the first agent still free then.

    Runs in a transaction and locks the agent's row while it checks and writes."""
    now = now or timezone.now()
    if not citizen.is_citizen:
        raise ValidationError(_("Un rendez-vous est toujours pris pour un usager."))
    if not atype.is_active or not atype.topic.is_active:
        raise ValidationError(_("Ce type de rendez-vous n'est plus proposé."), code="inactive")
    earliest = earliest_start(atype, now) if proposed_by is None else now
    if start < earliest or start.astimezone(local_tz()).date() > horizon_day(atype, now):
        raise ValidationError({"slot": _("Ce créneau n'est pas réservable.")}, code="out_of_range")
    if Appointment.objects.filter(
        citizen=citizen, status=Appointment.Status.BOOKED, start=start
    ).exists():
        raise ValidationError({"slot": _("Vous avez déjà un rendez-vous à cette heure.")})
    candidates = sorted(agents_free_at(atype, start, earliest=earliest))
    for agent_id in candidates:
        User.objects.select_for_update().filter(pk=agent_id).values_list("pk").get()
        # Locked: a booking that committed meanwhile is visible to this new query.
        if agent_id not in agents_free_at(atype, start, earliest=earliest, agent_ids=[agent_id]):
            continue
        try:
            with transaction.atomic():
                appointment = Appointment.objects.create(
                    type=atype,
                    service_id=atype.service_id,
                    mode=atype.mode,
                    citizen=citizen,
                    agent_id=agent_id,
                    start=start,
                    end=start + atype.duration,
                    busy_until=start + atype.step,
                    proposed_by=proposed_by,
                    created_at=now,
                )
        except IntegrityError:
            continue
        break
    else:
        raise ValidationError(
            {"slot": _("Ce créneau vient d'être réservé. Choisissez-en un autre.")}, code="taken"
        )
    body = _("Rendez-vous %(mode)s le %(when)s.") % {
        "mode": atype.get_mode_display().lower(),
        "when": when_text(start),
    }
    if case is None:
        case, _event = open_case(
            citizen=citizen,
            topic=atype.topic,
            kind=Case.Kind.QUESTION,
            channel=MODE_CHANNEL[Mode(atype.mode)],
            subject=_("Rendez-vous : %(topic)s") % {"topic": atype.topic.title},
            first_event_type=Event.Type.STATUS,
            body=body,
            actor=proposed_by or citizen,
            payload={"appointment": str(appointment.public_id)},
            route=False,
            # Waiting for the citizen to come: in the agent's hands, outside routing's capacity.
            status=Case.Status.WAITING_CITIZEN,
        )
        Case.objects.filter(pk=case.pk).update(assigned_to_id=agent_id, assigned_at=now)
        case.assigned_to_id, case.assigned_at = agent_id, now
    else:
        add_event(
            case,
            Event.Type.STATUS,
            actor=proposed_by or citizen,
            body=body,
            payload={"appointment": str(appointment.public_id)},
        )
    appointment.case = case
    appointment.save(update_fields=["case"])
    _send_after_commit(appointment_booked, appointment)
    from .tasks import send_confirmation

    send_confirmation.delay_on_commit(appointment.pk)
    return appointment


def _lock(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("type", "type__topic", "case")
        .get(pk=appointment.pk)
    )


@transaction.atomic
def cancel(appointment: Appointment, user: User, *, now: datetime | None = None) -> Appointment:
    """Cancel a booked appointment: the citizen until the cutoff, an agent of the service
    any time before it starts. Locks the appointment."""
    now = now or timezone.now()
    appointment = _lock(appointment)
    if user.pk == appointment.citizen_id:
        if not appointment.changeable(now):
            raise InvalidState(_("Ce rendez-vous ne peut plus être annulé en ligne."))
    elif not (user.is_staff_member and _serves(user, appointment)):
        raise NotFound(_("Rendez-vous introuvable."))
    elif not appointment.is_booked or appointment.start <= now:
        raise InvalidState(_("Ce rendez-vous ne peut plus être annulé."))
    appointment.status = Appointment.Status.CANCELLED
    appointment.cancelled_at = now
    appointment.save(update_fields=["status", "cancelled_at"])
    if appointment.case is not None:
        add_event(
            appointment.case,
            Event.Type.STATUS,
            actor=user,
            body=_("Rendez-vous du %(when)s annulé.") % {"when": when_text(appointment.start)},
            payload={"appointment": str(appointment.public_id), "cancelled": True},
        )
    _send_after_commit(appointment_cancelled, appointment)
    panel.forget(appointment)
    return appointment


@transaction.atomic
def move(
    appointment: Appointment, citizen: User, start: datetime, *, now: datetime | None = None
) -> Appointment:
    """Move a booked appointment to another slot of the same type, until the cutoff: the new
    one is booked first (on the same case), then the old one cancelled."""
    now = now or timezone.now()
    appointment = _lock(appointment)
    if appointment.citizen_id != citizen.pk:
        raise NotFound(_("Rendez-vous introuvable."))
    if not appointment.changeable(now):
        raise InvalidState(_("Ce rendez-vous ne peut plus être déplacé en ligne."))
    if start == appointment.start:
        raise ValidationError({"slot": _("Choisissez un autre créneau.")})
    new = book(citizen, appointment.type, start, case=appointment.case, now=now)
    cancel(appointment, citizen, now=now)
    return new


def _serves(agent: User, appointment: Appointment) -> bool:
    from contactcenter.permissions import user_service_ids

    return appointment.agent_id == agent.pk or appointment.service_id in user_service_ids(agent)


def staff_appointment(agent: User, pk: int) -> Appointment:
    appointment = (
        Appointment.objects.select_related("type", "type__topic", "citizen", "case")
        .filter(pk=pk)
        .first()
    )
    if appointment is None or not agent.is_staff_member or not _serves(agent, appointment):
        raise NotFound(_("Rendez-vous introuvable."))
    return appointment


@transaction.atomic
def mark(
    appointment: Appointment, agent: User, status: str, *, now: datetime | None = None
) -> Appointment:
    """Attended or no-show, once the appointment has started. Locks the appointment."""
    now = now or timezone.now()
    if status not in (Appointment.Status.ATTENDED, Appointment.Status.NO_SHOW):
        raise ValidationError(_("État inconnu."))
    if not _serves(agent, appointment):
        raise NotAllowed(_("Ce rendez-vous n'est pas dans votre service."))
    appointment = _lock(appointment)
    if not appointment.is_booked:
        raise InvalidState(_("Ce rendez-vous est déjà clos."))
    if appointment.start > now:
        raise InvalidState(_("Ce rendez-vous n'a pas encore commencé."))
    appointment.status = status
    appointment.marked_at = now
    appointment.save(update_fields=["status", "marked_at"])
    if status == Appointment.Status.NO_SHOW:
        panel.forget(appointment)
    if appointment.case is not None:
        label = Appointment.Status(status).label
        add_event(
            appointment.case,
            Event.Type.STATUS,
            actor=agent,
            internal=True,
            body=_("Rendez-vous : %(status)s.") % {"status": label},
            payload={"appointment": str(appointment.public_id), "outcome": status},
        )
    return appointment


def agent_day(agent: User, day=None):
    """The agent's appointments of one day (today by default), soonest first."""
    from .slots import day_filter

    day = day or timezone.localdate()
    return (
        Appointment.objects.filter(day_filter(day), agent=agent)
        .exclude(status=Appointment.Status.CANCELLED)
        .select_related("type__topic", "citizen", "case")
        .order_by("start")
    )


def send_due_reminders(now: datetime | None = None) -> int:
    """Queue the reminders due: the day before and one hour before, each once (claimed with
    a conditional update), through the content-free notification outbox. An appointment
    booked less than a day (an hour) ahead gets no day-before (hour-before) reminder."""
    now = now or timezone.now()
    sent = 0
    plans = (
        ("reminded_day_at", DAY_BEFORE, "day"),
        ("reminded_hour_at", HOUR_BEFORE, "hour"),
    )
    for field, ahead, which in plans:
        due = Appointment.objects.filter(
            status=Appointment.Status.BOOKED,
            start__gt=now,
            start__lte=now + ahead,
            **{f"{field}__isnull": True},
        ).order_by("start")[:500]
        for appointment in due:
            with transaction.atomic():
                claimed = Appointment.objects.filter(
                    pk=appointment.pk, **{f"{field}__isnull": True}
                ).update(**{field: now})
                if claimed != 1:
                    continue  # another worker got there first
                if appointment.created_at > appointment.start - ahead:
                    continue  # booked within the window: the confirmation was enough
                _notify(
                    appointment,
                    REMINDER_KIND,
                    f"appointment-{which}:{appointment.pk}",
                    alert_params(appointment),
                )
                sent += 1
    return sent
