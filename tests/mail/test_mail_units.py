"""The e-mail channel's edges without the IMAP server: concurrent imports, the beat tasks,
delivery retries and the admin pages."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

import pytest
from django.utils import timezone

from contactcenter.models import Case
from contactcenter.services import post_staff_message
from mail import outbound, services
from mail.models import Mailbox, MailMessage, QuarantinedMail
from mail.tasks import flush_outbound, poll_mailbox, poll_mailboxes
from tests.mail.conftest import DMARC_PASS, authenticated, free_port

pytestmark = pytest.mark.django_db

RAW = authenticated(
    b"From: Camille Martin <camille.martin@example.fr>\r\nTo: impots@guichet.test\r\n"
    b"Subject: Ma question\r\nMessage-ID: <q1@example.fr>\r\n\r\nBonjour\r\n"
)


@pytest.fixture
def offline_mailbox(service_a, topic_a):
    return Mailbox.objects.create(
        service=service_a,
        address="impots@guichet.test",
        default_topic=topic_a,
        host="127.0.0.1",
        port=free_port(),  # nobody listens
        security=Mailbox.Security.NONE,
        login="impots",
        password_env="GUICHET_TEST_UNSET_PASSWORD",
    )


def test_a_concurrent_import_of_the_same_message_keeps_one(offline_mailbox, citizen, monkeypatch):
    """Another worker commits the same message between our check and our insert."""
    original = services.check_attachments

    def other_worker_first(attachments):
        MailMessage.objects.create(
            mailbox=offline_mailbox,
            direction=MailMessage.Direction.INBOUND,
            status=MailMessage.Status.IMPORTED,
            key=services.message_key("<q1@example.fr>", RAW),
            message_id="<q1@example.fr>",
        )
        return original(attachments)

    monkeypatch.setattr(services, "check_attachments", other_worker_first)
    result = services.import_message(offline_mailbox, RAW)
    assert result.outcome == "duplicate"
    assert Case.objects.count() == 0  # our half-done import was rolled back
    assert MailMessage.objects.count() == 1


def test_a_missing_password_variable_is_recorded_on_the_mailbox(offline_mailbox, monkeypatch):
    monkeypatch.delenv("GUICHET_TEST_UNSET_PASSWORD", raising=False)
    assert poll_mailbox(offline_mailbox.pk) == "error"
    offline_mailbox.refresh_from_db()
    assert "GUICHET_TEST_UNSET_PASSWORD" in offline_mailbox.last_error
    assert offline_mailbox.lease_until is None
    assert offline_mailbox.last_polled_at is not None


def test_a_mailbox_being_read_is_not_read_twice(offline_mailbox):
    Mailbox.objects.filter(pk=offline_mailbox.pk).update(
        lease_until=timezone.now() + dt.timedelta(minutes=5)
    )
    assert poll_mailbox(offline_mailbox.pk) == "busy"


def test_beat_polls_enabled_mailboxes_whose_interval_elapsed(offline_mailbox, monkeypatch):
    polled = []
    monkeypatch.setattr(poll_mailbox, "delay", lambda pk: polled.append(pk))
    assert poll_mailboxes() == 1
    Mailbox.objects.filter(pk=offline_mailbox.pk).update(last_polled_at=timezone.now())
    assert poll_mailboxes() == 0
    Mailbox.objects.filter(pk=offline_mailbox.pk).update(
        last_polled_at=timezone.now() - dt.timedelta(seconds=61)
    )
    assert poll_mailboxes() == 1
    Mailbox.objects.filter(pk=offline_mailbox.pk).update(enabled=False)
    assert poll_mailboxes() == 0
    assert polled == [offline_mailbox.pk, offline_mailbox.pk]


def test_a_failed_delivery_is_retried_then_sent(
    offline_mailbox, citizen, agent_a, settings, django_capture_on_commit_callbacks
):
    services.import_message(offline_mailbox, RAW)
    case = Case.objects.get()
    # The acknowledgement aside: this is about the answer.
    MailMessage.objects.filter(kind=MailMessage.Kind.ACKNOWLEDGEMENT).update(
        status=MailMessage.Status.SENT
    )
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # refused
    settings.EMAIL_TIMEOUT = 2
    with django_capture_on_commit_callbacks(execute=True):
        post_staff_message(case, agent_a, "Voici la réponse.")
    out = MailMessage.objects.get(
        direction=MailMessage.Direction.OUTBOUND, kind=MailMessage.Kind.MESSAGE
    )
    assert out.status == MailMessage.Status.PENDING
    assert out.attempts == 1 and out.last_error
    assert out.next_attempt_at > timezone.now()

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert flush_outbound() == 0  # not due yet
    MailMessage.objects.filter(pk=out.pk).update(next_attempt_at=timezone.now())
    assert flush_outbound() == 1
    out.refresh_from_db()
    assert out.status == MailMessage.Status.SENT
    from django.core import mail as outbox

    [sent] = [
        m
        for m in outbox.outbox
        if m.to == ["camille.martin@example.fr"]
        and m.extra_headers.get("In-Reply-To") == "<q1@example.fr>"
    ]
    assert sent.subject == f"[{case.reference}] Re: Ma question"
    assert outbound.send_message(out.pk) == "skipped"  # a duplicate task sends nothing


def test_the_admin_shows_messages_and_the_quarantine_with_their_source(
    offline_mailbox, citizen, admin_user, client_as
):
    services.import_message(offline_mailbox, RAW)
    services.import_message(offline_mailbox, b"Subject: sans expediteur\r\n\r\nillisible-42\r\n")
    client = client_as(admin_user)
    item = QuarantinedMail.objects.get()
    page = client.get(f"/admin/mail/quarantinedmail/{item.pk}/change/")
    assert page.status_code == 200
    assert "illisible-42" in page.content.decode()
    message = MailMessage.objects.get(direction=MailMessage.Direction.INBOUND)
    page = client.get(f"/admin/mail/mailmessage/{message.pk}/change/")
    assert page.status_code == 200
    assert "Ma question" in page.content.decode()
    assert client.get("/admin/mail/mailbox/").status_code == 200
    assert client.get(f"/admin/mail/mailbox/{offline_mailbox.pk}/change/").status_code == 200


def test_an_html_only_message_is_shown_as_text(offline_mailbox, citizen):
    raw = (
        b"From: camille.martin@example.fr\r\nSubject: HTML\r\nMessage-ID: <h@example.fr>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>Bonjour &amp; merci</p><script>alert(1)</script><style>p{}</style>\r\n"
    )
    result = services.import_message(offline_mailbox, raw)
    assert result.outcome == "created"
    assert result.message.event.body == "Bonjour & merci"


def test_an_attachment_is_downloaded_by_who_may_see_the_case_only(
    offline_mailbox, citizen, citizen2, agent_a, agent_b, client_as
):
    from django.test import Client
    from django.urls import reverse

    from contactcenter.models import AuditLog
    from tests.upload_samples import valid_pdf

    msg = EmailMessage()
    msg["Authentication-Results"] = DMARC_PASS
    msg["From"] = "camille.martin@example.fr"
    msg["Subject"] = "Avis"
    msg["Message-ID"] = "<pj@example.fr>"
    msg.set_content("Ci-joint mon avis.")
    msg.add_attachment(valid_pdf(), maintype="application", subtype="pdf", filename="avis.pdf")
    result = services.import_message(offline_mailbox, msg.as_bytes())
    [listed] = result.message.event.payload["mail_attachments"]
    url = reverse("mail:attachment", args=[listed["id"]])

    for user in (citizen, agent_a):
        response = client_as(user).get(url)
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert b"".join(response.streaming_content) == valid_pdf()
    for user in (citizen2, agent_b):
        assert client_as(user).get(url).status_code == 404
    assert Client().get(url).status_code == 302  # to the login page
    assert AuditLog.objects.filter(
        actor=agent_a, action=AuditLog.Action.VIEW_ATTACHMENT, case=result.message.case
    ).exists()


def test_an_answer_left_sending_by_a_dead_worker_is_sent_again(
    offline_mailbox, citizen, agent_a, monkeypatch
):
    from mail import tasks

    services.import_message(offline_mailbox, RAW)
    case = Case.objects.get()
    # The acknowledgement aside: this is about the answer.
    MailMessage.objects.filter(kind=MailMessage.Kind.ACKNOWLEDGEMENT).update(
        status=MailMessage.Status.SENT
    )
    monkeypatch.setattr(tasks.send_mail_message, "delay_on_commit", lambda pk: None)
    post_staff_message(case, agent_a, "Voici la réponse.")
    out = MailMessage.objects.get(
        direction=MailMessage.Direction.OUTBOUND, kind=MailMessage.Kind.MESSAGE
    )
    MailMessage.objects.filter(pk=out.pk).update(
        status=MailMessage.Status.SENDING,
        claimed_at=timezone.now() - outbound.SENDING_LEASE - dt.timedelta(seconds=1),
        attempts=1,
    )
    assert flush_outbound() == 1
    out.refresh_from_db()
    assert out.status == MailMessage.Status.SENT
    assert out.attempts == 2


class ScriptedIdle:
    """The IDLE half of an IMAP client, answering from a script (the real server's IDLE is
    tested against Dovecot in test_mail_idle.py; this pins the edge cases it cannot time)."""

    def __init__(self, checks, on_done=()):
        self.checks = list(checks)
        self.on_done = list(on_done)
        self.calls: list[str] = []

    def idle(self):
        self.calls.append("idle")

    def idle_check(self, timeout=None):
        self.calls.append("check")
        return self.checks.pop(0) if self.checks else []

    def idle_done(self):
        self.calls.append("done")
        return b"OK Idle completed", self.on_done


def test_an_empty_idle_wake_up_keeps_waiting_for_the_announce():
    from mail.imap import announces_mail, wait_idle

    client = ScriptedIdle([[], [(1, b"EXISTS"), (1, b"RECENT")]])
    responses = wait_idle(client, 30)
    assert announces_mail(responses)
    assert client.calls == ["idle", "check", "check", "done"]


def test_a_message_announced_while_ending_the_idle_is_not_lost():
    from mail.imap import announces_mail, wait_idle

    client = ScriptedIdle([[(b"OK", b"Still here")]], on_done=[(2, b"EXISTS")])
    assert announces_mail(wait_idle(client, 30))
    assert not announces_mail([(b"OK", b"Still here")])


def test_an_idle_without_news_ends_at_its_deadline():
    from mail.imap import wait_idle

    client = ScriptedIdle([])
    assert wait_idle(client, 0) == []
    assert client.calls == ["idle", "done"]
