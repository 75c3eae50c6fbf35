"""The console's quarantine page: staff of the mailbox's service only, the source read is
audited, release onto a case, delete (source erased), each once."""

from __future__ import annotations

import pytest
from django.urls import reverse

from contactcenter.models import AuditLog, Case
from mail.models import QuarantinedMail
from mail.services import UNIDENTIFIED_SENDER_EMAIL, import_message
from tests.mail.conftest import DMARC_PASS
from tests.mail.test_mail_units import offline_mailbox  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

NO_SENDER = (
    b"Subject: Sans expediteur\r\nMessage-ID: <q@example.fr>\r\n\r\nBonjour, mon dossier.\r\n"
)
BROKEN = (
    b"From: Camille <camille.martin@example.fr>\r\nSubject: Illisible\r\n"
    b"Content-Type: text/plain; charset=x-inconnu\r\n\r\nBonjour\r\n"
)


def test_staff_of_the_service_list_read_release_and_delete(
    offline_mailbox,  # noqa: F811
    agent_a,
    agent_b,
    citizen,
    client_as,
):
    first = import_message(offline_mailbox, NO_SENDER).quarantined
    second = import_message(offline_mailbox, BROKEN).quarantined
    assert first is not None and second is not None
    page = client_as(agent_a).get(reverse("console:quarantine"))
    assert page.status_code == 200
    assert page.content.count(b"/console/courriels/quarantaine/") >= 2
    assert b"Aucun courriel" in client_as(agent_b).get(reverse("console:quarantine")).content
    assert (
        client_as(agent_b).get(reverse("console:quarantine_item", args=[first.pk])).status_code
        == 404
    )
    assert client_as(citizen).get(reverse("console:quarantine")).status_code == 403

    item_page = client_as(agent_a).get(reverse("console:quarantine_item", args=[second.pk]))
    assert b"charset=x-inconnu" in item_page.content
    assert AuditLog.objects.filter(actor=agent_a, detail__quarantined_mail=second.pk).exists()

    released = client_as(agent_a).post(reverse("console:quarantine_release", args=[second.pk]))
    case = Case.objects.get()
    assert released.status_code == 302 and case.reference in released["Location"]
    assert case.citizen.email == UNIDENTIFIED_SENDER_EMAIL
    assert "x-inconnu" in case.events.first().body  # the source, for an agent to read
    second.refresh_from_db()
    assert second.status == QuarantinedMail.Status.RELEASED and second.handled_by == agent_a
    assert second.case == case
    again = client_as(agent_a).post(reverse("console:quarantine_release", args=[second.pk]))
    assert again.status_code == 409
    assert Case.objects.count() == 1

    client_as(agent_a).post(reverse("console:quarantine_delete", args=[first.pk]))
    first.refresh_from_db()
    assert first.status == QuarantinedMail.Status.DELETED and bytes(first.raw) == b""
    page = client_as(agent_a).get(reverse("console:quarantine"))
    assert b"Aucun courriel" in page.content


def test_an_agent_links_an_unidentified_sender_who_is_told_to_use_the_space(
    offline_mailbox,  # noqa: F811
    agent_a,
    agent_b,
    citizen,
    client_as,
    smtp_receiver,
    django_capture_on_commit_callbacks,
):
    import email
    import email.policy

    from contactcenter.models import Event

    raw = (
        b"From: Camille <camille.perso@example.org>\r\nTo: impots@guichet.test\r\n"
        b"Subject: Ma taxe\r\nMessage-ID: <perso@example.org>\r\n\r\nBonjour\r\n"
    )
    case = import_message(offline_mailbox, raw).message.case
    assert case.citizen.email == UNIDENTIFIED_SENDER_EMAIL
    url = reverse("console:link_sender", args=[case.reference])
    page = client_as(agent_a).get(reverse("console:case", args=[case.reference]))
    assert url.encode() in page.content
    assert b"camille.perso@example.org" in client_as(agent_a).get(url).content
    assert client_as(agent_b).get(url).status_code == 404

    wrong = client_as(agent_a).post(url, {"email": "personne@example.org"})
    assert wrong.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        done = client_as(agent_a).post(url, {"email": citizen.email})
    assert done.status_code == 302
    case.refresh_from_db()
    assert case.citizen == citizen
    assert not Event.objects.filter(case=case).exclude(citizen_id=citizen.pk).exists()
    [notice] = [
        email.message_from_bytes(m, policy=email.policy.default) for m in smtp_receiver.messages
    ]
    assert notice["To"].addresses[0].addr_spec == "camille.perso@example.org"
    assert notice["Auto-Submitted"] == "auto-replied"
    assert "/espace/" in notice.get_content()
    assert (
        client_as(citizen).get(reverse("messaging:case_detail", args=[case.reference])).status_code
        == 200
    )
    assert client_as(agent_a).post(url, {"email": citizen.email}).status_code == 404  # done


def test_an_emails_attachments_are_listed_in_the_console_and_the_citizens_space(
    offline_mailbox,  # noqa: F811
    agent_a,
    citizen,
    client_as,
):
    from email.message import EmailMessage

    from tests.upload_samples import valid_pdf

    msg = EmailMessage()
    msg["Authentication-Results"] = DMARC_PASS
    msg["From"] = "camille.martin@example.fr"
    msg["Subject"] = "Avis joint"
    msg["Message-ID"] = "<avis@example.fr>"
    msg.set_content("Ci-joint.")
    msg.add_attachment(valid_pdf(), maintype="application", subtype="pdf", filename="avis.pdf")
    message = import_message(offline_mailbox, msg.as_bytes()).message
    [attachment] = message.attachments.all()
    link = reverse("mail:attachment", args=[attachment.pk]).encode()
    reference = message.case.reference
    for page in (
        client_as(agent_a).get(reverse("console:case", args=[reference])),
        client_as(agent_a).get(reverse("console:ws_item", args=[reference])),
        client_as(citizen).get(reverse("messaging:case_detail", args=[reference])),
    ):
        assert page.status_code == 200
        assert link in page.content and b"avis.pdf" in page.content


def test_the_console_menu_links_the_quarantine_with_its_count(
    offline_mailbox,  # noqa: F811
    agent_a,
    agent_b,
    supervisor,
    client_as,
):
    def link(user, url):
        html = client_as(user).get(url).content.decode()
        marker = 'href="/console/courriels/quarantaine/" data-quarantine-count="'
        if marker not in html:
            return None
        return int(html.split(marker, 1)[1].split('"', 1)[0])

    # The workstation loads the link after the page (its query budget): the fragment.
    home, workstation = reverse("console:home"), reverse("console:quarantine_link")
    assert workstation in client_as(agent_a).get(reverse("console:workstation")).content.decode()
    assert link(agent_a, home) == 0  # a service with a mailbox, nothing waiting
    import_message(offline_mailbox, NO_SENDER)
    import_message(offline_mailbox, BROKEN)
    assert link(agent_a, home) == 2
    assert link(agent_a, workstation) == 2
    assert link(supervisor, home) == 2
    page = client_as(agent_a).get(home).content.decode()
    assert "Quarantaine courriels (2)" in page and "messages à traiter" in page
    assert link(agent_b, home) is None  # service B has no mailbox: no link
    assert link(agent_b, workstation) is None
    assert client_as(agent_b).get(workstation).content.decode().strip() == ""
    item = QuarantinedMail.objects.filter(error__contains="From").get()
    client_as(agent_a).post(reverse("console:quarantine_delete", args=[item.pk]))
    assert link(agent_a, home) == 1
