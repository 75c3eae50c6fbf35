"""Business logic of the core domain: cases and their timeline.

Channels (messaging, chat, cobrowse, knowledge, agent-recorded contacts) call these functions;
views stay thin. Every function that writes several rows runs in one transaction.
"""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from types import TracebackType
from typing import Any, Protocol, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from . import surveys
from .models import Case, Channel, Event, ReferenceCounter, Satisfaction, Service, Topic, User
from .permissions import ServicePrincipal, can_act_on_case
from .signals import (
    case_needs_routing,
    citizen_notification,
    event_files,
    service_files,
    visio_room_requested,
)


def next_reference(year: int | None = None) -> str:
    """Return the next case reference for the year ('2026-000123').

    Must run inside a transaction: the counter row is locked until commit so that two
    concurrent requests never get the same number.
    """
    year = year or timezone.localdate().year
    counter = ReferenceCounter.objects.filter(year=year)
    # The UPDATE takes the row lock (held until commit); the year's row is created once.
    if not counter.update(last=F("last") + 1):
        ReferenceCounter.objects.get_or_create(year=year)
        counter.update(last=F("last") + 1)
    last = counter.values_list("last", flat=True).get()
    return f"{year}-{last:06d}"


def add_event(
    case: Case,
    type: str,
    *,
    actor: User | None = None,
    channel: str | None = None,
    body: str = "",
    internal: bool = False,
    payload: dict[str, Any] | None = None,
    touch: bool = True,
    at: dt.datetime | None = None,
    service: Service | None = None,
) -> Event:
    """Append one event to a case's timeline (and bump the case's last activity).

    The event is signed by ``service``, by default the service handling the case now (so an
    answer keeps its author's service after a transfer). An API client (``ServicePrincipal``)
    acts under its technical account, named after the client."""
    if isinstance(actor, ServicePrincipal):
        actor = actor.account
    now = at or timezone.now()
    event = Event.objects.create(
        case=case,
        citizen_id=case.citizen_id,
        type=type,
        channel=channel or case.channel,
        service_id=service.pk if service is not None else case.service_id,
        actor=actor,
        internal=internal,
        body=body,
        payload=payload or {},
        created_at=now,
    )
    if touch and not internal:
        Case.objects.filter(pk=case.pk).update(last_activity_at=now)
        case.last_activity_at = now
    surveys.offer_after(case, event)
    return event


def validate_body(
    body: str | None, *, max_chars: int = 10_000, field_label: str | None = None
) -> str:
    body = (body or "").strip()
    if not body:
        raise ValidationError(_("Le message ne peut pas être vide."), code="required")
    if len(body) > max_chars:
        raise ValidationError(
            _("Le message fait %(length)s caractères ; %(max)s au maximum.")
            % {"length": len(body), "max": max_chars},
            code="max_length",
        )
    return body


@transaction.atomic
def open_case(
    *,
    citizen: User,
    topic: Topic,
    kind: str,
    channel: str,
    subject: str,
    first_event_type: str = Event.Type.MESSAGE,
    body: str = "",
    actor: User | None = None,
    payload: dict[str, Any] | None = None,
    fragile: bool = False,
    route: bool = True,
    status: str = Case.Status.NEW,
) -> tuple[Case, Event]:
    """Create a case for a citizen with its first timeline event, then route it after commit.

    Runs in a transaction (reference counter lock, case and first event written together).
    """
    if not citizen.is_citizen:
        raise ValidationError(_("Une demande est toujours ouverte pour un usager."))
    if kind not in Case.Kind.values:
        raise ValidationError(_("Nature de demande inconnue."), code="invalid_kind")
    if channel not in Channel.values:
        raise ValidationError(_("Canal inconnu."), code="invalid_channel")
    if not topic.is_active:
        raise ValidationError(_("Ce thème n'est plus proposé."), code="inactive_topic")
    subject = (subject or "").strip()[:200] or topic.title
    now = timezone.now()
    case = Case.objects.create(
        reference=next_reference(now.astimezone(timezone.get_current_timezone()).year),
        citizen=citizen,
        topic=topic,
        service=topic.service,
        kind=kind,
        channel=channel,
        subject=subject,
        status=status,
        fragile=fragile,
        created_at=now,
        last_activity_at=now,
        closed_at=now if status == Case.Status.CLOSED else None,
    )
    event = add_event(
        case,
        first_event_type,
        actor=actor or citizen,
        channel=channel,
        body=body,
        payload=payload,
        at=now,
        touch=False,  # the case was just written with last_activity_at=now
    )
    if route and status == Case.Status.NEW:
        request_routing(case)
    return case, event


def request_routing(case: Case) -> None:
    """Ask routing (if installed) to find an owner for this case once the transaction commits."""
    case_id = case.pk
    transaction.on_commit(lambda: case_needs_routing.send(sender=Case, case_id=case_id))


def notify_citizen(case: Case, kind: str) -> None:
    """Tell the citizen, after commit, that something awaits them. Never carries content."""
    citizen_id, case_id = case.citizen_id, case.pk
    transaction.on_commit(
        lambda: citizen_notification.send(
            sender=Case, citizen_id=citizen_id, case_id=case_id, kind=kind
        )
    )


ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    Case.Status.NEW: {
        Case.Status.ASSIGNED,
        Case.Status.IN_PROGRESS,
        Case.Status.WAITING_CITIZEN,
        Case.Status.ANSWERED,
        Case.Status.CLOSED,
    },
    Case.Status.ASSIGNED: {
        Case.Status.NEW,
        Case.Status.IN_PROGRESS,
        Case.Status.WAITING_CITIZEN,
        Case.Status.ANSWERED,
        Case.Status.CLOSED,
    },
    Case.Status.IN_PROGRESS: {
        Case.Status.NEW,
        Case.Status.WAITING_CITIZEN,
        Case.Status.ANSWERED,
        Case.Status.CLOSED,
        Case.Status.ASSIGNED,
    },
    Case.Status.WAITING_CITIZEN: {
        Case.Status.IN_PROGRESS,
        Case.Status.ANSWERED,
        Case.Status.CLOSED,
        Case.Status.NEW,
    },
    Case.Status.ANSWERED: {Case.Status.IN_PROGRESS, Case.Status.CLOSED, Case.Status.NEW},
    Case.Status.CLOSED: {Case.Status.IN_PROGRESS, Case.Status.NEW},
}


def change_status(
    case: Case,
    status: str,
    *,
    actor: User | None = None,
    resolution: str = "",
    internal: bool = False,
) -> Event | None:
    """Move a case to a new status and record it on the timeline. No-op if unchanged.

    Call inside the caller's transaction; uses a conditional update on the current status so
    that two concurrent changes cannot both apply.
    """
    if status == case.status:
        return None
    if status not in ALLOWED_TRANSITIONS.get(case.status, set()):
        raise ValidationError(
            _("Impossible de passer de « %(old)s » à « %(new)s ».")
            % {"old": case.get_status_display(), "new": Case.Status(status).label},
            code="invalid_transition",
        )
    now = timezone.now()
    changes: dict[str, Any] = {"status": status, "last_activity_at": now}
    if status == Case.Status.CLOSED:
        changes["closed_at"] = now
        if resolution:
            changes["resolution"] = resolution
    elif case.status == Case.Status.CLOSED:
        changes["closed_at"] = None
        changes["resolution"] = ""
    updated = Case.objects.filter(pk=case.pk, status=case.status).update(**changes)
    if updated != 1:
        raise ValidationError(
            _("La demande a été modifiée entre-temps ; rechargez la page."), code="conflict"
        )
    old = case.status
    for field, value in changes.items():
        setattr(case, field, value)
    return add_event(
        case,
        Event.Type.STATUS,
        actor=actor,
        internal=internal,
        payload={"from": old, "to": status, "resolution": changes.get("resolution", "")},
        at=now,
    )


def mark_first_response(case: Case, at: dt.datetime | None = None) -> None:
    if case.first_response_at is None:
        at = at or timezone.now()
        Case.objects.filter(pk=case.pk, first_response_at__isnull=True).update(first_response_at=at)
        case.first_response_at = at


# --- staff messages on the timeline ------------------------------------------------------------

# Kinds passed to notify_citizen (and stored on the outbox rows).
NOTIFY_REPLY = "reply"
NOTIFY_REQUEST_INFO = "request_info"
NOTIFY_CLOSED = "closed"
NOTIFY_DOCUMENT = "document"
NOTIFY_ACKNOWLEDGEMENT = "acknowledgement"


def check_message_body(body: str | None) -> str:
    """A message body within ``GUICHET_MESSAGE_MAX_CHARS`` (stripped), else ValidationError."""
    return validate_body(body, max_chars=settings.GUICHET_MESSAGE_MAX_CHARS)


def check_staff_may_act(case: Case, agent: User) -> None:
    if not agent.is_authenticated or not can_act_on_case(agent, case):
        raise ValidationError(_("Vous n'êtes pas habilité à traiter cette demande."))


def lock_case(case: Case) -> Case:
    """Re-read the case under a row lock (inside the caller's transaction) and refresh ``case``."""
    fresh = Case.objects.select_for_update().get(pk=case.pk)
    for field in (
        "status",
        "assigned_to_id",
        "resolution",
        "first_response_at",
        "last_activity_at",
        "closed_at",
        "service_id",
    ):
        setattr(case, field, getattr(fresh, field))
    return case


class MessageFiles(Protocol):
    """Files a channel joins to a staff message (messaging's attachments).

    ``check()`` runs before the transaction (its ValidationError is shown under ``files``); the
    object is then entered inside the transaction (to clean up what it stored if the block
    fails) and ``attach(event)`` stores the files on the new event."""

    def check(self) -> None: ...

    def attach(self, event: Event) -> None: ...

    def __enter__(self) -> MessageFiles: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None: ...


def post_staff_message(
    case: Case,
    agent: User,
    body: str,
    *,
    event_type: str = Event.Type.MESSAGE,
    status: str | None = Case.Status.ANSWERED,
    notify: str | None = NOTIFY_REPLY,
    internal: bool = False,
    files: MessageFiles | None = None,
) -> Event:
    """A member of staff writes on the case timeline; by default an answer to the citizen.

    Checks the permission, the body and ``files`` first (one ValidationError with every field's
    errors), then one transaction with the case row locked (two concurrent posts serialise
    their status changes): the event, its files, the new ``status``, the first response time
    (unless ``internal``) and the citizen's content-free notification ``notify`` after commit.
    A closed case refuses anything but an internal note. Used by the secure messaging (reply,
    request for details, note) and by the chat (the summary sent after a conversation).
    """
    check_staff_may_act(case, agent)
    errors: dict[str, list[str]] = {}
    try:
        body = check_message_body(body)
    except ValidationError as exc:
        errors["body"] = exc.messages
    if files is not None:
        try:
            files.check()
        except ValidationError as exc:
            errors["files"] = exc.messages
    if errors:
        raise ValidationError(errors)
    with transaction.atomic(), files if files is not None else nullcontext():
        lock_case(case)
        if case.status == Case.Status.CLOSED and not internal:
            raise ValidationError(
                _("Cette demande est clôturée. Rouvrez-la avant de répondre."), code="closed"
            )
        event = add_event(
            case, event_type, actor=agent, channel=Channel.WEB, body=body, internal=internal
        )
        if files is not None:
            files.attach(event)
        if status:
            change_status(case, status, actor=agent)
        if not internal:
            mark_first_response(case, at=event.created_at)
        # A channel that delivered the answer itself to the citizen's own address (the e-mail
        # channel: post_save of Event) marks it: no second, content-free alert for it.
        if notify and not (event.payload or {}).get("delivered_to_citizen"):
            notify_citizen(case, notify)
    return event


def files_of_event(event: Event) -> list[tuple[str, str, bytes]]:
    """The files stored with an event, ``(name, content_type, bytes)``, from the app connected
    to ``event_files`` (messaging's attachments): what a channel sends with the answer."""
    files: list[tuple[str, str, bytes]] = []
    for _receiver, result in event_files.send(sender=Event, event=event):
        files.extend(cast(list[tuple[str, str, bytes]], result or []))
    return files


def post_service_document(
    case: Case, body: str, files: list[tuple[str, bytes]], *, channel: str
) -> Event:
    """A document generated by Guichet itself (no member of staff writes it: the voice
    server's attestation of a request) lands in the case's secure messaging thread: a
    ``message`` event without actor, visible to the citizen, with ``files`` (``(name, bytes)``)
    stored as attachments by the app connected to ``service_files`` (messaging), and the
    content-free notification. The status does not change: a document answers nothing.

    The files are checked first (ValidationError), then one transaction with the case row
    locked; the files written are deleted if it fails.
    """
    body = check_message_body(body)
    sent = service_files.send(sender=Case, case=case, files=files)
    stores = [cast(MessageFiles, result) for _receiver, result in sent if result is not None]
    if len(stores) != 1:
        raise RuntimeError("exactly one app must store the documents (messaging)")
    store = stores[0]
    store.check()
    with transaction.atomic(), store:
        lock_case(case)
        event = add_event(
            case,
            Event.Type.MESSAGE,
            channel=channel,
            body=body,
            internal=False,
            payload={"document": True},
        )
        store.attach(event)
        notify_citizen(case, NOTIFY_DOCUMENT)
    return event


@transaction.atomic
def rate_case(case: Case, citizen: User, score: int, comment: str = "") -> Satisfaction:
    """Record (or update) the citizen's satisfaction for a case once it is answered or closed."""
    if case.citizen_id != citizen.pk:
        raise ValidationError(_("Seul l'usager concerné peut donner son avis."))
    if not case.can_be_rated:
        raise ValidationError(
            _("Vous pourrez donner votre avis une fois la demande traitée."), code="not_rateable"
        )
    try:
        score = int(score)
    except (TypeError, ValueError):
        raise ValidationError(_("Choisissez une note entre 1 et 5."), code="invalid_score")
    if not 1 <= score <= 5:
        raise ValidationError(_("Choisissez une note entre 1 et 5."), code="invalid_score")
    comment = (comment or "").strip()
    if len(comment) > 2000:
        raise ValidationError(_("Le commentaire fait 2 000 caractères au maximum."))
    satisfaction, _created = Satisfaction.objects.update_or_create(
        case=case,
        event=None,
        defaults={
            "citizen": citizen,
            "channel": case.channel,
            "service": case.service,
            "score": score,
            "comment": comment,
            "created_at": timezone.now(),
        },
    )
    add_event(
        case,
        Event.Type.RATING,
        actor=citizen,
        payload={"score": score},
        body=comment,
        touch=False,
    )
    return satisfaction


HISTORY_EVENT_TYPES = (
    Event.Type.MESSAGE,
    Event.Type.REQUEST_INFO,
    Event.Type.CONTACT,
    Event.Type.CHAT,
    Event.Type.CHATBOT,
    Event.Type.CALLBACK,
    Event.Type.CALL,
    Event.Type.COBROWSE,
    Event.Type.VISIO,
    Event.Type.TRANSFER,
)


def citizen_history(citizen: User) -> QuerySet[Event]:
    """Every contact with the administration, any channel, newest first (citizen-visible only)."""
    return (
        Event.objects.filter(citizen=citizen, internal=False, type__in=HISTORY_EVENT_TYPES)
        .select_related("case", "case__service", "service", "actor")
        .order_by("-created_at", "-id")
    )


def request_visio_room(
    case: Case,
    agent: User,
    *,
    source: str = "",
    not_before: dt.datetime | None = None,
    expires_at: dt.datetime | None = None,
) -> dict[int, str]:
    """Open the case's visio room (or the one open already) for its citizen and ``agent``,
    through the visio channel (``visio_room_requested``): ``{user_id: room path}`` of each
    participant, {} without a visio app. The citizen gets the content-free alert. Refuses with
    ``NotAllowed`` (not the case's agent or a supervisor) or ``InvalidState`` (closed case)."""
    for _receiver, paths in visio_room_requested.send(
        sender=Case,
        case=case,
        agent=agent,
        source=source,
        not_before=not_before,
        expires_at=expires_at,
    ):
        if paths:
            return cast(dict[int, str], paths)
    return {}
