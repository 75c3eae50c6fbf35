"""Reactions to core signals (connected in VisioConfig.ready)."""

from django.dispatch import receiver

from contactcenter.signals import visio_room_requested

from . import services


@receiver(visio_room_requested, dispatch_uid="visio-open-room")
def open_requested_room(
    sender, *, case, agent, source="", not_before=None, expires_at=None, **kwargs
) -> dict[int, str]:
    """A visio appointment (or any other app) asks for the case's room."""
    room = services.open_room(
        case, agent, source=source, not_before=not_before, expires_at=expires_at
    )
    return {p.user_id: services.join_url(p) for p in room.participants.all()}
