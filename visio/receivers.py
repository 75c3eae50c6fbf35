"""Reactions to core signals (connected in VisioConfig.ready)."""

from datetime import timedelta

from django.dispatch import receiver

from contactcenter.models import User
from contactcenter.signals import appointment_booked, appointment_cancelled, visio_room_requested

from . import services
from .models import Room

VISIO = "visio"
# A visio appointment's room stays open this long after the slot's end (late start, overrun).
APPOINTMENT_OVERRUN = timedelta(minutes=30)


@receiver(visio_room_requested, dispatch_uid="visio-open-room")
def open_requested_room(
    sender, *, case, agent, source="", not_before=None, expires_at=None, **kwargs
) -> dict[int, str]:
    """A visio appointment (or any other app) asks for the case's room."""
    room = services.open_room(
        case, agent, source=source, not_before=not_before, expires_at=expires_at
    )
    return {p.user_id: services.join_url(p) for p in room.participants.all()}


def _appointment_source(appointment_id: int) -> str:
    return f"appointment:{appointment_id}"


@receiver(appointment_booked, dispatch_uid="visio-appointment-booked")
def open_appointment_room(
    sender, *, appointment_id, case, mode, start, end, agent_id, **kwargs
) -> None:
    """A visio appointment booked (or moved: the new one, sent before the old one's
    cancellation): the case's room for that slot, opening 15 min before it (``not_before``).
    A room of the case opened for another appointment (the one being moved) ends first."""
    if mode != VISIO or case is None or agent_id is None:
        return
    source = _appointment_source(appointment_id)
    stale = (
        Room.objects.filter(case=case, status=Room.Status.OPEN, source__startswith="appointment:")
        .exclude(source=source)
        .values_list("pk", flat=True)
    )
    for room_id in list(stale):
        services.end_room(room_id, Room.EndReason.CANCELLED)
    services.open_room(
        case,
        User.objects.get(pk=agent_id),
        source=source,
        not_before=start,
        expires_at=end + APPOINTMENT_OVERRUN,
    )


@receiver(appointment_cancelled, dispatch_uid="visio-appointment-cancelled")
def end_appointment_room(sender, *, appointment_id, mode, **kwargs) -> None:
    """A visio appointment cancelled: its room ends (the citizen's link stops working)."""
    if mode != VISIO:
        return
    rooms = Room.objects.filter(
        status=Room.Status.OPEN, source=_appointment_source(appointment_id)
    ).values_list("pk", flat=True)
    for room_id in list(rooms):
        services.end_room(room_id, Room.EndReason.CANCELLED)
