"""Retention of visio data (contactcenter/retention.py, docs/operations.md): captions still
stored for a room that ended long ago (a room normally deletes them when it ends) and the
participants' socket names go; the room (times, who, how it ended) stays for the statistics.
No audio or video is ever recorded."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from contactcenter.retention import ANONYMISE, Kind, register

from .models import Caption, Participant, Room


def _rooms(cutoff: datetime) -> QuerySet:
    captions = Caption.objects.filter(room=OuterRef("pk"))
    sockets = Participant.objects.filter(room=OuterRef("pk")).exclude(channel_name="")
    return Room.objects.filter(status=Room.Status.ENDED, created_at__lt=cutoff).filter(
        Exists(captions) | Exists(sockets) | Q(keep_captions=True)
    )


def _purge(rooms: QuerySet) -> None:
    Caption.objects.filter(room__in=rooms).delete()
    Participant.objects.filter(room__in=rooms).exclude(channel_name="").update(channel_name="")
    rooms.update(keep_captions=False)


register(
    Kind(
        name="visio",
        label="Sous-titres et connexions des visios terminées",
        action=ANONYMISE,
        candidates=_rooms,
        purge=_purge,
        describe=lambda row: f"visio {row.pk} ({row.created_at:%Y-%m-%d})",
    )
)
