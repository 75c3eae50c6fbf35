"""Quiet hours: no alert SMS between 20:00 and 08:00 Europe/Paris; they wait for the morning
(frozen clock). E-mails and one-time codes go at once."""

from datetime import UTC, datetime
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from messaging import notifications
from messaging.models import Notification
from messaging.tasks import flush_outbox, send_notification

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("quiet_hours"),
]
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def quiet_hours():
    with override_settings(GUICHET_SMS_QUIET_START=20, GUICHET_SMS_QUIET_END=8):
        yield


def frozen(moment):
    return mock.patch("django.utils.timezone.now", return_value=moment)


def paris(*args):
    return datetime(*args, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (paris(2026, 12, 4, 21, 30), paris(2026, 12, 5, 8, 0)),
        (paris(2026, 12, 4, 20, 0), paris(2026, 12, 5, 8, 0)),
        (paris(2026, 12, 5, 0, 10), paris(2026, 12, 5, 8, 0)),
        (paris(2026, 12, 5, 7, 59), paris(2026, 12, 5, 8, 0)),
        (paris(2026, 12, 5, 8, 0), None),
        (paris(2026, 12, 5, 19, 59), None),
        # The night the clocks go forward: 08:00 summer time is 06:00 UTC.
        (paris(2027, 3, 27, 22, 0), datetime(2027, 3, 28, 6, 0, tzinfo=UTC)),
    ],
)
def test_quiet_until(now, expected):
    assert notifications.quiet_until("sms", "reply", now) == expected
    assert notifications.quiet_until("email", "reply", now) is None
    assert notifications.quiet_until("sms", "code", now) is None


@pytest.fixture
def sms_citizen(citizen):
    citizen.notify_sms = True
    citizen.save(update_fields=["notify_sms"])
    return citizen


def test_evening_sms_waits_for_the_morning_email_goes_now(sms_citizen, case_a):
    evening = paris(2026, 12, 4, 21, 30)
    with frozen(evening):
        rows = notifications.queue_for_citizen(sms_citizen.pk, case_a.pk, "reply", key="k1")
        for row in rows:
            send_notification(row.pk)
    sms = Notification.objects.get(channel="sms")
    email = Notification.objects.get(channel="email")
    assert email.status == Notification.Status.SENT
    assert sms.status == Notification.Status.PENDING
    assert sms.next_attempt_at == paris(2026, 12, 5, 8, 0)
    assert sms.attempts == 0
    with frozen(paris(2026, 12, 5, 7, 59)):
        assert flush_outbox() == 0
    with frozen(paris(2026, 12, 5, 8, 0, 30)):
        assert flush_outbox() == 1
    sms.refresh_from_db()
    assert sms.status == Notification.Status.SENT
    assert sms.sent_at == paris(2026, 12, 5, 8, 0, 30)


def test_retry_due_in_the_night_is_deferred_not_counted(sms_citizen, case_a):
    with frozen(paris(2026, 12, 4, 12, 0)):
        rows = notifications.queue_for_citizen(sms_citizen.pk, case_a.pk, "reply", key="k2")
    sms = next(row for row in rows if row.channel == "sms")
    assert sms.next_attempt_at == paris(2026, 12, 4, 12, 0)  # daytime: due at once
    Notification.objects.filter(pk=sms.pk).update(
        attempts=2, next_attempt_at=paris(2026, 12, 4, 22)
    )
    with frozen(paris(2026, 12, 4, 22, 5)):
        assert notifications.deliver(sms.pk).status == "deferred"
    sms.refresh_from_db()
    assert (sms.status, sms.attempts) == (Notification.Status.PENDING, 2)
    assert sms.next_attempt_at == paris(2026, 12, 5, 8, 0)


def test_one_time_code_sms_is_not_held(sms_citizen):
    with frozen(paris(2026, 12, 4, 23, 0)):
        row = notifications.queue_code_sms(sms_citizen.pk, "Code : 123456", "code-1")
        assert row is not None
        assert notifications.deliver(row.pk).status == "sent"
