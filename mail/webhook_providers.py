"""Inbound webhooks of more providers that push e-mail, each read by django-anymail's view for
that provider and checked the way the provider documents it, then fed to the same import as
IMAP (``mail.webhook.on_inbound`` -> ``mail.services.import_message``: Message-ID dedup,
quarantine, threading). Each endpoint is off (404) until its secret is set.

- **Postmark** (``…/courriels/entrant/postmark/``): Postmark signs nothing; the documented
  protection is HTTP Basic credentials in the webhook URL (``MAIL_WEBHOOK_POSTMARK_CREDENTIALS``,
  "user:password", checked by anymail in constant time). The JSON must carry ``RawEmail``
  (the inbound stream's "Include raw email content in JSON payload" option): the source as
  received is what is imported and kept. Postmark retries for about 10.5 hours unless answered
  200 or **403**, so every final refusal (bad credentials, unknown recipient, replay) is a 403
  and a malformed push a 400. With no signed timestamp, the replay rule is the provider's own
  id: Postmark's ``MessageID`` is kept with the source's hash, the same id with the same source
  being a retry (imported once), with another source a forgery (403).
- **MailerSend** (``…/courriels/entrant/mailersend/``): an inbound route's ``Signature`` header
  is the HMAC-SHA256 of the whole body with the route's secret
  (``MAIL_WEBHOOK_MAILERSEND_SECRET``, checked by anymail). As the signature covers the body,
  its ``data.created_at`` must be fresher than ``MAIL_WEBHOOK_MAX_AGE`` and its ``data.id`` is
  kept like Postmark's; the source is ``data.raw`` and the recipient the first ``rcptTo``.
"""

from __future__ import annotations

import json
from typing import Any

from anymail.signals import AnymailInboundEvent
from anymail.webhooks.mailersend import MailerSendInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import Mailbox
from .webhook import Refused, check_fresh, check_once, mailbox_for, serve


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The push's JSON object (parsed once per request)."""
    cached = getattr(request, "_guichet_push", None)
    if cached is not None:
        return cached
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "the body is not a JSON object")
    request._guichet_push = data  # type: ignore[attr-defined]
    return data


def text_field(data: dict[str, Any], name: str, hint: str = "") -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise Refused(400, f"{name} missing{hint}")
    return value


# --- Postmark ------------------------------------------------------------------------------------
POSTMARK_FINAL = 403  # Postmark stops retrying on 403 only


def postmark_source(data: dict[str, Any]) -> bytes:
    raw = text_field(
        data,
        "RawEmail",
        ': enable "Include raw email content in JSON payload" on Postmark\'s inbound stream',
    )
    return raw.encode("utf-8", "surrogateescape")


def postmark_mailbox(data: dict[str, Any]) -> Mailbox:
    recipient = data.get("OriginalRecipient")
    return mailbox_for(
        recipient if isinstance(recipient, str) else "", unknown_status=POSTMARK_FINAL
    )


class PostmarkInbound(PostmarkInboundWebhookView):
    """anymail's Postmark view: Basic credentials required, then the one-time MessageID."""

    webhook_secret = None  # set by as_view (the endpoint's own credentials)

    def run_validators(self, request: HttpRequest) -> None:
        super().run_validators(request)  # Basic credentials (AnymailWebhookValidationFailure)
        data = json_body(request)
        if data.get("RecordType", "Inbound") != "Inbound":
            raise Refused(400, "not an inbound message (point the inbound stream here)")
        raw = postmark_source(data)
        check_once("postmark:" + text_field(data, "MessageID"), raw)

    def parse_events(self, request: HttpRequest) -> list[AnymailInboundEvent]:
        postmark_mailbox(json_body(request))
        return [self.esp_to_anymail_event(json_body(request))]

    @staticmethod
    def source(event: AnymailInboundEvent) -> tuple[Mailbox, bytes]:
        data = event.esp_event
        return postmark_mailbox(data), postmark_source(data)


@csrf_exempt
@require_POST
def postmark_inbound(request: HttpRequest) -> HttpResponse:
    credentials = settings.MAIL_WEBHOOK_POSTMARK_CREDENTIALS
    if not credentials:
        raise Http404("webhook not configured")
    return serve(request, PostmarkInbound.as_view(webhook_secret=credentials))


# --- MailerSend ----------------------------------------------------------------------------------
def mailersend_data(payload: dict[str, Any]) -> dict[str, Any]:
    if payload.get("type") != "inbound.message":
        raise Refused(400, "not an inbound.message event (point the inbound route here)")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise Refused(400, "data missing")
    return data


def mailersend_source(data: dict[str, Any]) -> bytes:
    return text_field(data, "raw").encode("utf-8", "surrogateescape")


def mailersend_mailbox(data: dict[str, Any]) -> Mailbox:
    try:
        recipient = data["recipients"]["rcptTo"][0]["email"]
    except (KeyError, IndexError, TypeError):
        recipient = ""
    return mailbox_for(recipient if isinstance(recipient, str) else "", unknown_status=406)


class MailerSendInbound(MailerSendInboundWebhookView):
    """anymail's MailerSend view: body signature, then freshness and the one-time id."""

    def run_validators(self, request: HttpRequest) -> None:
        super().run_validators(request)  # Signature header (AnymailWebhookValidationFailure)
        data = mailersend_data(json_body(request))
        created = data.get("created_at")
        sent_at = parse_datetime(created) if isinstance(created, str) else None
        if sent_at is None:
            raise Refused(400, "data.created_at missing or not a date")
        check_fresh(sent_at.timestamp())
        check_once("mailersend:" + text_field(data, "id"), mailersend_source(data))

    def parse_events(self, request: HttpRequest) -> list[AnymailInboundEvent]:
        mailersend_mailbox(mailersend_data(json_body(request)))
        return [self.esp_to_anymail_event(json_body(request))]

    @staticmethod
    def source(event: AnymailInboundEvent) -> tuple[Mailbox, bytes]:
        data = mailersend_data(event.esp_event)
        return mailersend_mailbox(data), mailersend_source(data)


@csrf_exempt
@require_POST
def mailersend_inbound(request: HttpRequest) -> HttpResponse:
    secret = settings.MAIL_WEBHOOK_MAILERSEND_SECRET
    if not secret:
        raise Http404("webhook not configured")
    return serve(request, MailerSendInbound.as_view(inbound_secret=secret))
