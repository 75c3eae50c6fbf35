"""Postmark's and MailerSend's inbound webhooks (django-anymail's views): each with the
provider's own authentication and replay rules, feeding the same import as IMAP (dedup by
Message-ID, quarantine, threading), each refusal a JSON error, off when not configured."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from contactcenter.models import Case, Channel
from mail.models import Mailbox, MailMessage, QuarantinedMail, WebhookToken
from tests.mail.test_mail_channel import compose
from tests.upload_samples import valid_pdf

pytestmark = pytest.mark.django_db

CREDENTIALS = "postmark:s3cret-0123456789"
SECRET = "mailersend-inbound-secret-0123456789"
POSTMARK = "/courriels/entrant/postmark/"
MAILERSEND = "/courriels/entrant/mailersend/"


@pytest.fixture
def pushed_mailbox(settings, topic_a, service_a):
    settings.MAIL_WEBHOOK_POSTMARK_CREDENTIALS = CREDENTIALS
    settings.MAIL_WEBHOOK_MAILERSEND_SECRET = SECRET
    return Mailbox.objects.create(
        service=service_a,
        address="impots@guichet.test",
        default_topic=topic_a,
        host="imap.invalid",
        login="impots",
        password_env="UNUSED",
        enabled=False,
    )


def postmark(client, raw: bytes | None, *, credentials=CREDENTIALS, message_id=None, **extra):
    data = {
        "FromFull": {"Email": "camille.martin@example.fr", "Name": "Camille Martin"},
        "OriginalRecipient": "impots@guichet.test",
        "Subject": "Question",
        "MessageID": message_id or str(uuid.uuid4()),
        "Headers": [],
        **({"RawEmail": raw.decode("utf-8")} if raw is not None else {}),
        **extra,
    }
    headers = {}
    if credentials:
        token = base64.b64encode(credentials.encode()).decode()
        headers["HTTP_AUTHORIZATION"] = f"Basic {token}"
    return client.post(POSTMARK, json.dumps(data), content_type="application/json", **headers)


def mailersend(client, raw: bytes, *, secret=SECRET, event_id=None, created_at=None, **data):
    body = json.dumps(
        {
            "type": "inbound.message",
            "data": {
                "id": event_id or uuid.uuid4().hex,
                "created_at": (created_at or timezone.now()).isoformat(),
                "raw": raw.decode("utf-8"),
                "sender": {"email": "camille.martin@example.fr"},
                "recipients": {"rcptTo": [{"email": "impots@guichet.test"}]},
                **data,
            },
        }
    ).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post(MAILERSEND, body, content_type="application/json", HTTP_SIGNATURE=signature)


def test_the_urls():
    assert reverse("mail:webhook_postmark") == POSTMARK
    assert reverse("mail:webhook_mailersend") == MAILERSEND


def test_both_are_off_when_not_configured(client, settings, pushed_mailbox):
    settings.MAIL_WEBHOOK_POSTMARK_CREDENTIALS = ""
    settings.MAIL_WEBHOOK_MAILERSEND_SECRET = ""
    assert postmark(client, compose()).status_code == 404
    assert mailersend(client, compose()).status_code == 404
    assert not MailMessage.objects.exists()


@pytest.mark.parametrize("push", [postmark, mailersend])
def test_a_push_becomes_a_case_once_with_its_attachment(client, pushed_mailbox, citizen, push):
    raw = compose(attachments=[("avis.pdf", valid_pdf(), "application", "pdf")])
    response = push(client, raw, **{"message_id" if push is postmark else "event_id": "ev-1"})
    assert response.status_code == 200, response.content
    case = Case.objects.get()
    assert case.channel == Channel.EMAIL and case.citizen == citizen
    message = MailMessage.objects.get(direction=MailMessage.Direction.INBOUND)
    assert bytes(message.raw) == raw  # the source as received, not anymail's rebuild
    assert [a.original_name for a in message.attachments.all()] == ["avis.pdf"]
    # The provider's retry (same id, same message), then the same e-mail under another id.
    key = "message_id" if push is postmark else "event_id"
    assert push(client, raw, **{key: "ev-1"}).status_code == 200
    assert push(client, raw, **{key: "ev-2"}).status_code == 200
    assert Case.objects.count() == 1
    assert MailMessage.objects.filter(direction=MailMessage.Direction.INBOUND).count() == 1


@pytest.mark.parametrize("push", [postmark, mailersend])
def test_a_pushed_reply_threads_onto_its_case(client, pushed_mailbox, citizen, push):
    assert push(client, compose(message_id="<q1@example.fr>")).status_code == 200
    reply = compose(subject="Re: Question", body="Merci.", in_reply_to="<q1@example.fr>")
    assert push(client, reply).status_code == 200
    case = Case.objects.get()
    assert case.mail_messages.filter(direction=MailMessage.Direction.INBOUND).count() == 2


@pytest.mark.parametrize("push", [postmark, mailersend])
def test_an_unreadable_push_goes_to_the_quarantine(client, pushed_mailbox, push):
    raw = b"Subject: sans expediteur\r\nMessage-ID: <x@example.fr>\r\n\r\nBonjour\r\n"
    assert push(client, raw).status_code == 200
    item = QuarantinedMail.objects.get()
    assert bytes(item.raw) == raw and "From" in item.error


def test_postmark_wrong_or_missing_credentials_are_refused(client, pushed_mailbox):
    for credentials in ("postmark:wrong", ""):
        response = postmark(client, compose(), credentials=credentials)
        assert response.status_code == 403  # Postmark's "stop retrying" code
        assert "basic auth" in response.json()["error"]
    assert not MailMessage.objects.exists() and not WebhookToken.objects.exists()


def test_postmark_replayed_id_with_another_message_is_refused(client, pushed_mailbox):
    assert postmark(client, compose(), message_id="pm-1").status_code == 200
    response = postmark(client, compose(subject="Autre chose"), message_id="pm-1")
    assert response.status_code == 403
    assert "replayed" in response.json()["error"]
    assert Case.objects.count() == 1


def test_postmark_without_raw_email_is_refused_with_the_setting_to_change(client, pushed_mailbox):
    response = postmark(client, None, TextBody="Bonjour")
    assert response.status_code == 400
    assert "Include raw email content" in response.json()["error"]
    assert not MailMessage.objects.exists()


def test_postmark_unknown_recipient_is_a_final_403(client, pushed_mailbox):
    response = postmark(client, compose(), OriginalRecipient="personne@guichet.test")
    assert response.status_code == 403
    assert "personne@guichet.test" in response.json()["error"]


def test_postmark_malformed_body_is_a_json_400(client, pushed_mailbox):
    token = base64.b64encode(CREDENTIALS.encode()).decode()
    response = client.post(
        POSTMARK, "not json", content_type="application/json", HTTP_AUTHORIZATION=f"Basic {token}"
    )
    assert response.status_code == 400 and "JSON" in response.json()["error"]


def test_mailersend_bad_or_missing_signature_is_refused(client, pushed_mailbox):
    response = mailersend(client, compose(), secret="not-the-secret")
    assert response.status_code == 403 and "signature" in response.json()["error"]
    response = client.post(MAILERSEND, b"{}", content_type="application/json")
    assert response.status_code == 403 and "signature" in response.json()["error"]
    assert not MailMessage.objects.exists() and not WebhookToken.objects.exists()


def test_mailersend_old_event_is_refused(client, pushed_mailbox, settings):
    old = timezone.now() - dt.timedelta(seconds=settings.MAIL_WEBHOOK_MAX_AGE + 60)
    response = mailersend(client, compose(), created_at=old)
    assert response.status_code == 403 and "too old" in response.json()["error"]
    assert not MailMessage.objects.exists()


def test_mailersend_reused_id_with_another_message_is_refused(client, pushed_mailbox):
    assert mailersend(client, compose(), event_id="ms-1").status_code == 200
    response = mailersend(client, compose(subject="Autre chose"), event_id="ms-1")
    assert response.status_code == 403 and "replayed" in response.json()["error"]
    assert Case.objects.count() == 1


def test_mailersend_unknown_recipient_and_other_events_are_refused(client, pushed_mailbox):
    response = mailersend(
        client, compose(), recipients={"rcptTo": [{"email": "personne@guichet.test"}]}
    )
    assert response.status_code == 406 and "personne@guichet.test" in response.json()["error"]
    body = json.dumps({"type": "activity.sent", "data": {}}).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(
        MAILERSEND, body, content_type="application/json", HTTP_SIGNATURE=signature
    )
    assert response.status_code == 400 and "inbound.message" in response.json()["error"]


def test_oversized_pushes_are_refused_before_reading(client, pushed_mailbox, settings):
    settings.MAIL_WEBHOOK_MAX_BYTES = 50_000
    big = compose(body="x" * 60_000)
    for response in (postmark(client, big), mailersend(client, big)):
        assert response.status_code == 413 and "too large" in response.json()["error"]
    assert not MailMessage.objects.exists()
