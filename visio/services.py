"""Visio business logic: opening a room on a case, who may enter it, captions, the end and its
record on the timeline.

Views and consumers only parse, check and call these functions. A room's state changes under
its row lock (``select_for_update``) so that two sockets, a view and the sweeper can race
without double endings; channel-layer messages go out after commit (``broadcast``).

The appointments app links a room to a visio appointment with ``open_room(case, agent,
source="appointment:<id>", not_before=..., expires_at=...)`` and shows each person
``join_url(participant)`` (``participant_of(room, user)``).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any, NamedTuple

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _

from contactcenter.exceptions import InvalidState, NotAllowed, NotFound
from contactcenter.models import AuditLog, Case, Channel, Event, User
from contactcenter.permissions import can_act_on_case, record_access
from contactcenter.services import add_event, notify_citizen

from . import conf
from .models import Caption, Participant, Room

logger = logging.getLogger(__name__)

Role = Participant.Role


class TooEarly(InvalidState):
    """The citizen comes before the room's appointment time (``not_before``)."""


NOTIFICATION_KIND = "visio"


def room_group(room_id: uuid.UUID | str) -> str:
    return f"visio.{uuid.UUID(str(room_id)).hex}"


def broadcast(group: str, message: dict[str, Any]) -> None:
    """Send to a channel-layer group once the current transaction commits."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(group, message)

    transaction.on_commit(send)


def ice_servers() -> list[dict]:
    return list(conf.get("ICE_SERVERS"))


def join_url(participant: Participant) -> str:
    return reverse("visio:room", args=[participant.token])


# --- Opening ------------------------------------------------------------------------------------
def may_open(agent: User, case: Case) -> bool:
    """The agent the case is assigned to, or a supervisor (or admin) of its service."""
    if not agent.is_authenticated or not agent.is_staff_member or not can_act_on_case(agent, case):
        return False
    return case.assigned_to_id == agent.pk or agent.is_supervisor or agent.is_admin_role


def open_room(
    case: Case,
    agent: User,
    *,
    source: str = "",
    not_before: datetime | None = None,
    expires_at: datetime | None = None,
) -> Room:
    """Open the case's visio room for its citizen and ``agent`` (or return the one open already:
    idempotent) and alert the citizen (content-free notification).

    Runs in its own transaction, with the case row locked so that two clicks open one room.
    ``NotAllowed`` unless ``may_open``; ``InvalidState`` on a closed case.
    """
    if not may_open(agent, case):
        raise NotAllowed(_("Seul l'agent chargé de la demande peut ouvrir une visio."))
    now = timezone.now()
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if not case.is_open:
            raise InvalidState(_("Cette demande est clôturée."))
        room = Room.objects.filter(case=case, status=Room.Status.OPEN).first()
        if room is not None and not room.is_live(now):
            _finish(room, Room.EndReason.EXPIRED, now)
            room = None
        if room is not None:
            Participant.objects.get_or_create(room=room, user=agent, defaults={"role": Role.AGENT})
            return room
        room = Room.objects.create(
            case=case,
            opened_by=agent,
            source=source[:64],
            created_at=now,
            not_before=not_before,
            expires_at=expires_at or now + conf.get("ROOM_TTL"),
        )
        Participant.objects.create(room=room, user_id=case.citizen_id, role=Role.CITIZEN)
        Participant.objects.create(room=room, user=agent, role=Role.AGENT)
        notify_citizen(case, NOTIFICATION_KIND)
    return room


def participant_of(room: Room, user: User) -> Participant | None:
    return Participant.objects.filter(room=room, user=user).first()


def invite_interpreter(token: str, agent: User, email: str) -> Participant:
    """The room's agent adds an interpreter (a staff account) who may write captions."""
    host = get_participant(token, agent)
    if host.role != Role.AGENT:
        raise NotAllowed(_("Seul l'agent peut inviter un interprète."))
    interpreter = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if interpreter is None or not interpreter.is_staff_member:
        raise ValidationError(_("Aucun compte d'agent ou d'interprète avec cette adresse."))
    if interpreter.pk in (host.user_id, host.room.case.citizen_id):
        raise ValidationError(_("Cette personne participe déjà à la visio."))
    participant, _created = Participant.objects.get_or_create(
        room=host.room, user=interpreter, defaults={"role": Role.INTERPRETER}
    )
    return participant


# --- Entering -----------------------------------------------------------------------------------
def get_participant(token: str, user: User) -> Participant:
    """The participant holding ``token``, if it is ``user``'s and the room is still open.

    ``NotFound`` for a token of nobody or of someone else (a room is never disclosed),
    ``InvalidState`` once the room ended or expired (an expired room is ended on the way)."""
    participant = (
        Participant.objects.select_related("room", "room__case", "user")
        .filter(token=token, user_id=user.pk)
        .first()
    )
    if participant is None or not user.is_authenticated:
        raise NotFound(_("Cette visio n'existe pas."))
    room = participant.room
    if room.status == Room.Status.OPEN and not room.is_live():
        end_room(room.pk, Room.EndReason.EXPIRED)
        room.refresh_from_db()
    if room.status != Room.Status.OPEN:
        raise InvalidState(_("Cette visio est terminée."))
    if participant.role == Role.CITIZEN and room.not_before is not None:
        opens = room.not_before - conf.get("EARLY_ENTRY")
        if timezone.now() < opens:
            raise TooEarly(
                _("La visio ouvrira le %(date)s à %(time)s.")
                % {
                    "date": date_format(timezone.localtime(opens), "DATE_FORMAT"),
                    "time": date_format(timezone.localtime(opens), "TIME_FORMAT"),
                }
            )
    return participant


def record_room_access(participant: Participant) -> None:
    """The room page shows the citizen (name, case): staff reads are audited."""
    if participant.role != Role.CITIZEN:
        record_access(
            participant.user, AuditLog.Action.VIEW_CASE, case=participant.room.case, reason="visio"
        )


def user_rooms(user: User) -> list[Participant]:
    """The open rooms ``user`` may join now, newest first (citizen space, agent list)."""
    now = timezone.now()
    return list(
        Participant.objects.select_related("room", "room__case")
        .filter(user=user, room__status=Room.Status.OPEN, room__expires_at__gt=now)
        .order_by("-room__created_at")[:10]
    )


class Presence(NamedTuple):
    replaced: str  # the channel this socket replaced ("" if none)
    peer: str  # the other media participant's channel when connected ("" otherwise)
    admitted: bool  # the agent let the citizen in from the waiting room
    screen_allowed: bool
    peer_name: str  # who the peer is (the agent sees who waits)
    auto_captions: bool


def connected(participant_id: int, channel_name: str) -> Presence:
    """A socket took the participant's place. The call starts (``started_at``) the first time
    both media sides are connected once the citizen is admitted."""
    now = timezone.now()
    with transaction.atomic():
        participant = Participant.objects.select_for_update().get(pk=participant_id)
        room = Room.objects.select_for_update().get(pk=participant.room_id)
        replaced = participant.channel_name
        participant.channel_name = channel_name
        participant.joined_at = participant.joined_at or now
        participant.left_at = None
        participant.save(update_fields=["channel_name", "joined_at", "left_at"])
        peer, peer_name = "", ""
        if participant.is_media:
            other = (
                Participant.objects.filter(room=room, role=_other_side(participant.role))
                .exclude(channel_name="")
                .select_related("user")
                .first()
            )
            if other is not None:
                peer, peer_name = other.channel_name, other.user.display_name
        if peer and room.admitted_at is not None and room.started_at is None:
            room.started_at = now
            room.save(update_fields=["started_at"])
    return Presence(
        replaced if replaced != channel_name else "",
        peer,
        room.admitted_at is not None,
        room.screen_allowed,
        peer_name,
        room.auto_captions,
    )


def _other_side(role: str) -> str:
    return Role.AGENT if role == Role.CITIZEN else Role.CITIZEN


def _media_channels(room: Room) -> dict[str, str]:
    """The connected media participants' channels by role."""
    rows = (
        Participant.objects.filter(room=room, role__in=(Role.CITIZEN, Role.AGENT))
        .exclude(channel_name="")
        .values_list("role", "channel_name")
    )
    return dict(rows)


def _agent_of(participant_id: int, message: str) -> Participant:
    participant = Participant.objects.get(pk=participant_id)
    if participant.role != Role.AGENT:
        raise NotAllowed(message)
    return participant


# --- Waiting room -------------------------------------------------------------------------------
def admit(participant_id: int) -> bool:
    """The agent lets the citizen in from the waiting room (once: False if admitted already).
    Before, the signalling relays no offer, answer, candidate nor media state between them."""
    agent = _agent_of(participant_id, _("Seul l'agent fait entrer l'usager."))
    now = timezone.now()
    with transaction.atomic():
        room = Room.objects.select_for_update().get(pk=agent.room_id)
        if room.status != Room.Status.OPEN:
            raise InvalidState(_("Cette visio est terminée."))
        if room.admitted_at is not None:
            return False
        room.admitted_at = now
        fields = ["admitted_at"]
        if room.started_at is None and len(_media_channels(room)) == 2:
            room.started_at = now
            fields.append("started_at")
        room.save(update_fields=fields)
    return True


def set_screen_allowed(participant_id: int, allowed: bool) -> None:
    agent = _agent_of(participant_id, _("Seul l'agent autorise le partage d'écran."))
    Room.objects.filter(pk=agent.room_id, status=Room.Status.OPEN).update(screen_allowed=allowed)


def disconnected(participant_id: int, channel_name: str) -> bool:
    """The socket left; only the socket holding the place frees it."""
    return bool(
        Participant.objects.filter(pk=participant_id, channel_name=channel_name).update(
            channel_name="", left_at=timezone.now()
        )
    )


# --- Captions and chat --------------------------------------------------------------------------
def clean_caption(text: Any) -> str:
    return _clean_line(text, conf.get("MAX_CAPTION_CHARS"), _("Sous-titre vide ou trop long."))


def clean_chat(text: Any) -> str:
    """A chat message: plain text (shown with ``textContent``, never as markup), its line
    breaks kept, other blanks collapsed."""
    if not isinstance(text, str):
        raise ValidationError(_("Message invalide."))
    lines = [" ".join(line.split()) for line in text.strip().splitlines()]
    return _clean_line(
        "\n".join(line for line in lines if line),
        conf.get("MAX_CHAT_CHARS"),
        _("Message vide ou trop long."),
        keep_lines=True,
    )


def _clean_line(text: Any, limit: int, message: str, keep_lines: bool = False) -> str:
    if not isinstance(text, str):
        raise ValidationError(_("Sous-titre invalide."))
    if not keep_lines:
        text = " ".join(text.split())
    if not text or len(text) > limit or "\x00" in text:
        raise ValidationError(message)
    return text


def add_caption(participant_id: int, text: str, kind: str = Caption.Kind.CAPTION) -> Caption:
    """A caption (agent or interpreter), a chat message (anyone in the room) or an automatic
    caption (what the citizen or the agent said, transcribed)."""
    participant = Participant.objects.select_related("room").get(pk=participant_id)
    if kind == Caption.Kind.CAPTION and participant.role == Role.CITIZEN:
        raise NotAllowed(_("Seuls l'agent et l'interprète écrivent les sous-titres."))
    room = participant.room
    if room.status != Room.Status.OPEN:
        raise InvalidState(_("Cette visio est terminée."))
    if Caption.objects.filter(room=room, kind=kind).count() >= conf.get("MAX_CAPTIONS"):
        raise InvalidState(_("Trop de messages pour cette visio."))
    return Caption.objects.create(room=room, author_id=participant.user_id, text=text, kind=kind)


def set_auto_captions(participant_id: int, on: bool) -> None:
    """The citizen or the agent switches the automatic captions on or off for the room."""
    participant = Participant.objects.get(pk=participant_id)
    if not participant.is_media:
        raise NotAllowed(_("Seuls l'usager et l'agent activent les sous-titres automatiques."))
    Room.objects.filter(pk=participant.room_id, status=Room.Status.OPEN).update(auto_captions=on)


def set_keep_captions(participant_id: int, keep: bool, kind: str = Caption.Kind.CAPTION) -> None:
    """The agent's choice: captions (or chat messages) go into the case when the call ends."""
    agent = _agent_of(participant_id, _("Seul l'agent choisit ce qui est versé au dossier."))
    field = "keep_chat" if kind == Caption.Kind.CHAT else "keep_captions"
    Room.objects.filter(pk=agent.room_id, status=Room.Status.OPEN).update(**{field: keep})


# --- Ending -------------------------------------------------------------------------------------
def end_room(room_id: uuid.UUID | str, reason: str) -> Room | None:
    """End the room once (None if it had ended already): its record on the timeline, captions
    dropped, and every socket of the room told after commit."""
    with transaction.atomic():
        room = (
            Room.objects.select_for_update()
            .select_related("case")
            .filter(pk=room_id, status=Room.Status.OPEN)
            .first()
        )
        if room is None:
            return None
        _finish(room, reason, timezone.now())
    return room


def end_user_rooms(user: User, reason: str) -> int:
    rooms = Room.objects.filter(participants__user=user, status=Room.Status.OPEN)
    return sum(1 for pk in rooms.values_list("pk", flat=True) if end_room(pk, reason))


def expire_rooms() -> int:
    """The sweep (Celery beat): rooms past their expiry end."""
    expired = Room.objects.filter(status=Room.Status.OPEN, expires_at__lte=timezone.now())
    return sum(
        1 for pk in expired.values_list("pk", flat=True) if end_room(pk, Room.EndReason.EXPIRED)
    )


def _finish(room: Room, reason: str, now: datetime) -> None:
    room.status = Room.Status.ENDED
    room.ended_at = now
    room.end_reason = reason
    room.save(update_fields=["status", "ended_at", "end_reason"])
    if room.started_at is not None:
        _record_on_timeline(room)
    Caption.objects.filter(room=room).delete()
    broadcast(
        room_group(room.pk),
        {
            "type": "visio.ended",
            "reason": reason,
            "label": str(Room.EndReason(reason).label),
        },
    )


def format_duration(seconds: int) -> str:
    minutes, seconds = divmod(max(0, int(seconds)), 60)
    if minutes and seconds:
        return _("%(min)s min %(sec)s s") % {"min": number_format(minutes), "sec": seconds}
    if minutes:
        return _("%(min)s min") % {"min": number_format(minutes)}
    return _("%(sec)s s") % {"sec": seconds}


def _record_on_timeline(room: Room) -> Event:
    """One event: start, end, duration, participants; the captions as the written trace when the
    agent chose to keep them. No media is ever recorded."""
    assert room.started_at is not None and room.ended_at is not None
    seconds = int((room.ended_at - room.started_at).total_seconds())
    people = list(
        Participant.objects.filter(room=room, joined_at__isnull=False)
        .select_related("user")
        .order_by("id")
    )
    agent = next((p.user for p in people if p.role == Role.AGENT), room.opened_by)
    payload = {
        "room": str(room.pk),
        "source": room.source,
        "started_at": room.started_at.isoformat(),
        "ended_at": room.ended_at.isoformat(),
        "duration_seconds": seconds,
        "participants": [
            {"role": p.role, "user_id": p.user_id, "name": p.user.display_name} for p in people
        ],
        "end_reason": room.end_reason,
        "captions_kept": room.keep_captions,
        "chat_kept": room.keep_chat,
    }
    with translation.override(settings.LANGUAGE_CODE):
        names = ", ".join(f"{p.user.display_name} ({Role(p.role).label})" for p in people)
        lines = [
            _("Visio de %(duration)s avec %(names)s.")
            % {"duration": format_duration(seconds), "names": names}
        ]
        kept = [
            (kind, title)
            for kind, keep, title in (
                (Caption.Kind.CAPTION, room.keep_captions, _("Sous-titres :")),
                (Caption.Kind.AUTO, room.keep_captions, _("Sous-titres automatiques :")),
                (Caption.Kind.CHAT, room.keep_chat, _("Messages échangés :")),
            )
            if keep
        ]
        for kind, title in kept:
            lines += _written_trace(room, kind, title)
    return add_event(
        room.case,
        Event.Type.VISIO,
        actor=agent,
        channel=Channel.VISIO,
        body="\n".join(lines),
        payload=payload,
        at=room.ended_at,
    )


def _written_trace(room: Room, kind: str, title: str) -> list[str]:
    lines = list(Caption.objects.filter(room=room, kind=kind).select_related("author"))
    if not lines:
        return []
    local = timezone.localtime
    return ["", title] + [
        f"[{local(c.created_at):%H:%M:%S}] {c.author.display_name if c.author else '—'} : {c.text}"
        for c in lines
    ]
