"""Notification outbox: content-free, per preferences, queued after commit, sent once."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from contactcenter.models import Event, User
from contactcenter.services import notify_citizen
from messaging import notifications, services
from messaging.models import Notification
from messaging.tasks import flush_outbox, send_notification
from messaging.transports.base import PermanentTransportError
from messaging.transports.sms import SmsTransport

pytestmark = pytest.mark.django_db

SECRET_BODY = "Votre numéro fiscal est 1234567890123 et votre dette est de 5 000 €"
SECRET_SUBJECT = "Changement d'adresse"


class RecordingSmsBackend:
    sent: list = []

    def send(self, to, text, idempotency_key):
        RecordingSmsBackend.sent.append((to, text, idempotency_key))
        return f"prov-{len(RecordingSmsBackend.sent)}"


@pytest.fixture
def sms_recorder():
    RecordingSmsBackend.sent = []
    with override_settings(SMS_BACKEND="tests.messaging.test_notifications.RecordingSmsBackend"):
        yield RecordingSmsBackend.sent


@pytest.fixture
def both_channels(citizen):
    citizen.notify_email = True
    citizen.notify_sms = True
    citizen.save()
    return citizen


def reply(case, agent, capture, body=SECRET_BODY):
    with capture(execute=True):
        return services.post_agent_reply(case, agent, body)


def test_notifications_never_carry_the_message_or_the_subject(
    case_a, agent_a, both_channels, sms_recorder, django_capture_on_commit_callbacks
):
    reply(case_a, agent_a, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1 and len(sms_recorder) == 1
    email = mail.outbox[0]
    sms_text = sms_recorder[0][1]
    for text in (email.subject, email.body, sms_text):
        assert SECRET_BODY not in text
        assert "1234567890123" not in text
        assert SECRET_SUBJECT not in text
        assert (
            "Vous avez un nouveau message dans votre espace Guichet" in text
            or text == email.subject
        )
    assert email.subject == "Vous avez un nouveau message dans votre espace Guichet"
    link = f"http://127.0.0.1:8000/espace/demandes/{case_a.reference}/"
    assert link in email.body and link in sms_text
    assert sms_text == f"Vous avez un nouveau message dans votre espace Guichet : {link}"
    for row in Notification.objects.all():
        assert SECRET_BODY not in row.text and SECRET_SUBJECT not in row.text + row.subject
        assert row.status == Notification.Status.SENT


def test_sms_goes_to_the_normalised_french_mobile(
    case_a, agent_a, both_channels, sms_recorder, django_capture_on_commit_callbacks
):
    both_channels.mobile_phone = "06 12 34 56 78"
    both_channels.save()
    reply(case_a, agent_a, django_capture_on_commit_callbacks)
    assert sms_recorder[0][0] == "+33612345678"


@pytest.mark.parametrize(
    ("stored", "sent_to"),
    [
        ("0692 12 34 56", "+262692123456"),
        ("+33692123456", "+262692123456"),  # as the former check stored it
        ("+594694201234", "+594694201234"),
        ("+689 87 12 34 56", "+68987123456"),
    ],
)
def test_sms_goes_to_the_e164_number_of_an_overseas_mobile(
    case_a,
    agent_a,
    both_channels,
    sms_recorder,
    django_capture_on_commit_callbacks,
    stored,
    sent_to,
):
    User.objects.filter(pk=both_channels.pk).update(mobile_phone=stored)
    reply(case_a, agent_a, django_capture_on_commit_callbacks)
    assert sms_recorder[0][0] == sent_to
    assert Notification.objects.get(channel="sms").address == sent_to


def test_sms_transport_refuses_an_address_that_is_not_a_mobile(case_a, citizen, sms_recorder):
    citizen.notify_email, citizen.notify_sms = False, True
    citizen.save()
    (row,) = notifications.queue_for_citizen(citizen.pk, case_a.pk, "reply")
    row.address = "+33123456789"  # a landline
    with pytest.raises(PermanentTransportError):
        SmsTransport().send(row)
    assert sms_recorder == []


@pytest.mark.parametrize(
    ("email", "sms", "channels"),
    [
        (True, False, {"email"}),
        (False, True, {"sms"}),
        (True, True, {"email", "sms"}),
        (False, False, set()),
    ],
)
def test_preferences_choose_the_channels(
    case_a,
    agent_a,
    citizen,
    email,
    sms,
    channels,
    sms_recorder,
    django_capture_on_commit_callbacks,
):
    citizen.notify_email, citizen.notify_sms = email, sms
    citizen.save()
    reply(case_a, agent_a, django_capture_on_commit_callbacks)
    assert set(Notification.objects.values_list("channel", flat=True)) == channels
    assert len(mail.outbox) == int(email)
    assert len(sms_recorder) == int(sms)


def test_sms_without_mobile_number_is_not_queued(
    case_a, agent_a, citizen, django_capture_on_commit_callbacks
):
    citizen.notify_email, citizen.notify_sms, citizen.mobile_phone = False, True, ""
    citizen.save()
    reply(case_a, agent_a, django_capture_on_commit_callbacks)
    assert Notification.objects.count() == 0


def test_no_email_alert_to_a_placeholder_address(
    case_a, agent_a, citizen, django_capture_on_commit_callbacks
):
    # An account FranceConnect created without an address (accounts.identities), whose
    # owner turned e-mail alerts on before verifying one.
    citizen.email = citizen.username = "franceconnect-0123@franceconnect.invalid"
    citizen.notify_email, citizen.notify_sms = True, False
    citizen.save()
    reply(case_a, agent_a, django_capture_on_commit_callbacks)
    assert Notification.objects.count() == 0 and len(mail.outbox) == 0


def test_nothing_is_queued_when_the_transaction_rolls_back(
    case_a, agent_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.post_agent_reply(case_a, agent_a, "Réponse")
    # Before commit: no outbox row, no mail.
    assert Notification.objects.count() == 0 and mail.outbox == []
    assert len(callbacks) == 1


def test_sending_records_an_internal_notification_event(
    case_a, agent_a, django_capture_on_commit_callbacks
):
    reply(case_a, agent_a, django_capture_on_commit_callbacks)
    event = case_a.events.get(type=Event.Type.NOTIFICATION)
    assert event.internal is True
    assert event.payload["channel"] == "email"
    assert event.payload["notification"] == Notification.objects.get().pk
    assert event.body == ""


def test_same_signal_delivered_twice_queues_once(case_a, citizen):
    first = notifications.queue_for_citizen(citizen.pk, case_a.pk, "reply")
    Notification.objects.update(status=Notification.Status.SENT)  # not absorbed as pending
    second = notifications.queue_for_citizen(citizen.pk, case_a.pk, "reply")
    assert len(first) == 1 and second == []
    assert Notification.objects.count() == 1


def test_a_pending_alert_absorbs_the_next_one_for_the_same_case(case_a, citizen):
    notifications.queue_for_citizen(citizen.pk, case_a.pk, "reply", key="a")
    notifications.queue_for_citizen(citizen.pk, case_a.pk, "request_info", key="b")
    assert Notification.objects.count() == 1


def test_task_run_twice_sends_once(case_a, citizen):
    (row,) = notifications.queue_for_citizen(citizen.pk, case_a.pk, "reply")
    assert send_notification(row.pk) == "sent"
    assert send_notification(row.pk) == "skipped"
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert row.attempts == 1 and row.sent_at is not None
    assert case_a.events.filter(type=Event.Type.NOTIFICATION).count() == 1


def test_a_claimed_row_is_not_sent_by_a_second_worker(case_a, citizen):
    (row,) = notifications.queue_for_citizen(citizen.pk, case_a.pk, "reply")
    # Another worker claimed it a moment ago and is sending.
    Notification.objects.filter(pk=row.pk).update(
        status=Notification.Status.SENDING, claimed_at=timezone.now()
    )
    assert send_notification(row.pk) == "skipped"
    assert flush_outbox() == 0
    assert mail.outbox == []


def test_transport_failure_is_retried_with_backoff_then_sent_once(case_a, citizen):
    (row,) = notifications.queue_for_citizen(citizen.pk, case_a.pk, "reply")
    with mock.patch(
        "messaging.transports.email.EmailMessage.send",
        side_effect=ConnectionRefusedError("smtp down"),
    ):
        assert send_notification(row.pk) == "retry"
    row.refresh_from_db()
    assert row.status == Notification.Status.PENDING
    assert row.attempts == 1
    assert "smtp down" in row.last_error
    delay = (row.next_attempt_at - timezone.now()).total_seconds()
    assert 50 < delay <= 60
    assert mail.outbox == []
    # Not due yet: neither the task nor the sweep sends it.
    assert send_notification(row.pk) == "skipped"
    assert flush_outbox() == 0
    # Second failure doubles the delay.
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    with mock.patch(
        "messaging.transports.email.EmailMessage.send", side_effect=TimeoutError("timeout")
    ):
        send_notification(row.pk)
    row.refresh_from_db()
    assert 110 < (row.next_attempt_at - timezone.now()).total_seconds() <= 120
    # Due again: the beat sweep sends it, exactly once.
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert flush_outbox() == 1
    assert flush_outbox() == 0
    row.refresh_from_db()
    assert row.status == Notification.Status.SENT and row.attempts == 3
    assert len(mail.outbox) == 1


def test_worker_crash_mid_task_is_recovered_without_loss_or_duplicate(case_a, citizen):
    (row,) = notifications.queue_for_citizen(citizen.pk, case_a.pk, "reply")

    class WorkerDied(BaseException):
        """Like a SIGKILL: not an Exception, so the task cannot record anything."""

    with (
        mock.patch("messaging.transports.email.EmailMessage.send", side_effect=WorkerDied),
        pytest.raises(WorkerDied),
    ):
        send_notification(row.pk)
    row.refresh_from_db()
    assert row.status == Notification.Status.SENDING  # claimed, never finished
    # The broker redelivers the task (acks_late): the claim protects against a double send.
    assert send_notification(row.pk) == "skipped"
    assert flush_outbox() == 0  # lease not expired yet
    # After the lease, the sweep takes the row back and sends it once.
    Notification.objects.filter(pk=row.pk).update(
        claimed_at=timezone.now() - notifications.SENDING_LEASE - timedelta(seconds=1)
    )
    assert flush_outbox() == 1
    assert flush_outbox() == 0
    row.refresh_from_db()
    assert row.status == Notification.Status.SENT
    assert len(mail.outbox) == 1


def test_gives_up_after_max_attempts(case_a, citizen, settings):
    settings.GUICHET_NOTIFICATION_MAX_ATTEMPTS = 2
    (row,) = notifications.queue_for_citizen(citizen.pk, case_a.pk, "reply")
    with mock.patch("messaging.transports.email.EmailMessage.send", side_effect=OSError("x")):
        send_notification(row.pk)
        Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        assert send_notification(row.pk) == "failed"
    row.refresh_from_db()
    assert row.status == Notification.Status.FAILED and row.attempts == 2


def test_invalid_sms_address_fails_permanently(case_a, citizen, sms_recorder):
    citizen.notify_email, citizen.notify_sms = False, True
    citizen.save()
    (row,) = notifications.queue_for_citizen(citizen.pk, case_a.pk, "reply")
    Notification.objects.filter(pk=row.pk).update(address="0612")
    with mock.patch("messaging.notifications._address", return_value="0612"):
        assert send_notification(row.pk) == "failed"
    assert sms_recorder == []


def test_withdrawn_preference_cancels_a_queued_alert(case_a, citizen):
    (row,) = notifications.queue_for_citizen(citizen.pk, case_a.pk, "reply")
    citizen.notify_email = False
    citizen.save()
    assert send_notification(row.pk) == "cancelled"
    assert mail.outbox == []


def test_retry_sends_with_the_same_message_id(case_a, citizen):
    (row,) = notifications.queue_for_citizen(citizen.pk, case_a.pk, "reply")
    send_notification(row.pk)
    row.refresh_from_db()
    assert mail.outbox[0].extra_headers["Message-ID"] == row.provider_id
    assert row.idempotency_key.replace(":", ".") in row.provider_id


def test_default_sms_backend_writes_to_the_log(case_a, citizen, caplog):
    citizen.notify_email, citizen.notify_sms = False, True
    citizen.save()
    (row,) = notifications.queue_for_citizen(citizen.pk, case_a.pk, "reply")
    with caplog.at_level("INFO", logger="messaging.sms"):
        assert send_notification(row.pk) == "sent"
    assert "+33612345678" in caplog.text
    assert "Vous avez un nouveau message dans votre espace Guichet" in caplog.text
    row.refresh_from_db()
    assert row.provider_id.startswith("outbox-log:")


def test_other_apps_notifications_go_through_the_same_outbox(
    case_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notify_citizen(case_a, "callback_booked")
    row = Notification.objects.get()
    assert row.kind == "callback_booked" and row.status == Notification.Status.SENT


def test_backoff_grows_exponentially_and_is_capped():
    assert [notifications.backoff_seconds(n) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert notifications.backoff_seconds(30) == notifications.BACKOFF_MAX_SECONDS
