""" "Action attendue" reminders: N days after the step expecting the citizen, at most the
type's count (2 at most), once each, stopped by a new step or the citizen's document
(frozen clock)."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from contactcenter.attachments import CheckedFile
from demarches import services
from demarches.models import Demarche
from demarches.tasks import send_action_reminders
from messaging.models import Notification

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def frozen(moment):
    return mock.patch("django.utils.timezone.now", return_value=moment)


@pytest.fixture
def reminding_type(passport_type):
    passport_type.action_reminder_days = 3
    passport_type.action_reminders = 2
    passport_type.save()
    return passport_type


@pytest.fixture
def waiting(reminding_type, pusher, fc_citizen, django_capture_on_commit_callbacks):
    with frozen(T0), django_capture_on_commit_callbacks(execute=True):
        return services.create_demarche(
            pusher.client, fc_citizen, "passeport", "PASS-9", step="piece-manquante"
        )


def run_at(moment, capture):
    with frozen(moment), capture(execute=True):
        return send_action_reminders()


def reminders():
    return Notification.objects.filter(kind="demarche_action_reminder", channel="email")


def test_two_reminders_n_days_apart_then_none(waiting, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    assert Notification.objects.filter(kind="demarche_action").exists()  # the first alert
    assert run_at(T0 + timedelta(days=2, hours=23), capture) == 0
    assert run_at(T0 + timedelta(days=3), capture) == 1
    assert run_at(T0 + timedelta(days=3, minutes=15), capture) == 0  # once
    assert reminders().count() == 1
    first = reminders().get()
    assert "PASS-9" in first.subject and "Pièce manquante" in first.text
    assert "Depuis le 02/11/2026" in first.text
    assert run_at(T0 + timedelta(days=5), capture) == 0
    assert run_at(T0 + timedelta(days=6), capture) == 1
    assert run_at(T0 + timedelta(days=60), capture) == 0  # at most 2
    assert reminders().count() == 2


def test_late_sweep_sends_one_reminder_at_a_time(waiting, django_capture_on_commit_callbacks):
    assert run_at(T0 + timedelta(days=30), django_capture_on_commit_callbacks) == 1
    assert run_at(T0 + timedelta(days=30), django_capture_on_commit_callbacks) == 1
    assert run_at(T0 + timedelta(days=30), django_capture_on_commit_callbacks) == 0


def test_a_new_step_restarts_the_count_and_a_step_without_action_stops(
    waiting, pusher, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    assert run_at(T0 + timedelta(days=3), capture) == 1
    with frozen(T0 + timedelta(days=4)):
        services.move_to_step(pusher.client, "passeport", "PASS-9", "instruction")
    assert run_at(T0 + timedelta(days=30), capture) == 0
    with frozen(T0 + timedelta(days=31)):
        services.move_to_step(pusher.client, "passeport", "PASS-9", "disponible")
    assert run_at(T0 + timedelta(days=33), capture) == 0
    assert run_at(T0 + timedelta(days=34), capture) == 1
    assert Demarche.objects.get().action_reminders_sent == 1


def test_the_citizens_document_stops_the_reminders(
    waiting, fc_citizen, django_capture_on_commit_callbacks
):
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    document = CheckedFile("photo.pdf", "application/pdf", len(pdf), "0" * 64, pdf)
    with frozen(T0 + timedelta(days=1)):
        services.citizen_document(fc_citizen, str(waiting.public_id), document)
    assert run_at(T0 + timedelta(days=30), django_capture_on_commit_callbacks) == 0


def test_a_closed_demarche_gets_no_reminder(waiting, pusher, django_capture_on_commit_callbacks):
    services.close_demarche(pusher.client, "passeport", "PASS-9")
    assert run_at(T0 + timedelta(days=30), django_capture_on_commit_callbacks) == 0


def test_at_most_two_reminders_per_type(reminding_type):
    reminding_type.action_reminders = 3
    with pytest.raises(ValidationError) as caught:
        reminding_type.full_clean()
    assert "action_reminders" in caught.value.message_dict
