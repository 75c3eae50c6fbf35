"""Admin pages of the outbox and attachments; demo documents."""

import pytest
from django.urls import reverse

from contactcenter.models import Case
from contactcenter.services import open_case
from messaging import notifications, services
from messaging.demo import load_demo_attachments
from messaging.models import Attachment, Notification

from .conftest import pdf_file

pytestmark = pytest.mark.django_db


def test_admin_lists_and_shows_outbox_and_attachments(client_as, admin_user, case_a, citizen):
    services.post_citizen_message(case_a, citizen, "PJ", files=[pdf_file()])
    (row,) = notifications.queue_for_citizen(citizen.pk, case_a.pk, "reply")
    client = client_as(admin_user)
    attachment = Attachment.objects.get()
    for url in (
        reverse("admin:messaging_notification_changelist"),
        reverse("admin:messaging_notification_change", args=[row.pk]),
        reverse("admin:messaging_attachment_changelist"),
        reverse("admin:messaging_attachment_change", args=[attachment.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert attachment.file.name not in response.content.decode()


def test_admin_send_again_resets_a_failed_alert(
    client_as, admin_user, case_a, citizen, mailoutbox, django_capture_on_commit_callbacks
):
    (row,) = notifications.queue_for_citizen(citizen.pk, case_a.pk, "reply")
    Notification.objects.filter(pk=row.pk).update(status="failed", attempts=5)
    with django_capture_on_commit_callbacks(execute=True):
        client_as(admin_user).post(
            reverse("admin:messaging_notification_changelist"),
            {"action": "send_again", "_selected_action": [row.pk]},
        )
    row.refresh_from_db()
    assert row.status == "sent" and row.attempts == 1
    assert len(mailoutbox) == 1


def test_demo_attaches_the_document_the_citizen_mentions_once(citizen, topic_a):
    case, first = open_case(
        citizen=citizen,
        topic=topic_a,
        kind=Case.Kind.CLAIM,
        channel="web",
        subject="Contestation de la taxe d'habitation",
        body="Je joins mon état des lieux de sortie.",
        route=False,
    )
    assert load_demo_attachments() == 1
    assert load_demo_attachments() == 0
    attachment = first.attachments.get()
    assert attachment.content_type == "application/pdf"
    assert attachment.file.read().startswith(b"%PDF-")
