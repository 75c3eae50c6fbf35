"""An endpoint failing again and again is disabled once, the administrators are e-mailed, and
re-enabling it in the admin starts the count again (a real receiver process on loopback)."""

import pytest
from django.core import mail
from django.utils import timezone

from accounts import webhooks
from accounts.models import WebhookDelivery, WebhookEndpoint
from tests.api.test_webhooks import hooked, open_case_a, receiver_factory

__all__ = ["hooked", "receiver_factory"]  # fixtures used here

pytestmark = pytest.mark.django_db


def attempt_all():
    outcomes = []
    for delivery in WebhookDelivery.objects.order_by("pk"):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        outcomes.append(webhooks.deliver(delivery.pk).status)
    return outcomes


def test_disabled_after_repeated_failures_with_one_alert(
    receiver_factory, citizen, topic_a, admin_user, settings, django_capture_on_commit_callbacks
):
    settings.GUICHET_WEBHOOK_DISABLE_AFTER = 3
    receiver, endpoint = receiver_factory("500", ["case.created"])
    open_case_a(citizen, topic_a)
    open_case_a(citizen, topic_a, subject="Autre")
    assert attempt_all() == ["retry", "retry"]
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.consecutive_failures) == (True, 2)
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        # The third failure disables it: the next row is cancelled.
        assert attempt_all() == ["retry", "cancelled"]
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_at is not None
    assert "3 échecs consécutifs" in endpoint.disabled_reason
    assert "HTTP 500" in endpoint.disabled_reason
    [alert] = mail.outbox
    assert alert.to == [admin_user.email]
    assert endpoint.url in alert.subject and endpoint.url in alert.body
    assert f"/admin/accounts/webhookendpoint/{endpoint.pk}/change/" in alert.body
    assert len(receiver.received()) == 3
    # Nothing more is sent, nor alerted, and new events are not queued for it.
    assert attempt_all() == ["cancelled", "skipped"]
    open_case_a(citizen, topic_a, subject="Encore")
    assert WebhookDelivery.objects.count() == 2
    assert len(mail.outbox) == 1


def test_a_success_resets_the_count(receiver_factory, citizen, topic_a, settings):
    settings.GUICHET_WEBHOOK_DISABLE_AFTER = 2
    _receiver, endpoint = receiver_factory("500,200,500", ["case.created"])
    open_case_a(citizen, topic_a)
    open_case_a(citizen, topic_a, subject="Autre")
    assert attempt_all() == ["retry", "delivered"]
    assert attempt_all() == ["retry", "skipped"]  # a delivered row is not sent again
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.consecutive_failures) == (True, 1)


def test_never_disabled_when_the_threshold_is_zero(receiver_factory, citizen, topic_a, settings):
    settings.GUICHET_WEBHOOK_DISABLE_AFTER = 0
    _receiver, endpoint = receiver_factory("500", ["case.created"])
    open_case_a(citizen, topic_a)
    for _ in range(3):
        attempt_all()
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 3


def test_admin_re_enabling_resets_the_count(client_as, admin_user, hooked):
    endpoint, _secret = webhooks.create_endpoint(
        hooked.client, "https://si.example.fr/hooks", ["case.created"]
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False,
        consecutive_failures=20,
        disabled_at=timezone.now(),
        disabled_reason="20 échecs consécutifs",
    )
    client = client_as(admin_user)
    url = f"/admin/accounts/webhookendpoint/{endpoint.pk}/change/"
    assert "20 échecs consécutifs" in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "client": hooked.client.pk,
            "url": endpoint.url,
            "description": "",
            "events": ["case.created"],
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.disabled_at is None
    assert (endpoint.consecutive_failures, endpoint.disabled_reason) == (0, "")
