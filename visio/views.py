"""Visio pages (thin: parse, check permission, call services, render)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contactcenter import speech
from contactcenter.exceptions import InvalidState, NotFound
from contactcenter.idempotency import idempotent
from contactcenter.models import Event
from contactcenter.permissions import get_case_or_404
from contactcenter.traces import trace_prefill

from . import services
from .models import Participant

# The room page alone may use the camera, the microphone and screen capture (the site's
# default Permissions-Policy denies them everywhere else).
ROOM_PERMISSIONS = (
    "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=()"
)


@login_required
@require_POST
@idempotent
def open_room(request, reference):
    """« Démarrer une visio » on a case (workstation, case page): opens or rejoins its room."""
    if not request.user.is_staff_member:
        raise PermissionDenied
    case = get_case_or_404(request.user, reference=reference)
    room = services.open_room(case, request.user)  # NotAllowed / InvalidState: 403 / 409 pages
    participant = services.participant_of(room, request.user)
    assert participant is not None  # open_room made the opener a participant
    if request.htmx:  # the workstation: the link to the room in its dialog (no new window)
        return render(request, "visio/_opened.html", {"room": room, "participant": participant})
    return redirect(services.join_url(participant))


@login_required
def my_rooms(request):
    """The open rooms the person may join (citizen, agent or interpreter)."""
    return render(request, "visio/my_rooms.html", {"rooms": services.user_rooms(request.user)})


def _ended_context(token: str, user) -> dict:
    """For the agent of an ended visio: its timeline event, to write « ce qu'il faut retenir »
    (console/_contact_trace.html, core's trace service)."""
    if not user.is_staff_member:
        return {}
    participant = (
        Participant.objects.select_related("room", "room__case")
        .filter(token=token, user_id=user.pk, role=Participant.Role.AGENT)
        .first()
    )
    if participant is None:
        return {}
    room = participant.room
    contact = (
        Event.objects.filter(
            case_id=room.case_id, type=Event.Type.VISIO, payload__room=str(room.pk)
        )
        .order_by("-id")
        .first()
    )
    if contact is None:
        return {}
    return {"contact": contact, "trace_prefill": trace_prefill(room.case)}


@login_required
def room(request, token):
    try:
        participant = services.get_participant(token, request.user)
    except NotFound:
        raise Http404 from None
    except services.TooEarly as early:
        return render(request, "visio/ended.html", {"early": early.message}, status=409)
    except InvalidState:
        return render(request, "visio/ended.html", _ended_context(token, request.user), status=410)
    services.record_room_access(participant)
    others = (
        Participant.objects.filter(room=participant.room)
        .exclude(pk=participant.pk)
        .select_related("user")
        .order_by("id")
    )
    response = render(
        request,
        "visio/room.html",
        {
            "participant": participant,
            "room": participant.room,
            "case": participant.room.case,
            "others": others,
            "is_agent": participant.role == Participant.Role.AGENT,
            "writes_captions": participant.role != Participant.Role.CITIZEN,
            "has_media": participant.is_media,
            "auto_captions": speech.configured(),
        },
    )
    response["Permissions-Policy"] = ROOM_PERMISSIONS
    return response


@login_required
@require_POST
@idempotent
def invite_interpreter(request, token):
    try:
        services.invite_interpreter(token, request.user, request.POST.get("email", ""))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, _("L'interprète trouve la visio dans « Mes visios » de son compte.")
        )
    return redirect("visio:room", token=token)
