"""The inbound webhook for a provider that pushes e-mail instead of being read over IMAP:
Mailgun's routes with ``forward()`` to ``…/courriels/entrant/mailgun/mime/`` (raw MIME), read by
django-anymail's Mailgun inbound view, whose ``inbound`` signal feeds the same import as IMAP
(``mail.services.import_message``: Message-ID dedup, quarantine, threading).

Off (404) while ``MAIL_WEBHOOK_MAILGUN_SIGNING_KEY`` is empty. A push must carry Mailgun's
signature (HMAC-SHA256 of timestamp and token with the signing key, checked by anymail), be
fresher than ``MAIL_WEBHOOK_MAX_AGE`` and smaller than ``MAIL_WEBHOOK_MAX_BYTES``; its token is
kept: the same token with the same source is a retry (imported once), with another source the
replay of a stolen signature (the signature does not cover the body), refused."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.signals import AnymailInboundEvent
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import Mailbox, WebhookToken
from .services import import_message

logger = logging.getLogger("mail")


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def source_of(request: HttpRequest) -> bytes:
    raw = request.POST.get("body-mime")
    if not raw:
        raise Refused(
            400,
            "body-mime missing: forward the Mailgun route to the URL ending in mime/ "
            "(raw MIME), not the parsed form",
        )
    return raw.encode("utf-8", "surrogateescape")


def mailbox_for(recipient: str, *, unknown_status: int) -> Mailbox:
    """The functional mailbox a push is for; ``unknown_status`` is the code after which the
    provider stops retrying (Mailgun 406, Postmark 403...)."""
    recipient = recipient.strip()
    if not recipient:
        raise Refused(400, "recipient missing")
    mailbox = Mailbox.objects.select_related("service", "default_topic").filter(
        address__iexact=recipient
    )
    found = mailbox.first()
    if found is None:
        raise Refused(unknown_status, f"no functional mailbox for {recipient}")
    return found


def mailbox_of(request: HttpRequest) -> Mailbox:
    # 406: Mailgun does not retry it.
    return mailbox_for(request.POST.get("recipient", ""), unknown_status=406)


def check_fresh(sent_at: float) -> None:
    if abs(timezone.now().timestamp() - sent_at) > settings.MAIL_WEBHOOK_MAX_AGE:
        raise Refused(403, "push too old (timestamp outside MAIL_WEBHOOK_MAX_AGE)")


def check_once(token: str, raw: bytes) -> None:
    """A token with another source is a replayed signature; with the same, a retry."""
    digest = hashlib.sha256(raw).hexdigest()
    now = timezone.now()
    WebhookToken.objects.filter(
        created_at__lt=now - dt.timedelta(seconds=settings.MAIL_WEBHOOK_MAX_AGE)
    ).delete()
    try:
        with transaction.atomic():
            seen, _created = WebhookToken.objects.get_or_create(
                token=token[:200], defaults={"digest": digest, "created_at": now}
            )
    except IntegrityError:  # the same push twice at the same time: the other one stored it
        seen = WebhookToken.objects.get(token=token[:200])
    if seen.digest != digest:
        raise Refused(403, "token already used for another message (replayed signature)")


class MailgunInbound(MailgunInboundWebhookView):
    """anymail's view, with the freshness and one-time token checks after its signature check."""

    def run_validators(self, request: HttpRequest) -> None:
        super().run_validators(request)  # signature (raises AnymailWebhookValidationFailure)
        try:
            sent_at = int(request.POST["timestamp"])
        except (KeyError, ValueError):
            raise Refused(400, "timestamp missing or not a number")
        check_fresh(sent_at)
        check_once(request.POST.get("token", ""), source_of(request))

    def parse_events(self, request: HttpRequest) -> list[AnymailInboundEvent]:
        source_of(request)
        mailbox_of(request)
        events: list[AnymailInboundEvent] = super().parse_events(request)
        return events

    @staticmethod
    def source(event: AnymailInboundEvent) -> tuple[Mailbox, bytes]:
        request = event.esp_event
        return mailbox_of(request), source_of(request)


def on_inbound(sender: Any, event: AnymailInboundEvent, esp_name: str, **kwargs: Any) -> None:
    """anymail's ``inbound`` signal from our view: the same import as a message read over IMAP
    (the source as the provider received it, not anymail's re-serialisation)."""
    mailbox, raw = sender.source(event)
    result = import_message(mailbox, raw)
    logger.info("webhook %s: %s", esp_name, result.outcome)


@csrf_exempt
@require_POST
def mailgun_inbound(request: HttpRequest) -> HttpResponse:
    key = settings.MAIL_WEBHOOK_MAILGUN_SIGNING_KEY
    if not key:
        raise Http404("webhook not configured")
    return serve(request, MailgunInbound.as_view(webhook_signing_key=key))


def serve(request: HttpRequest, view: Any) -> HttpResponse:
    """Run a provider's inbound view (configured), each refusal as a JSON error."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.MAIL_WEBHOOK_MAX_BYTES:
        return refuse(413, f"message too large (over {settings.MAIL_WEBHOOK_MAX_BYTES} bytes)")
    try:
        response: HttpResponse = view(request)
    except AnymailWebhookValidationFailure as exc:
        return refuse(403, str(exc))
    except Refused as exc:
        return refuse(exc.status, exc.reason)
    except RequestDataTooBig:
        return refuse(413, "message too large for DATA_UPLOAD_MAX_MEMORY_SIZE")
    except TooManyFieldsSent:
        return refuse(400, "too many form fields")
    return response


def refuse(status: int, reason: str) -> JsonResponse:
    logger.warning("inbound webhook refused (%s): %s", status, reason)
    return JsonResponse({"error": reason}, status=status)
