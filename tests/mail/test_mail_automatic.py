"""What the channel does on its own, against the real peers (Dovecot, aiosmtpd): the topic
guessed by the knowledge engine, the acknowledgement and its loop protection, the bounces."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from contactcenter.models import Case, Event, Topic
from contactcenter.services import post_staff_message
from knowledge.models import Article
from mail.models import MailMessage
from mail.tasks import poll_mailbox
from tests.mail.test_mail_channel import compose, deliver, flagged

# A real peer: CI runs it in the PostgreSQL phase only (docs/testing.md).
pytestmark = [pytest.mark.django_db, pytest.mark.backend_independent("postgresql")]


def received(inbox) -> list[EmailMessage]:
    return [email.message_from_bytes(raw, policy=email.policy.default) for raw in inbox.messages]


def test_the_knowledge_engine_guesses_the_topic_of_a_new_mail(imap, mailbox, citizen, topic_b):
    property_tax = Topic.objects.create(
        slug="taxe-fonciere", title="Taxe foncière", service=mailbox.service
    )
    Article.objects.create(
        slug="payer-taxe-fonciere",
        topic=property_tax,
        title="Payer sa taxe foncière",
        body="La taxe foncière se paie en ligne, par prélèvement mensuel ou à l'échéance.",
        status=Article.Status.PUBLISHED,
        keywords=["taxe foncière", "prélèvement", "échéance"],
    )
    Article.objects.create(  # another service's topic is never chosen for this mailbox
        slug="carte-vitale",
        topic=topic_b,
        title="Renouveler sa carte vitale",
        body="Commandez une nouvelle carte vitale depuis votre compte santé.",
        status=Article.Status.PUBLISHED,
        keywords=["carte vitale"],
    )
    deliver(imap, compose(subject="Échéance de ma taxe foncière", body="Prélèvement mensuel ?"))
    deliver(imap, compose(subject="Carte vitale perdue", body="Ma carte vitale est perdue."))
    deliver(imap, compose(subject="Bonjour", body="Une question."))
    poll_mailbox(mailbox.pk)

    topics = {c.subject: c.topic for c in Case.objects.all()}
    assert topics["Échéance de ma taxe foncière"] == property_tax
    assert topics["Carte vitale perdue"] == mailbox.default_topic  # not a topic of the service
    assert topics["Bonjour"] == mailbox.default_topic
    first = Event.objects.filter(case__subject="Bonjour").first()
    assert first is not None and first.payload["topic_guessed"] is False


def test_a_new_request_is_acknowledged_once_with_its_reference(
    imap, mailbox, citizen, smtp_receiver, django_capture_on_commit_callbacks
):
    first = compose()
    deliver(imap, first)
    with django_capture_on_commit_callbacks(execute=True):
        poll_mailbox(mailbox.pk)
    case = Case.objects.get()
    [ack] = received(smtp_receiver)
    original = email.message_from_bytes(first, policy=email.policy.default)
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == original["Message-ID"]
    assert case.reference in ack["Subject"]
    text = ack.get_content()
    assert case.reference in text and "au plus tard le" in text
    assert "/espace/" in text  # a verified citizen is shown the secure space
    assert ack["To"].addresses[0].addr_spec == "camille.martin@example.fr"

    # A follow-up on the same case is not acknowledged again.
    deliver(imap, compose(subject=f"Re: [{case.reference}]", in_reply_to=original["Message-ID"]))
    with django_capture_on_commit_callbacks(execute=True):
        poll_mailbox(mailbox.pk)
    assert len(smtp_receiver.messages) == 1
    assert MailMessage.objects.filter(kind=MailMessage.Kind.ACKNOWLEDGEMENT).count() == 1


def test_acknowledgements_are_rate_limited_and_never_sent_to_machines(
    imap, mailbox, citizen, smtp_receiver, settings, django_capture_on_commit_callbacks
):
    settings.MAIL_AUTOMATIC_PER_SENDER = 2
    for number in range(4):
        deliver(imap, compose(sender="boucle@example.org", subject=f"Demande {number}"))
    deliver(imap, compose(sender="no-reply@example.org", subject="Notification"))
    deliver(imap, compose(sender="impots@guichet.test", subject="Depuis notre propre boîte"))
    deliver(
        imap,
        compose(
            sender="robot@example.org",
            subject="Réponse automatique",
            headers={"Auto-Submitted": "auto-replied"},
        ),
    )
    with django_capture_on_commit_callbacks(execute=True):
        poll_mailbox(mailbox.pk)

    assert Case.objects.count() == 6  # every request is a case; the robot opened none
    recipients = [m["To"].addresses[0].addr_spec for m in received(smtp_receiver)]
    assert recipients == ["boucle@example.org", "boucle@example.org"]
    assert len(flagged(imap)) == 7


def test_a_bounce_of_an_answer_is_recorded_and_the_agent_told(
    imap, mailbox, citizen, agent_a, smtp_receiver, django_capture_on_commit_callbacks
):
    deliver(imap, compose())
    poll_mailbox(mailbox.pk)  # outside the capture: no acknowledgement sent
    case = Case.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        post_staff_message(case, agent_a, "Voici notre réponse.")
    answer = MailMessage.objects.get(
        direction=MailMessage.Direction.OUTBOUND, kind=MailMessage.Kind.MESSAGE
    )
    assert answer.status == MailMessage.Status.SENT
    [raw_answer] = smtp_receiver.messages

    # A delivery status notification (RFC 3464) returning our answer, as Postfix writes it.
    raw = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.fr>\r\n"
        b"To: impots@guichet.test\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <dsn-1@mx.example.fr>\r\nAuto-Submitted: auto-replied\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.fr\r\n\r\n"
        b"Final-Recipient: rfc822; camille.martin@example.fr\r\n"
        b"Action: failed\r\nStatus: 5.1.1\r\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
        b"--B\r\nContent-Type: message/rfc822\r\n\r\n" + raw_answer + b"\r\n--B--\r\n"
    )
    deliver(imap, raw)
    with django_capture_on_commit_callbacks(execute=True):
        poll_mailbox(mailbox.pk)

    answer.refresh_from_db()
    assert answer.status == MailMessage.Status.BOUNCED
    assert "5.1.1" in answer.last_error
    bounce = MailMessage.objects.get(message_id="<dsn-1@mx.example.fr>")
    assert bounce.status == MailMessage.Status.BOUNCE and bounce.case == case
    note = Event.objects.get(case=case, type=Event.Type.NOTE)
    assert note.internal and "n'a pas pu être remis" in note.body
    assert note.payload["bounce"]["recipient"] == "camille.martin@example.fr"
    case.refresh_from_db()
    assert case.status == Case.Status.ANSWERED  # unchanged
    assert len(smtp_receiver.messages) == 1  # nothing sent to the mailer daemon
    assert Case.objects.count() == 1


def test_an_answer_by_mail_to_the_citizens_own_address_is_not_alerted_twice(
    imap, mailbox, citizen, agent_a, smtp_receiver, django_capture_on_commit_callbacks
):
    deliver(imap, compose(subject="Première"))
    deliver(imap, compose(subject="Seconde"))
    poll_mailbox(mailbox.pk)
    first, second = Case.objects.order_by("id")
    with django_capture_on_commit_callbacks(execute=True):
        post_staff_message(first, agent_a, "Réponse à la première.")
    assert len(smtp_receiver.messages) == 1  # the answer itself
    assert smtp_receiver.others == []  # no "new message in your space" alert besides

    # The account's address changed since: the answer goes where the mail came from, and the
    # citizen is alerted at the account's address as usual.
    citizen.email = "camille.nouvelle@example.fr"
    citizen.save(update_fields=["email"])
    with django_capture_on_commit_callbacks(execute=True):
        post_staff_message(second, agent_a, "Réponse à la seconde.")
    assert len(smtp_receiver.messages) == 2
    assert len(smtp_receiver.others) == 1
