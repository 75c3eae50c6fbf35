"""Secure messaging: the thread operations of both sides of a case.

Messages are ``contactcenter.Event`` rows on the case timeline (``message`` from either side,
``request_info`` when an agent asks for details, ``note`` for internal notes never shown to the
citizen); files are ``messaging.Attachment`` rows linked to the event.

Each operation validates everything first (permission, body, files, status), then writes in one
transaction (staff posts through ``contactcenter.services.post_staff_message``, shared with the
chat's summary) with the case row locked (``select_for_update``) so that two concurrent replies
serialise their status changes. Notifications to the citizen are queued through
``contactcenter.services.notify_citizen``, which fires after commit: nothing is announced that
could still roll back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Literal, Self

from django.core.exceptions import ValidationError
from django.core.files.storage import Storage
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from contactcenter.attachments import CheckedFile, check_uploads
from contactcenter.models import AuditLog, Case, Channel, Event, Topic, User
from contactcenter.services import (
    NOTIFY_ACKNOWLEDGEMENT,
    NOTIFY_CLOSED,
    NOTIFY_REPLY,
    NOTIFY_REQUEST_INFO,
    add_event,
    change_status,
    check_staff_may_act,
    lock_case,
    mark_first_response,
    notify_citizen,
    open_case,
    post_staff_message,
    request_routing,
)
from contactcenter.services import check_message_body as check_body

from .models import Attachment

logger = logging.getLogger("messaging")

SUBJECT_MAX_CHARS = 200
THREAD_EVENT_TYPES = (Event.Type.MESSAGE, Event.Type.REQUEST_INFO, Event.Type.NOTE)


# --- checks ------------------------------------------------------------------------------------


def check_subject(subject: str) -> str:
    subject = " ".join((subject or "").split())
    if not subject:
        raise ValidationError(_("Indiquez l'objet de votre demande."), code="required")
    if len(subject) > SUBJECT_MAX_CHARS:
        raise ValidationError(
            _("L'objet fait %(length)s caractères ; %(max)s au maximum.")
            % {"length": len(subject), "max": SUBJECT_MAX_CHARS},
            code="max_length",
        )
    return subject


def check_citizen_owns(case: Case, citizen: User) -> None:
    if not citizen.is_authenticated or not citizen.is_citizen or case.citizen_id != citizen.pk:
        raise ValidationError(_("Seul l'usager concerné peut écrire dans cette demande."))


def check_drafts(drafts: Iterable[Attachment], case: Case, user: User) -> list[Attachment]:
    """Draft attachments (uploaded through the API) must be the user's own, on this case."""
    drafts = list(drafts or ())
    for draft in drafts:
        if draft.case_id != case.pk or draft.uploaded_by_id != user.pk or not draft.is_draft:
            raise ValidationError(
                _("La pièce jointe « %(name)s » ne peut pas être jointe à ce message.")
                % {"name": draft.original_name},
                code="invalid_attachment",
            )
    return drafts


class _FilesGuard:
    """Delete the files written by a block that fails (Django has no on_rollback hook).

    Enter it inside ``transaction.atomic()`` so that it exits (and deletes) before the rollback.
    """

    def __init__(self) -> None:
        self.paths: list[tuple[Storage, str]] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        if exc_type is not None:
            for storage, path in self.paths:
                storage.delete(path)
        return False


def _attach(
    event: Event,
    case: Case,
    user: User | None,
    files: Sequence[UploadedFile],
    checked: Sequence[CheckedFile],
    drafts: Sequence[Attachment],
    guard: _FilesGuard,
) -> list[Attachment]:
    """Store checked uploads and link draft attachments to ``event`` (inside the transaction)."""
    stored: list[Attachment] = []
    for _upload, info in zip(files, checked, strict=True):
        attachment = Attachment(
            case=case,
            event=event,
            uploaded_by=user,
            original_name=info.name,
            content_type=info.content_type,
            size=info.size,
            sha256=info.sha256,
        )
        # The checked bytes (re-encoded image, validated PDF), never the raw upload.
        attachment.file.save(attachment.extension, info.as_file(), save=False)
        guard.paths.append((attachment.file.storage, attachment.file.name))
        attachment.save()
        stored.append(attachment)
    if drafts:
        linked = Attachment.objects.filter(
            pk__in=[d.pk for d in drafts], event__isnull=True
        ).update(event=event)
        if linked != len(drafts):
            raise ValidationError(
                _("Une pièce jointe a déjà été envoyée avec un autre message."),
                code="invalid_attachment",
            )
        for draft in drafts:
            draft.event = event
    if stored or drafts:
        event.payload = {**event.payload, "attachments": len(stored) + len(drafts)}
        Event.objects.filter(pk=event.pk).update(payload=event.payload)
    return stored + list(drafts)


# --- citizen side ------------------------------------------------------------------------------


def create_request(
    citizen: User,
    topic: Topic,
    kind: str,
    subject: str,
    body: str,
    files: Sequence[UploadedFile] = (),
    chatbot_conversation: int | str | None = None,
    fragile: bool = False,
) -> Case:
    """Open a web request for a citizen: the case, its first message and files, then routing.

    One transaction (the case reference counter is locked until commit); routing is queued after
    commit by ``open_case``. With ``chatbot_conversation`` (a hand-off from the assistant) the
    conversation is put on the timeline by the knowledge app (transcript, fragility).
    """
    if not citizen.is_authenticated or not citizen.is_citizen:
        raise ValidationError(_("Une demande est toujours déposée par un usager."))
    errors: dict[str, list[str]] = {}
    try:
        subject = check_subject(subject)
    except ValidationError as exc:
        errors["subject"] = exc.messages
    try:
        body = check_body(body)
    except ValidationError as exc:
        errors["body"] = exc.messages
    if kind not in Case.Kind.values:
        errors["kind"] = [_("Choisissez la nature de votre demande.")]
    if topic is None or not topic.is_active:
        errors["topic"] = [_("Choisissez un des thèmes proposés.")]
    checked: list[CheckedFile] = []
    try:
        checked = check_uploads(files)
    except ValidationError as exc:
        errors["files"] = exc.messages
    if errors:
        raise ValidationError(errors)
    payload = {"chatbot_conversation": str(chatbot_conversation)} if chatbot_conversation else {}
    with transaction.atomic(), _FilesGuard() as guard:
        case, first = open_case(
            citizen=citizen,
            topic=topic,
            kind=kind,
            channel=Channel.WEB,
            subject=subject,
            body=body,
            actor=citizen,
            payload=payload,
            fragile=bool(fragile),
        )
        _attach(first, case, citizen, list(files), checked, (), guard)
        if chatbot_conversation:
            _attach_chatbot_conversation(chatbot_conversation, citizen, case)
        # The acknowledgement of receipt, with the date of the answer (the topic's SLA).
        notify_citizen(case, NOTIFY_ACKNOWLEDGEMENT)
    return case


def _attach_chatbot_conversation(conversation_id: int | str, citizen: User, case: Case) -> None:
    """Put the assistant conversation on the timeline (knowledge app's hand-off contract).

    Runs in a savepoint: a conversation that cannot be attached (unknown, someone else's, the
    knowledge app missing) never blocks the citizen's request.
    """
    try:
        from knowledge.services import attach_conversation_to_case
    except ImportError:
        return
    try:
        with transaction.atomic():
            attach_conversation_to_case(conversation_id, citizen, case)
    except Exception:  # noqa: BLE001 - see docstring
        logger.warning(
            "Chatbot conversation %r not attached to %s",
            conversation_id,
            case.reference,
            exc_info=True,
        )


def chatbot_handoff(conversation_id: int | str, citizen: User) -> dict[str, Any] | None:
    """What the assistant hand-off brings (topic slug, fragility, transcript), owner only."""
    if not conversation_id:
        return None
    try:
        from knowledge.services import handoff_context
    except ImportError:
        return None
    try:
        return handoff_context(conversation_id, citizen)
    except Exception:  # noqa: BLE001 - a broken hand-off must not block the request form
        logger.warning("Chatbot hand-off %r unreadable", conversation_id, exc_info=True)
        return None


def post_citizen_message(
    case: Case,
    citizen: User,
    body: str,
    files: Sequence[UploadedFile] = (),
    attachments: Sequence[Attachment] = (),
) -> Event:
    """The citizen writes in their request. A case waiting on them (or answered) goes back to
    in progress; a closed case must be reopened first.

    One transaction with the case row locked.
    """
    check_citizen_owns(case, citizen)
    errors: dict[str, list[str]] = {}
    try:
        body = check_body(body)
    except ValidationError as exc:
        errors["body"] = exc.messages
    checked: list[CheckedFile] = []
    drafts: list[Attachment] = []
    try:
        drafts = check_drafts(attachments, case, citizen)
        checked = check_uploads(files, already=len(drafts))
    except ValidationError as exc:
        errors["files"] = exc.messages
    if errors:
        raise ValidationError(errors)
    with transaction.atomic(), _FilesGuard() as guard:
        lock_case(case)
        if case.status == Case.Status.CLOSED:
            raise ValidationError(
                _("Cette demande est clôturée. Rouvrez-la pour écrire à nouveau."),
                code="closed",
            )
        event = add_event(case, Event.Type.MESSAGE, actor=citizen, channel=Channel.WEB, body=body)
        _attach(event, case, citizen, list(files), checked, drafts, guard)
        if case.status in (Case.Status.WAITING_CITIZEN, Case.Status.ANSWERED):
            change_status(case, Case.Status.IN_PROGRESS, actor=citizen)
            if case.assigned_to_id is None:
                # Nobody owns it: let routing find someone rather than leave it unseen.
                request_routing(case)
    return event


def citizen_close(case: Case, citizen: User) -> Event:
    """The citizen closes their own request (nothing more is expected from the service)."""
    check_citizen_owns(case, citizen)
    resolution = (
        Case.Resolution.ANSWERED
        if case.status == Case.Status.ANSWERED
        else Case.Resolution.NO_FOLLOW_UP
    )
    return close_case(case, citizen, resolution)


# --- agent side --------------------------------------------------------------------------------


class _StaffFiles(_FilesGuard):
    """A staff message's uploads and draft attachments, for ``post_staff_message``: checked
    before its transaction, stored on the new event inside it (deleted if it fails)."""

    def __init__(
        self,
        case: Case,
        user: User,
        files: Sequence[UploadedFile],
        drafts: Sequence[Attachment],
    ) -> None:
        super().__init__()
        self.case, self.user = case, user
        self.files, self.drafts = list(files), list(drafts or ())
        self.checked: list[CheckedFile] = []

    def check(self) -> None:
        self.drafts = check_drafts(self.drafts, self.case, self.user)
        self.checked = check_uploads(self.files, already=len(self.drafts))

    def attach(self, event: Event) -> None:
        _attach(event, self.case, self.user, self.files, self.checked, self.drafts, self)


class GeneratedFiles(_FilesGuard):
    """Documents generated by Guichet (``(name, bytes)``, e.g. the voice server's attestation),
    for ``contactcenter.services.post_service_document``: checked like any upload (type by
    content, size), stored without uploader."""

    def __init__(self, case: Case, files: Sequence[tuple[str, bytes]]) -> None:
        super().__init__()
        self.case = case
        self.files: list[UploadedFile] = [
            SimpleUploadedFile(name, content, content_type="application/octet-stream")
            for name, content in files
        ]
        self.checked: list[CheckedFile] = []

    def check(self) -> None:
        self.checked = check_uploads(self.files)

    def attach(self, event: Event) -> None:
        _attach(event, self.case, None, self.files, self.checked, (), self)


def _staff_post(
    case: Case,
    agent: User,
    body: str,
    files: Sequence[UploadedFile],
    attachments: Sequence[Attachment],
    *,
    event_type: str,
    status: str | None,
    notify: str | None,
    internal: bool = False,
) -> Event:
    return post_staff_message(
        case,
        agent,
        body,
        event_type=event_type,
        status=status,
        notify=notify,
        internal=internal,
        files=_StaffFiles(case, agent, files, attachments),
    )


def post_agent_reply(
    case: Case,
    agent: User,
    body: str,
    files: Sequence[UploadedFile] = (),
    attachments: Sequence[Attachment] = (),
) -> Event:
    """An agent answers: the case becomes ``answered`` and the citizen is notified after commit.

    One transaction with the case row locked; marks the first response time.
    """
    return _staff_post(
        case,
        agent,
        body,
        files,
        attachments,
        event_type=Event.Type.MESSAGE,
        status=Case.Status.ANSWERED,
        notify=NOTIFY_REPLY,
    )


def request_details(
    case: Case,
    agent: User,
    body: str,
    files: Sequence[UploadedFile] = (),
    attachments: Sequence[Attachment] = (),
) -> Event:
    """An agent asks the citizen for details: the case waits on the citizen, who is notified.

    One transaction with the case row locked.
    """
    return _staff_post(
        case,
        agent,
        body,
        files,
        attachments,
        event_type=Event.Type.REQUEST_INFO,
        status=Case.Status.WAITING_CITIZEN,
        notify=NOTIFY_REQUEST_INFO,
    )


def add_internal_note(case: Case, agent: User, body: str) -> Event:
    """A note for colleagues, never shown to the citizen. Status unchanged, no notification."""
    return _staff_post(
        case,
        agent,
        body,
        (),
        (),
        event_type=Event.Type.NOTE,
        status=None,
        notify=None,
        internal=True,
    )


# --- closing and reopening ---------------------------------------------------------------------


def close_case(case: Case, actor: User, resolution: str, body: str = "") -> Event:
    """Close a case with a resolution. Staff may add a closing message; the citizen is notified
    when staff close it. The citizen may close their own case (no notification to themselves).

    One transaction with the case row locked.
    """
    by_citizen = actor.is_authenticated and actor.is_citizen
    if by_citizen:
        check_citizen_owns(case, actor)
    else:
        check_staff_may_act(case, actor)
    errors: dict[str, list[str]] = {}
    if resolution not in Case.Resolution.values:
        errors["resolution"] = [_("Choisissez la résolution de la demande.")]
    body = (body or "").strip()
    if body:
        try:
            body = check_body(body)
        except ValidationError as exc:
            errors["body"] = exc.messages
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        lock_case(case)
        if case.status == Case.Status.CLOSED:
            raise ValidationError(_("Cette demande est déjà clôturée."), code="already_closed")
        if body:
            add_event(case, Event.Type.MESSAGE, actor=actor, channel=Channel.WEB, body=body)
            if not by_citizen:
                mark_first_response(case)
        event = change_status(case, Case.Status.CLOSED, actor=actor, resolution=resolution)
        if not by_citizen:
            notify_citizen(case, NOTIFY_CLOSED)
    assert event is not None  # the case was not closed: the status did change
    return event


def reopen_case(case: Case, actor: User) -> Event:
    """Reopen a closed case: back to its owner (in progress) or, without one, to the queue.

    One transaction with the case row locked; routing is asked after commit when unowned.
    """
    if actor.is_authenticated and actor.is_citizen:
        check_citizen_owns(case, actor)
    else:
        check_staff_may_act(case, actor)
    with transaction.atomic():
        lock_case(case)
        if case.status != Case.Status.CLOSED:
            raise ValidationError(_("Cette demande n'est pas clôturée."), code="not_closed")
        if case.assigned_to_id:
            event = change_status(case, Case.Status.IN_PROGRESS, actor=actor)
        else:
            event = change_status(case, Case.Status.NEW, actor=actor)
            request_routing(case)
    assert event is not None  # the case was closed: the status did change
    return event


# --- reading -----------------------------------------------------------------------------------


def thread_events(case: Case, *, include_internal: bool) -> QuerySet[Event]:
    """The case timeline as shown in a thread, with authors and attachments preloaded."""
    events = Event.objects.filter(case=case).select_related("actor", "service")
    if not include_internal:
        events = events.filter(internal=False)
    return events.prefetch_related("attachments").order_by("created_at", "id")


# --- the citizen's access log ---------------------------------------------------------------

# Reads of one case by one agent less than this apart belong to one reading session: a chat or
# a case worked for an hour writes many audit records, the citizen reads one row.
ACCESS_SESSION_GAP = timedelta(minutes=30)


@dataclass
class AccessGroup:
    """Consecutive reads of one case (or file) by one agent, for one action, in one session."""

    first: AuditLog  # the earliest record of the group (service, case, action shown from it)
    first_at: datetime
    last_at: datetime
    count: int = 1

    @property
    def created_at(self) -> datetime:
        return self.first_at


def group_accesses(accesses: Iterable[AuditLog]) -> list[AccessGroup]:
    """Group audit records (any order) into reading sessions, newest session first.

    Records of the same agent, case, action and service whose times are less than
    ``ACCESS_SESSION_GAP`` apart form one group, whatever other reads happened in between. The
    agent is the grouping key only: the citizen never sees who it was."""
    ordered = sorted(accesses, key=lambda a: (a.created_at, a.pk))
    open_groups: dict[tuple[Any, ...], AccessGroup] = {}
    groups: list[AccessGroup] = []
    for access in ordered:
        key = (access.actor_id, access.case_id, access.action, access.actor_service_id)
        group = open_groups.get(key)
        if group is not None and access.created_at - group.last_at < ACCESS_SESSION_GAP:
            group.last_at = access.created_at
            group.count += 1
            continue
        group = AccessGroup(first=access, first_at=access.created_at, last_at=access.created_at)
        open_groups[key] = group
        groups.append(group)
    groups.sort(key=lambda g: (g.last_at, g.first.pk), reverse=True)
    return groups
