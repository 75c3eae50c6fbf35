"""The e-mail channel against real peers: Dovecot (IMAP, messages delivered by APPEND) and an
aiosmtpd receiver for the answers."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from contactcenter.models import Case, Channel, Event
from contactcenter.services import post_staff_message
from mail import imap as imap_reader
from mail.models import MailMessage, QuarantinedMail
from mail.services import UNIDENTIFIED_SENDER_EMAIL, import_message
from mail.tasks import poll_mailbox
from tests.mail.conftest import DMARC_PASS, authenticated
from tests.upload_samples import valid_pdf, valid_png, windows_executable

# A real peer: CI runs it in the PostgreSQL phase only (docs/testing.md).
pytestmark = [pytest.mark.django_db, pytest.mark.backend_independent("postgresql")]


def compose(
    sender="camille.martin@example.fr",
    subject="Question sur ma taxe foncière",
    body="Bonjour,\n\nPouvez-vous m'expliquer le montant ?\n\nCamille",
    *,
    message_id=None,
    in_reply_to=None,
    attachments=(),
    headers=None,
    authentication=DMARC_PASS,
) -> bytes:
    """A citizen's e-mail as the receiving server delivers it: with its verdict on top
    (``authentication``; None: no header of our server)."""
    msg = EmailMessage()
    if authentication:
        msg["Authentication-Results"] = authentication
    msg["From"] = f"Camille Martin <{sender}>"
    msg["To"] = "impots@guichet.test"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or make_msgid(domain="example.fr")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    for name, data, maintype, subtype in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def deliver(imap_client, raw: bytes) -> None:
    imap_client.append("INBOX", raw)


def flagged(imap_client) -> list[int]:
    imap_client.noop()  # see what the channel's own session changed
    return imap_client.search(["KEYWORD", imap_reader.IMPORTED_FLAG.decode()])


def test_a_new_mail_becomes_a_case_with_its_attachments(imap, mailbox, citizen):
    deliver(
        imap,
        compose(
            attachments=[
                ("avis.pdf", valid_pdf(), "application", "pdf"),
                ("photo.png", valid_png(), "image", "png"),
            ]
        ),
    )
    assert poll_mailbox(mailbox.pk) == "ok"

    case = Case.objects.get()
    assert case.channel == Channel.EMAIL
    assert case.service == mailbox.service
    assert case.topic == mailbox.default_topic
    assert case.kind == Case.Kind.QUESTION
    assert case.citizen == citizen  # a verified address
    assert case.subject == "Question sur ma taxe foncière"
    message = MailMessage.objects.get(case=case, direction=MailMessage.Direction.INBOUND)
    assert sorted(a.content_type for a in message.attachments.all()) == [
        "application/pdf",
        "image/png",
    ]
    assert message.refused_attachments == []
    listed = Event.objects.get(case=case).payload["mail_attachments"]
    assert sorted((a["name"], a["id"]) for a in listed) == sorted(
        (a.original_name, str(a.pk)) for a in message.attachments.all()
    )
    assert b"Pouvez-vous" in bytes(message.raw)
    assert len(flagged(imap)) == 1
    # Read again: nothing new.
    assert poll_mailbox(mailbox.pk) == "ok"
    assert Case.objects.count() == 1


def test_an_unknown_or_unverified_sender_gets_an_unidentified_case(imap, mailbox, citizen):
    citizen.is_active = False  # a sign-up whose address is not verified yet
    citizen.save()
    deliver(imap, compose())
    deliver(imap, compose(sender="inconnu@example.org", subject="Autre question"))
    poll_mailbox(mailbox.pk)
    cases = Case.objects.order_by("id")
    assert [c.citizen.email for c in cases] == [UNIDENTIFIED_SENDER_EMAIL] * 2
    first = Event.objects.filter(case=cases[0]).order_by("id").first()
    assert first.payload["unidentified_sender"] == "camille.martin@example.fr"


def test_a_reply_threads_by_headers_and_by_the_reference(imap, mailbox, citizen):
    first_id = make_msgid(domain="example.fr")
    deliver(imap, compose(message_id=first_id))
    poll_mailbox(mailbox.pk)
    case = Case.objects.get()
    deliver(
        imap,
        compose(
            subject="Re: Question sur ma taxe foncière",
            body="Voici la précision.\n\nLe 3 déc. 2026, Camille a écrit :\n> Bonjour,\n> ancien",
            in_reply_to=first_id,
        ),
    )
    deliver(imap, compose(subject=f"Complément {case.reference}", body="Encore une chose."))
    poll_mailbox(mailbox.pk)

    assert Case.objects.count() == 1
    messages = Event.objects.filter(case=case, type=Event.Type.MESSAGE).order_by("id")
    assert [e.body for e in messages][1:] == ["Voici la précision.", "Encore une chose."]
    reply = MailMessage.objects.get(in_reply_to=first_id, direction=MailMessage.Direction.INBOUND)
    assert "> ancien" in reply.body  # the original is kept


def test_the_reference_of_another_persons_case_does_not_thread(imap, mailbox, citizen):
    deliver(imap, compose())
    poll_mailbox(mailbox.pk)
    case = Case.objects.get()
    deliver(imap, compose(sender="intrus@example.org", subject=f"Re {case.reference}"))
    poll_mailbox(mailbox.pk)
    assert Case.objects.count() == 2


def test_a_duplicate_delivery_creates_one_case(imap, mailbox, citizen):
    raw = compose()
    deliver(imap, raw)
    deliver(imap, raw)
    poll_mailbox(mailbox.pk)
    assert Case.objects.count() == 1
    assert MailMessage.objects.filter(direction=MailMessage.Direction.INBOUND).count() == 1
    assert MailMessage.objects.filter(kind=MailMessage.Kind.ACKNOWLEDGEMENT).count() == 1
    assert len(flagged(imap)) == 2


def test_a_message_without_message_id_is_imported_once(mailbox, citizen):
    raw = authenticated(
        b"From: camille.martin@example.fr\r\nSubject: Sans identifiant\r\n\r\nBonjour\r\n"
    )
    assert import_message(mailbox, raw).outcome == "created"
    assert import_message(mailbox, raw).outcome == "duplicate"
    assert Case.objects.count() == 1


def test_a_crash_before_the_server_flag_creates_one_case(imap, mailbox, citizen, monkeypatch):
    deliver(imap, compose())

    def crash(client, uids):
        raise ConnectionError("worker killed before flagging")

    with monkeypatch.context() as patch:
        patch.setattr(imap_reader, "mark_imported", crash)
        assert poll_mailbox(mailbox.pk) == "error"
    assert Case.objects.count() == 1  # committed
    assert flagged(imap) == []  # but not flagged on the server
    mailbox.refresh_from_db()
    assert "worker killed" in mailbox.last_error

    assert poll_mailbox(mailbox.pk) == "ok"
    assert Case.objects.count() == 1
    assert len(flagged(imap)) == 1


def test_a_failure_midway_flags_the_batchs_committed_messages(imap, mailbox, citizen, monkeypatch):
    """The flags go in one command per fetch batch, still only for committed imports."""
    for subject in ("Premier", "Deuxième", "Troisième"):
        deliver(imap, compose(subject=subject))
    real = imap_reader.import_message
    calls: list[int] = []

    def fail_on_the_third(mailbox, raw, uid=None):
        calls.append(uid)
        if len(calls) == 3:
            raise RuntimeError("database gone")
        return real(mailbox, raw, uid=uid)

    with monkeypatch.context() as patch:
        patch.setattr(imap_reader, "import_message", fail_on_the_third)
        assert poll_mailbox(mailbox.pk) == "error"
    assert Case.objects.count() == 2
    assert sorted(flagged(imap)) == sorted(calls[:2])
    assert poll_mailbox(mailbox.pk) == "ok"
    assert Case.objects.count() == 3 and len(flagged(imap)) == 3


def test_an_autoresponder_opens_nothing_and_is_not_answered(
    imap, mailbox, citizen, agent_a, smtp_receiver, django_capture_on_commit_callbacks
):
    deliver(imap, compose())
    poll_mailbox(mailbox.pk)
    case = Case.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        post_staff_message(case, agent_a, "Voici notre réponse.")
    assert len(smtp_receiver.messages) == 1
    sent = MailMessage.objects.get(
        direction=MailMessage.Direction.OUTBOUND, kind=MailMessage.Kind.MESSAGE
    )

    out_of_office = compose(
        subject="Absence du bureau",
        body="Je suis absente jusqu'au 5.",
        in_reply_to=sent.message_id,
        headers={"Auto-Submitted": "auto-replied"},
    )
    bulk = compose(
        sender="lettre@example.org", subject="Newsletter", headers={"Precedence": "bulk"}
    )
    deliver(imap, out_of_office)
    deliver(imap, bulk)
    with django_capture_on_commit_callbacks(execute=True):
        poll_mailbox(mailbox.pk)

    assert Case.objects.count() == 1  # the newsletter opened nothing
    case.refresh_from_db()
    assert case.status == Case.Status.ANSWERED  # not brought back by the autoreply
    auto = MailMessage.objects.get(subject="Absence du bureau")
    assert auto.automatic and auto.case == case and auto.event.internal
    assert MailMessage.objects.get(subject="Newsletter").status == MailMessage.Status.IGNORED
    assert len(smtp_receiver.messages) == 1  # nothing sent back
    assert len(flagged(imap)) == 3


def test_a_disguised_attachment_is_refused_and_reported(imap, mailbox, citizen):
    deliver(
        imap,
        compose(
            attachments=[
                ("facture.pdf", windows_executable(), "application", "pdf"),
                ("avis.pdf", valid_pdf(), "application", "pdf"),
            ]
        ),
    )
    poll_mailbox(mailbox.pk)
    case = Case.objects.get()
    message = MailMessage.objects.get(case=case, direction=MailMessage.Direction.INBOUND)
    assert [a.original_name for a in message.attachments.all()] == ["avis.pdf"]
    [refused] = message.refused_attachments
    assert refused["name"] == "facture.pdf"
    assert "programme" in refused["reason"]
    note = Event.objects.get(case=case, type=Event.Type.NOTE)
    assert note.internal and "facture.pdf" in note.body


def test_the_agents_reply_reaches_the_sender_with_threading_headers(
    imap, mailbox, citizen, agent_a, smtp_receiver, django_capture_on_commit_callbacks
):
    first_id = make_msgid(domain="example.fr")
    deliver(imap, compose(message_id=first_id))
    poll_mailbox(mailbox.pk)
    case = Case.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        post_staff_message(
            case,
            agent_a,
            "Note pour l'équipe.",
            internal=True,
            notify=None,
            event_type=Event.Type.NOTE,
            status=None,
        )
    assert smtp_receiver.messages == []  # an internal note never leaves

    with django_capture_on_commit_callbacks(execute=True):
        post_staff_message(case, agent_a, "Le montant tient compte de la revalorisation.")
    [raw] = smtp_receiver.messages
    sent = email.message_from_bytes(raw, policy=email.policy.default)
    assert sent["In-Reply-To"] == first_id
    assert first_id in sent["References"]
    assert case.reference in sent["Subject"]
    assert sent["From"].addresses[0].addr_spec == "impots@guichet.test"
    assert sent["To"].addresses[0].addr_spec == "camille.martin@example.fr"
    assert "revalorisation" in sent.get_content()
    out = MailMessage.objects.get(
        direction=MailMessage.Direction.OUTBOUND, kind=MailMessage.Kind.MESSAGE
    )
    assert out.status == MailMessage.Status.SENT
    assert sent["Message-ID"] == out.message_id

    # The citizen's answer to it threads through the Message-ID we sent.
    deliver(
        imap, compose(subject=f"Re: {sent['Subject']}", body="Merci.", in_reply_to=out.message_id)
    )
    poll_mailbox(mailbox.pk)
    assert Case.objects.count() == 1
    case.refresh_from_db()
    assert case.status == Case.Status.IN_PROGRESS


def test_an_unparsable_message_lands_in_quarantine(imap, mailbox, citizen):
    broken = (
        b"From: camille.martin@example.fr\r\nSubject: Illisible\r\nMessage-ID: <b@example.fr>\r\n"
        b"Content-Type: text/plain; charset=x-charset-inconnu\r\n\r\nBonjour\r\n"
    )
    no_sender = b"Subject: Sans expediteur\r\n\r\nBonjour\r\n"
    deliver(imap, broken)
    deliver(imap, no_sender)
    assert poll_mailbox(mailbox.pk) == "ok"
    assert Case.objects.count() == 0
    items = QuarantinedMail.objects.order_by("uid")
    assert [bytes(q.raw) for q in items] == [broken, no_sender]
    assert "LookupError" in items[0].error
    assert len(flagged(imap)) == 2
    poll_mailbox(mailbox.pk)
    assert QuarantinedMail.objects.count() == 2
