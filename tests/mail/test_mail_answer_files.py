"""An agent's answer with attachments on an e-mail case: the files joined in the console (the
core's upload checks) go out with the e-mail, read back from the SMTP receiver."""

from __future__ import annotations

import email
import email.policy

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contactcenter.models import Case
from mail.models import MailMessage
from mail.tasks import poll_mailbox
from tests.mail.test_mail_channel import compose, deliver
from tests.upload_samples import valid_pdf, valid_png, windows_executable

pytestmark = pytest.mark.django_db


def answers(smtp_receiver):
    """The answers received (the acknowledgement aside)."""
    parsed = [email.message_from_bytes(m, policy=email.policy.default) for m in smtp_receiver]
    return [m for m in parsed if m["Auto-Submitted"] == "no"]


def test_the_answer_carries_the_files_the_agent_joined(
    imap, mailbox, citizen, agent_a, client_as, smtp_receiver, django_capture_on_commit_callbacks
):
    deliver(imap, compose())
    with django_capture_on_commit_callbacks(execute=True):
        poll_mailbox(mailbox.pk)
    case = Case.objects.get()
    pdf, png = valid_pdf(), valid_png()
    client = client_as(agent_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/console/demandes/{case.reference}/repondre/",
            {
                "body": "Voici l'attestation demandée.",
                "action": "reply",
                "files": [
                    SimpleUploadedFile("attestation.pdf", pdf, "application/pdf"),
                    SimpleUploadedFile("plan.png", png, "image/png"),
                ],
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]

    [answer] = answers(smtp_receiver.messages)
    assert answer["Subject"].strip().startswith(f"[{case.reference}]")
    assert answer.get_body(preferencelist=("plain",)).get_content().startswith("Voici")
    files = {part.get_filename(): part for part in answer.iter_attachments()}
    assert sorted(files) == ["attestation.pdf", "plan.png"]
    assert files["attestation.pdf"].get_content_type() == "application/pdf"
    assert files["attestation.pdf"].get_content() == pdf  # the checked PDF, unchanged
    assert files["plan.png"].get_content_type() == "image/png"
    assert files["plan.png"].get_content()[:8] == b"\x89PNG\r\n\x1a\n"  # re-encoded, still PNG
    sent = MailMessage.objects.get(
        direction=MailMessage.Direction.OUTBOUND, kind=MailMessage.Kind.MESSAGE
    )
    assert sent.status == MailMessage.Status.SENT


def test_a_disguised_file_refuses_the_answer_and_nothing_is_sent(
    imap, mailbox, citizen, agent_a, client_as, smtp_receiver, django_capture_on_commit_callbacks
):
    deliver(imap, compose())
    with django_capture_on_commit_callbacks(execute=True):
        poll_mailbox(mailbox.pk)
    case = Case.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(agent_a).post(
            f"/console/demandes/{case.reference}/repondre/",
            {
                "body": "Voici la pièce.",
                "action": "reply",
                "files": [
                    SimpleUploadedFile("facture.pdf", windows_executable(), "application/pdf")
                ],
            },
        )
    assert response.status_code == 400
    assert "programme" in response.content.decode()
    assert answers(smtp_receiver.messages) == []
    assert not MailMessage.objects.filter(
        direction=MailMessage.Direction.OUTBOUND, kind=MailMessage.Kind.MESSAGE
    ).exists()
