"""What the console does for the e-mail channel: the quarantine (staff of a mailbox's service
read the messages that could not be imported, release one onto a case or delete it; reading a
source is audited like an attachment, releasing and deleting are kept on the row: who, when)
and linking an unidentified sender's case to a citizen."""

from __future__ import annotations

import email.utils

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.exceptions import InvalidState, NotFound
from contactcenter.models import AuditLog, Case, Channel, Event, User
from contactcenter.permissions import record_access, user_service_ids
from contactcenter.services import add_event, open_case

from .acknowledge import notify_linked
from .headers import message_key
from .models import Mailbox, MailMessage, QuarantinedMail
from .services import (
    MAX_BODY_CHARS,
    UNIDENTIFIED_SENDER_EMAIL,
    import_message,
    unidentified_sender,
)

SOURCE_PREVIEW_CHARS = 50_000


def visible_quarantine(user: User) -> QuerySet[QuarantinedMail]:
    """The messages waiting in the quarantine of the user's services' mailboxes."""
    return (
        QuarantinedMail.objects.filter(
            mailbox__service_id__in=user_service_ids(user),
            status=QuarantinedMail.Status.PENDING,
        )
        .select_related("mailbox__service")
        .defer("raw")
    )


def pending_count(user: User) -> int | None:
    """The console menu's figure: how many messages wait in the quarantine of the user's
    services' mailboxes; None for staff whose services have no mailbox (no link shown)."""
    if not user.is_authenticated or not user.is_staff_member:
        return None
    figures = Mailbox.objects.filter(service_id__in=user_service_ids(user)).aggregate(
        mailboxes=Count("id", distinct=True),
        pending=Count("quarantine", filter=Q(quarantine__status=QuarantinedMail.Status.PENDING)),
    )
    return figures["pending"] if figures["mailboxes"] else None


def get_item(user: User, pk: int) -> QuarantinedMail:
    item = (
        QuarantinedMail.objects.filter(pk=pk, mailbox__service_id__in=user_service_ids(user))
        .select_related("mailbox__service", "case")
        .first()
    )
    if item is None:
        raise NotFound(_("Courriel introuvable"))
    return item


def read_source(user: User, item: QuarantinedMail) -> str:
    """The source as text for display (audited)."""
    record_access(
        user,
        AuditLog.Action.VIEW_ATTACHMENT,
        detail={"quarantined_mail": item.pk, "mailbox": item.mailbox.address},
    )
    return bytes(item.raw or b"")[:SOURCE_PREVIEW_CHARS].decode("utf-8", "replace")


def _lenient_sender(raw: bytes) -> str:
    for line in raw[:20_000].decode("latin-1").splitlines():
        if line.lower().startswith("from:"):
            address = email.utils.parseaddr(line[5:].strip())[1].lower()
            if "@" in address:
                return address
    return ""


def _handled(item: QuarantinedMail, user: User, status: str, case: Case | None) -> None:
    updated = QuarantinedMail.objects.filter(
        pk=item.pk, status=QuarantinedMail.Status.PENDING
    ).update(status=status, handled_by=user, handled_at=timezone.now(), case=case)
    if not updated:
        raise InvalidState(_("Ce courriel a déjà été traité."))
    item.status, item.case = status, case


def release(item: QuarantinedMail, user: User) -> Case:
    """Import the message again (a reader fixed since); if it is still unreadable, open a case
    of the unidentified sender with its source as text, for an agent to read."""
    if item.status != QuarantinedMail.Status.PENDING:
        raise InvalidState(_("Ce courriel a déjà été traité."))
    raw = bytes(item.raw or b"")
    with transaction.atomic():
        result = import_message(item.mailbox, raw, uid=item.uid)
        case = result.message.case if result.message is not None else None
        if case is None:
            sender = _lenient_sender(raw)
            text = raw[:MAX_BODY_CHARS].decode("utf-8", "replace")
            case, event = open_case(
                citizen=unidentified_sender(),
                topic=item.mailbox.default_topic,
                kind=Case.Kind.QUESTION,
                channel=Channel.EMAIL,
                subject=_("Courriel libéré de la quarantaine"),
                body=text,
                payload={"unidentified_sender": sender, "quarantine": item.pk},
            )
            MailMessage.objects.get_or_create(
                mailbox=item.mailbox,
                key=message_key("", raw),
                defaults={
                    "direction": MailMessage.Direction.INBOUND,
                    "status": MailMessage.Status.IMPORTED,
                    "sender": sender,
                    "recipient": item.mailbox.address,
                    "subject": _("Courriel libéré de la quarantaine"),
                    "case": case,
                    "event": event,
                    "body": text,
                    "raw": raw,
                },
            )
        _handled(item, user, QuarantinedMail.Status.RELEASED, case)
    return case


def discard(item: QuarantinedMail, user: User) -> None:
    """Delete a quarantined message: its source is erased, the row says who and when."""
    with transaction.atomic():
        _handled(item, user, QuarantinedMail.Status.DELETED, None)
        QuarantinedMail.objects.filter(pk=item.pk).update(raw=b"")


# --- linking an unidentified sender ---------------------------------------------------------


def unidentified_address(case: Case) -> str:
    """The sender's address of a case held by the unidentified-sender account ("" otherwise)."""
    if case.citizen.email != UNIDENTIFIED_SENDER_EMAIL:
        return ""
    last = (
        MailMessage.objects.filter(case=case, direction=MailMessage.Direction.INBOUND)
        .exclude(sender="")
        .order_by("-created_at", "-id")
        .first()
    )
    return last.sender if last is not None else ""


def link_sender(case: Case, citizen: User, agent: User) -> MailMessage | None:
    """Give an unidentified sender's case to the citizen an agent recognised: the case and its
    timeline move to the citizen's file, and the sender is told by e-mail to use the secure
    space next time (the notice, rate limited like every automatic message)."""
    from contactcenter.permissions import can_see_case

    if not can_see_case(agent, case) or not agent.is_staff_member:
        raise NotFound(_("Demande introuvable"))
    address = unidentified_address(case)
    if not address:
        raise InvalidState(_("Cette demande n'est pas celle d'un expéditeur non identifié."))
    if not citizen.is_citizen or not citizen.is_active:
        raise InvalidState(_("Choisissez un usager dont le compte est actif."))
    with transaction.atomic():
        updated = Case.objects.filter(pk=case.pk, citizen__email=UNIDENTIFIED_SENDER_EMAIL).update(
            citizen=citizen
        )
        if not updated:
            raise InvalidState(_("Cette demande a déjà été rattachée."))
        case.citizen = citizen
        case.events.update(citizen_id=citizen.pk)
        add_event(
            case,
            Event.Type.NOTE,
            actor=agent,
            channel=Channel.EMAIL,
            internal=True,
            body=_("Expéditeur %(address)s rattaché à l'usager %(name)s.")
            % {"address": address, "name": citizen.display_name},
            payload={"linked_sender": address, "citizen": citizen.pk},
        )
        return notify_linked(case, address)
