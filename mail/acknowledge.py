"""The channel's automatic messages to senders: the acknowledgement of a new request (once per
case, with its reference and the expected answer date) and the notice sent when an agent links
an unidentified sender to a citizen.

Loop protection: never in answer to a machine (``Auto-Submitted``, bulk, list, bounce: those
open no case), never to a no-reply or list address nor to one of our own mailboxes, and at
most ``MAIL_AUTOMATIC_PER_SENDER`` automatic messages per address per
``MAIL_AUTOMATIC_WINDOW``; what the channel sends is marked ``Auto-Submitted: auto-replied``
so that well-behaved autoresponders stay silent."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from contactcenter.models import Case
from routing import deadline_for

from .models import Mailbox, MailMessage
from .outbound import new_outbound

logger = logging.getLogger("mail")

NO_REPLY_LOCAL_PARTS = frozenset(
    {
        "mailer-daemon",
        "postmaster",
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
        "ne-pas-repondre",
        "nepasrepondre",
        "listserv",
        "majordomo",
    }
)


def may_send_automatic(address: str, now: dt.datetime | None = None) -> bool:
    """Whether an automatic message may go to ``address`` now (loop protection)."""
    address = address.strip().lower()
    local = address.split("@", 1)[0]
    if local in NO_REPLY_LOCAL_PARTS or local.startswith("owner-") or local.endswith("-request"):
        return False
    if Mailbox.objects.filter(address__iexact=address).exists():
        return False  # one of our own functional addresses: a loop between two services
    now = now or timezone.now()
    recent = (
        MailMessage.objects.filter(
            direction=MailMessage.Direction.OUTBOUND,
            recipient=address,
            created_at__gte=now - settings.MAIL_AUTOMATIC_WINDOW,
        )
        .exclude(kind=MailMessage.Kind.MESSAGE)
        .count()
    )
    return recent < settings.MAIL_AUTOMATIC_PER_SENDER


def space_url() -> str:
    return settings.SITE_URL + reverse("messaging:space")


def acknowledge(case: Case, received: MailMessage) -> MailMessage | None:
    """Queue the acknowledgement of a new request (in the importing transaction)."""
    if received.automatic or not may_send_automatic(received.sender):
        logger.info("no acknowledgement to %s (automatic or rate limited)", received.sender)
        return None
    lines = [
        _("Bonjour,"),
        "",
        _(
            "Nous avons bien reçu votre message « %(subject)s ». Votre demande est "
            "enregistrée sous la référence %(reference)s : rappelez-la dans vos échanges avec "
            "nous."
        )
        % {"subject": received.subject or case.subject, "reference": case.reference},
    ]
    deadline = deadline_for(case)
    if deadline is not None:
        lines += [
            "",
            _("Nous vous répondrons au plus tard le %(date)s.")
            % {"date": date_format(timezone.localtime(deadline), "DATE_FORMAT")},
        ]
    if received.refused_attachments:
        lines += ["", _("Ces pièces jointes n'ont pas été acceptées :")]
        lines += [f"- {item['name']} : {item['reason']}" for item in received.refused_attachments]
    if case.citizen.email.lower() == received.sender:
        lines += [
            "",
            _("Vous pouvez suivre votre demande dans votre espace sécurisé : %(url)s")
            % {"url": space_url()},
        ]
    lines += ["", _("Ce message est envoyé automatiquement, merci de ne pas y répondre.")]
    return new_outbound(
        mailbox=received.mailbox,
        case=case,
        recipient=received.sender,
        subject=f"[{case.reference}] "
        + _("Accusé de réception : %(subject)s") % {"subject": case.subject},
        body="\n".join(lines),
        kind=MailMessage.Kind.ACKNOWLEDGEMENT,
        answering=received,
    )


def notify_linked(case: Case, address: str) -> MailMessage | None:
    """Tell a sender now linked to a citizen account to use the secure space next time."""
    received = (
        MailMessage.objects.filter(
            case=case, direction=MailMessage.Direction.INBOUND, sender=address.lower()
        )
        .select_related("mailbox")
        .order_by("-created_at", "-id")
        .first()
    )
    if received is None or not may_send_automatic(address):
        return None
    body = "\n".join(
        [
            _("Bonjour,"),
            "",
            _(
                "Votre message « %(subject)s » (référence %(reference)s) est maintenant "
                "rattaché à votre compte. Vous retrouverez la suite de votre demande dans votre "
                "espace sécurisé : %(url)s"
            )
            % {"subject": case.subject, "reference": case.reference, "url": space_url()},
            "",
            _(
                "La prochaine fois, écrivez-nous de préférence depuis cet espace : vos échanges "
                "et vos pièces jointes y sont protégés."
            ),
            "",
            _("Ce message est envoyé automatiquement, merci de ne pas y répondre."),
        ]
    )
    return new_outbound(
        mailbox=received.mailbox,
        case=case,
        recipient=address.lower(),
        subject=f"[{case.reference}] " + _("Votre demande est dans votre espace sécurisé"),
        body=body,
        kind=MailMessage.Kind.NOTICE,
        answering=received,
    )
