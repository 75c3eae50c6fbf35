"""Callback reminders the day before and one hour before the slot, once each (frozen clock)."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from messaging.models import Notification
from messaging.tasks import send_callback_reminders
from routing.models import CallbackRequest

pytestmark = pytest.mark.django_db
SLOT = datetime(2026, 12, 10, 13, 0, tzinfo=UTC)  # 14:00 in Paris


def run_at(moment, capture):
    with mock.patch("django.utils.timezone.now", return_value=moment), capture(execute=True):
        return send_callback_reminders()


def book(case, created_at, status=CallbackRequest.Status.SCHEDULED):
    return CallbackRequest.objects.create(
        case=case,
        phone="+33612345678",
        slot_start=SLOT,
        slot_end=SLOT + timedelta(minutes=30),
        status=status,
        created_at=created_at,
    )


def reminders():
    return list(
        Notification.objects.filter(kind="callback_reminder").values_list("idempotency_key", "text")
    )


def test_day_before_then_hour_before_once_each(case_a, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    book(case_a, SLOT - timedelta(days=3))
    assert run_at(SLOT - timedelta(days=1, minutes=5), capture) == 0
    assert run_at(SLOT - timedelta(days=1), capture) == 1
    assert run_at(SLOT - timedelta(hours=20), capture) == 0  # once
    [(key, text)] = reminders()
    assert key.endswith(":day:email")
    assert "10/12/2026 à partir de 14h00" in text and case_a.subject not in text
    assert run_at(SLOT - timedelta(hours=1, minutes=1), capture) == 0
    assert run_at(SLOT - timedelta(minutes=55), capture) == 1
    assert run_at(SLOT - timedelta(minutes=50), capture) == 0
    assert run_at(SLOT + timedelta(minutes=1), capture) == 0  # the slot has started
    assert sorted(key.split(":")[-2] for key, _text in reminders()) == ["day", "hour"]


def test_booked_the_same_day_gets_only_the_hour_reminder(
    case_a, django_capture_on_commit_callbacks
):
    book(case_a, SLOT - timedelta(hours=5))
    assert run_at(SLOT - timedelta(hours=4), django_capture_on_commit_callbacks) == 0
    assert run_at(SLOT - timedelta(minutes=30), django_capture_on_commit_callbacks) == 1
    assert [key.split(":")[-2] for key, _text in reminders()] == ["hour"]


def test_a_late_first_sweep_sends_only_the_hour_reminder(
    case_a, django_capture_on_commit_callbacks
):
    book(case_a, SLOT - timedelta(days=3))
    assert run_at(SLOT - timedelta(minutes=40), django_capture_on_commit_callbacks) == 1
    assert [key.split(":")[-2] for key, _text in reminders()] == ["hour"]


def test_cancelled_callback_gets_no_reminder(case_a, django_capture_on_commit_callbacks):
    book(case_a, SLOT - timedelta(days=3), status=CallbackRequest.Status.CANCELLED)
    assert run_at(SLOT - timedelta(days=1), django_capture_on_commit_callbacks) == 0
    assert run_at(SLOT - timedelta(minutes=30), django_capture_on_commit_callbacks) == 0
