"""The signed inbound webhook (Mailgun's raw-MIME route, read by django-anymail): the same
import as IMAP, a valid push imported once, replays and forgeries refused with a clear error."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid

import pytest
from django.urls import reverse

from contactcenter.models import Case, Channel
from mail.models import Mailbox, MailMessage, QuarantinedMail, WebhookToken
from tests.mail.test_mail_channel import compose
from tests.upload_samples import valid_pdf

pytestmark = pytest.mark.django_db

KEY = "key-test-signing-0123456789"
URL = "/courriels/entrant/mailgun/mime/"


@pytest.fixture
def webhook_mailbox(settings, topic_a, service_a):
    settings.MAIL_WEBHOOK_MAILGUN_SIGNING_KEY = KEY
    return Mailbox.objects.create(
        service=service_a,
        address="impots@guichet.test",
        default_topic=topic_a,
        host="imap.invalid",
        login="impots",
        password_env="UNUSED",
        enabled=False,  # not polled: the provider pushes
    )


def push(client, raw: bytes, *, key=KEY, token=None, timestamp=None, **extra):
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    token = token or uuid.uuid4().hex
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    data = {
        "recipient": "impots@guichet.test",
        "sender": "camille.martin@example.fr",
        "body-mime": raw.decode("utf-8"),
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
        **extra,
    }
    return client.post(URL, data)


def test_the_url_is_the_routes_one():
    assert reverse("mail:webhook_mailgun") == URL


def test_off_when_no_signing_key(client, settings, webhook_mailbox):
    settings.MAIL_WEBHOOK_MAILGUN_SIGNING_KEY = ""
    assert push(client, compose()).status_code == 404
    assert not MailMessage.objects.exists()


def test_a_signed_push_becomes_a_case_once_and_a_retry_is_idempotent(
    client, webhook_mailbox, citizen
):
    raw = compose(attachments=[("avis.pdf", valid_pdf(), "application", "pdf")])
    response = push(client, raw, token="tok-1")
    assert response.status_code == 200, response.content
    case = Case.objects.get()
    assert case.channel == Channel.EMAIL
    assert case.citizen == citizen  # the verified-sender match of the IMAP import
    message = MailMessage.objects.get(direction=MailMessage.Direction.INBOUND)
    assert bytes(message.raw) == raw  # the provider's source, not a re-serialisation
    assert [a.original_name for a in message.attachments.all()] == ["avis.pdf"]
    # The provider retries the same push, then the same message comes with a fresh token.
    assert push(client, raw, token="tok-1").status_code == 200
    assert push(client, raw, token="tok-2").status_code == 200
    assert Case.objects.count() == 1
    assert MailMessage.objects.filter(direction=MailMessage.Direction.INBOUND).count() == 1


def test_a_reply_pushed_threads_onto_its_case(client, webhook_mailbox, citizen):
    first = compose(message_id="<q1@example.fr>")
    assert push(client, first).status_code == 200
    reply = compose(subject="Re: Question", body="Merci.", in_reply_to="<q1@example.fr>")
    assert push(client, reply).status_code == 200
    case = Case.objects.get()
    assert case.mail_messages.filter(direction=MailMessage.Direction.INBOUND).count() == 2


def test_a_bad_signature_is_refused(client, webhook_mailbox):
    response = push(client, compose(), key="not-the-key")
    assert response.status_code == 403
    assert "signature" in response.json()["error"]
    assert not MailMessage.objects.exists() and not WebhookToken.objects.exists()


def test_a_push_without_signature_fields_is_refused(client, webhook_mailbox):
    response = client.post(URL, {"recipient": "impots@guichet.test", "body-mime": "x"})
    assert response.status_code == 403
    assert not MailMessage.objects.exists()


def test_a_stolen_signature_replayed_with_another_message_is_refused(client, webhook_mailbox):
    assert push(client, compose(), token="tok-stolen").status_code == 200
    response = push(client, compose(subject="Autre chose"), token="tok-stolen")
    assert response.status_code == 403
    assert "replayed" in response.json()["error"]
    assert Case.objects.count() == 1


def test_an_old_push_is_refused(client, webhook_mailbox, settings):
    old = int(time.time()) - settings.MAIL_WEBHOOK_MAX_AGE - 60
    response = push(client, compose(), timestamp=old)
    assert response.status_code == 403
    assert "too old" in response.json()["error"]


def test_an_oversized_push_is_refused_before_reading(client, webhook_mailbox, settings):
    settings.MAIL_WEBHOOK_MAX_BYTES = 50_000
    response = push(client, compose(body="x" * 60_000))
    assert response.status_code == 413
    assert "too large" in response.json()["error"]
    assert not MailMessage.objects.exists()


def test_a_parsed_form_instead_of_raw_mime_is_refused(client, webhook_mailbox):
    response = push(client, compose(), **{"body-mime": ""}, **{"body-plain": "Bonjour"})
    assert response.status_code == 400
    assert "body-mime" in response.json()["error"]


def test_an_unknown_recipient_is_refused_without_retry(client, webhook_mailbox):
    response = push(client, compose(), recipient="personne@guichet.test")
    assert response.status_code == 406
    assert "personne@guichet.test" in response.json()["error"]


def test_an_unreadable_message_goes_to_the_quarantine(client, webhook_mailbox):
    raw = b"Subject: sans expediteur\r\nMessage-ID: <x@example.fr>\r\n\r\nBonjour\r\n"
    assert push(client, raw).status_code == 200
    item = QuarantinedMail.objects.get()
    assert bytes(item.raw) == raw and "From" in item.error
    assert push(client, raw).status_code == 200
    assert QuarantinedMail.objects.count() == 1
