"""The sender's authenticity: only our receiving server's Authentication-Results count, a forged
or unverified From never lands on a citizen's case, never threads, and is never answered as the
citizen."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from contactcenter.models import Case, Event
from contactcenter.services import post_staff_message
from mail.authentication import parse_header, verdict
from mail.models import UNIDENTIFIED_SENDER_EMAIL, MailMessage
from mail.services import import_message
from tests.mail import test_mail_units
from tests.mail.conftest import AUTHSERV_ID, DMARC_PASS

pytestmark = pytest.mark.django_db

offline_mailbox = test_mail_units.offline_mailbox  # the fixture

SENDER = "camille.martin@example.fr"


def mail(*results: str, sender=SENDER, subject="Changement d'adresse", in_reply_to=None) -> bytes:
    msg = EmailMessage()
    for value in results:
        msg["Authentication-Results"] = value
    msg["From"] = f"Camille Martin <{sender}>"
    msg["To"] = "impots@guichet.test"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.fr")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content("Merci d'envoyer désormais mon courrier au 3 rue des Lilas.")
    return msg.as_bytes()


# --- the header's reading (RFC 8601) -----------------------------------------------------------


def test_the_header_is_read_with_comments_quotes_and_versions():
    authserv_id, results = parse_header(
        "MX.Guichet.test 1; (checked by opendmarc) dkim = pass (2048-bit key) header.d=Example.FR "
        'header.s="sel;1"; spf=fail smtp.mailfrom=bounce@other.example; dmarc/1=pass '
        'reason="aligned" header.from=example.fr'
    )
    assert authserv_id == "mx.guichet.test"
    assert [(r.method, r.result) for r in results] == [
        ("dkim", "pass"),
        ("spf", "fail"),
        ("dmarc", "pass"),
    ]
    assert results[0].properties == {"header.d": "example.fr", "header.s": "sel;1"}
    assert results[2].properties == {"header.from": "example.fr"}


def test_a_header_without_results_or_malformed_gives_nothing():
    assert parse_header("mx.guichet.test; none") == ("mx.guichet.test", [])
    assert parse_header("mx.guichet.test dmarc=pass") == ("mx.guichet.test", [])
    assert parse_header("") == ("", [])


@pytest.mark.parametrize(
    ("results", "verified"),
    [
        ([DMARC_PASS], True),
        ([f"{AUTHSERV_ID}; dkim=pass header.d=example.fr"], True),
        ([f"{AUTHSERV_ID}; dkim=pass header.i=@mail.example.fr"], False),  # a child domain
        ([f"{AUTHSERV_ID}; dkim=pass header.d=autre.example"], False),  # not aligned
        ([f"{AUTHSERV_ID}; spf=pass smtp.mailfrom=retour@example.fr"], True),
        ([f"{AUTHSERV_ID}; spf=pass smtp.mailfrom=retour@fr"], False),  # a bare TLD
        ([f"{AUTHSERV_ID}; spf=softfail smtp.mailfrom=example.fr"], False),
        # DMARC decides when the server gives it, whatever DKIM or SPF say.
        ([f"{AUTHSERV_ID}; dkim=pass header.d=example.fr; dmarc=fail"], False),
        # Several headers of our server (OpenDKIM, then OpenDMARC) are read together.
        ([f"{AUTHSERV_ID}; spf=none", f"{AUTHSERV_ID}; dmarc=pass header.from=example.fr"], True),
        # Another server's verdict, or the sender's own header, is not ours.
        (["mx.attacker.example; dmarc=pass header.from=example.fr"], False),
        (["guichet.test; dmarc=pass header.from=example.fr"], False),
        ([], False),
    ],
)
def test_the_verdict(results, verified, settings):
    assert verdict(results, SENDER).verified is verified


def test_the_sender_of_a_sub_domain_is_aligned_with_a_parent_signature():
    results = [f"{AUTHSERV_ID}; dkim=pass header.d=example.fr"]
    assert verdict(results, "agent@mairie.example.fr").verified


def test_without_a_configured_server_nobody_is_verified(settings):
    settings.MAIL_AUTHSERV_ID = ""
    found = verdict([DMARC_PASS], SENDER)
    assert not found.verified and "MAIL_AUTHSERV_ID" in found.reason


def test_several_receiving_servers_may_be_named(settings):
    settings.MAIL_AUTHSERV_ID = "mx1.guichet.test, MX2.guichet.test"
    assert verdict(["mx2.guichet.test; dmarc=pass"], SENDER).verified


# --- what the channel does with it --------------------------------------------------------------


def unverified_note(case: Case) -> Event:
    return Event.objects.get(case=case, type=Event.Type.NOTE, internal=True)


@pytest.mark.parametrize(
    "results",
    [
        (),  # no verdict at all
        ("mx.attacker.example; dmarc=pass header.from=example.fr",),  # written by the sender
        (f"{AUTHSERV_ID}; dmarc=fail header.from=example.fr",),
    ],
)
def test_a_forged_from_is_not_the_citizens(offline_mailbox, citizen, results):
    message = import_message(offline_mailbox, mail(*results)).message
    case = message.case
    assert case.citizen.email == UNIDENTIFIED_SENDER_EMAIL
    assert message.sender_verified is False
    first = Event.objects.filter(case=case, type=Event.Type.MESSAGE).get()
    assert first.actor != citizen
    assert first.payload["unverified_sender"]
    note = unverified_note(case)
    assert note.body.startswith("Expéditeur non vérifié (camille.martin@example.fr)")
    assert not Case.objects.filter(citizen=citizen).exists()


def test_a_dmarc_pass_is_the_citizens(offline_mailbox, citizen):
    message = import_message(offline_mailbox, mail(DMARC_PASS)).message
    assert message.case.citizen == citizen
    assert message.sender_verified is True
    assert not Event.objects.filter(case=message.case, type=Event.Type.NOTE).exists()


def test_a_forged_reply_quoting_the_reference_or_the_message_id_does_not_thread(
    offline_mailbox, citizen
):
    first = import_message(offline_mailbox, mail(DMARC_PASS)).message
    case = first.case
    forged = [
        # The citizen's address, without our server's verdict, quoting the reference...
        mail(sender=SENDER, subject=f"Re: [{case.reference}] nouvelle adresse"),
        # ... or the Message-ID of the case's e-mail.
        mail(sender=SENDER, subject="Re: suite", in_reply_to=first.message_id),
        # A verified stranger who got hold of the Message-ID.
        mail(
            "mx.guichet.test; dmarc=pass header.from=example.org",
            sender="intrus@example.org",
            subject="Re: suite",
            in_reply_to=first.message_id,
        ),
    ]
    for raw in forged:
        assert import_message(offline_mailbox, raw).outcome == "created"
    assert Event.objects.filter(case=case, type=Event.Type.MESSAGE).count() == 1
    assert Case.objects.count() == 4
    # The citizen's own verified reply still threads.
    reply = mail(DMARC_PASS, subject="Re: suite", in_reply_to=first.message_id)
    assert import_message(offline_mailbox, reply).outcome == "threaded"


def test_the_answer_never_goes_to_an_unverified_sender_on_a_citizens_case(
    offline_mailbox, citizen, agent_a, django_capture_on_commit_callbacks
):
    first = import_message(offline_mailbox, mail(DMARC_PASS)).message
    case = first.case
    # An unverified message on the citizen's case (an agent linked its case to the citizen,
    # or it was received before the verdict was read): never the answer's recipient.
    MailMessage.objects.create(
        mailbox=offline_mailbox,
        direction=MailMessage.Direction.INBOUND,
        status=MailMessage.Status.IMPORTED,
        key="forged",
        sender="camille.martin@example.fr.attacker.example",
        case=case,
        sender_verified=False,
    )
    with django_capture_on_commit_callbacks():
        post_staff_message(case, agent_a, "Votre adresse est modifiée.")
    answer = MailMessage.objects.get(direction=MailMessage.Direction.OUTBOUND, kind="message")
    assert answer.recipient == SENDER
    assert answer.in_reply_to == first.message_id
