"""Webhooks to API clients: events of their services only, content-free bodies, the Standard
Webhooks signature checked by a real receiver process on loopback, retries with backoff, no
retry on 4xx, refused private addresses, the same id after a crash, admin and command."""

import json
import socket
import subprocess
import sys
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts import webhooks
from accounts.api_clients import create_api_client, revoke_api_client
from accounts.models import ApiClient, WebhookDelivery, WebhookEndpoint
from accounts.tasks import flush_webhooks
from contactcenter.models import Case
from contactcenter.services import change_status, open_case
from contactcenter.signals import case_assigned
from messaging.services import post_citizen_message

RECEIVER = Path(__file__).with_name("webhook_receiver.py")
ALL_EVENTS = WebhookEndpoint.EventType.values


class Receiver:
    """``webhook_receiver.py`` in its own process: its port, and what it received."""

    def __init__(self, tmp_path: Path, secret: str, plan: str) -> None:
        self.log = tmp_path / f"received-{time.monotonic_ns()}.jsonl"
        self.log.touch()
        self.process = subprocess.Popen(
            [sys.executable, str(RECEIVER), secret, str(self.log), plan],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/guichet"

    def received(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def hooked(service_a):
    return create_api_client("SI impôts", [service_a], [ApiClient.Scope.WEBHOOKS])


@pytest.fixture
def receiver_factory(tmp_path, hooked):
    """``make(plan, events)``: a receiver answering ``plan`` and the client's endpoint to it."""
    started = []

    def make(plan: str = "200", events=ALL_EVENTS):
        secret = webhooks.generate_secret()
        receiver = Receiver(tmp_path, secret, plan)
        started.append(receiver)
        endpoint, _secret = webhooks.create_endpoint(hooked.client, receiver.url, events)
        # The test's receiver was started with a secret of its own choosing: the endpoint's.
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=secret)
        return receiver, endpoint

    yield make
    for receiver in started:
        receiver.stop()


def open_case_a(citizen, topic, subject="Changement d'adresse", body="J'ai déménagé au 3 rue X"):
    case, _event = open_case(
        citizen=citizen,
        topic=topic,
        kind=Case.Kind.QUESTION,
        channel="web",
        subject=subject,
        body=body,
        route=False,
    )
    return case


def test_case_created_is_delivered_signed_to_a_real_receiver(
    receiver_factory, citizen, topic_a, django_capture_on_commit_callbacks
):
    receiver, endpoint = receiver_factory("200", ["case.created"])
    with django_capture_on_commit_callbacks(execute=True):
        case = open_case_a(citizen, topic_a)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.event_type == "case.created"
    [received] = receiver.received()
    assert received["valid"] is True
    assert received["id"] == delivery.webhook_id
    assert received["path"] == "/hooks/guichet"
    body = received["body"]
    assert body["type"] == "case.created"
    assert body["data"]["case"]["reference"] == case.reference
    assert body["data"]["case"]["service"] == case.service.code
    assert body["data"]["case"]["url"].endswith(f"/api/cases/{case.reference}/")
    # Content-free: neither the subject nor the message nor the citizen.
    raw = json.dumps(body, ensure_ascii=False)
    assert "déménagé" not in raw and "Changement" not in raw
    assert citizen.email not in raw and citizen.last_name not in raw
    [attempt] = delivery.attempt_log.all()
    assert attempt.status_code == 200 and attempt.number == 1 and not attempt.error


def test_one_task_delivers_the_rows_of_one_event(
    receiver_factory, service_a, django_capture_on_commit_callbacks
):
    """Two endpoints subscribed to the event: two rows, one task (one message) sends both."""
    first, _endpoint = receiver_factory("200", ["demarche.step_changed"])
    second, _endpoint = receiver_factory("200", ["demarche.step_changed"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        rows = webhooks.enqueue_for_service(
            service_a.pk, "demarche.step_changed", "demarche:1", {}, timezone.now()
        )
    assert len(rows) == 2 and len(callbacks) == 1
    statuses = set(WebhookDelivery.objects.values_list("status", flat=True))
    assert statuses == {WebhookDelivery.Status.DELIVERED}
    assert [len(first.received()), len(second.received())] == [1, 1]
    assert all(entry["valid"] for entry in first.received() + second.received())


def test_signature_follows_the_documented_scheme():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    # The Standard Webhooks specification's example.
    body = '{"test": 2432232314}'
    assert (
        webhooks.signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_5xx_is_retried_with_the_same_id_then_delivered(
    receiver_factory, citizen, topic_a, django_capture_on_commit_callbacks
):
    receiver, endpoint = receiver_factory("503,200", ["case.created"])
    with django_capture_on_commit_callbacks(execute=True):
        open_case_a(citizen, topic_a)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.attempts == 1 and delivery.last_status_code == 503
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 50 < wait <= 60  # first retry after a minute
    assert flush_webhooks() == 0  # not due yet
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    assert flush_webhooks() == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    ids = [row["id"] for row in receiver.received()]
    assert ids == [delivery.webhook_id, delivery.webhook_id]
    assert [a.status_code for a in delivery.attempt_log.all()] == [503, 200]


def test_retry_schedule_then_failed(receiver_factory, citizen, topic_a):
    receiver, endpoint = receiver_factory("500", ["case.created"])
    open_case_a(citizen, topic_a)
    delivery = WebhookDelivery.objects.get()
    delays = []
    for _attempt in range(6):
        before = timezone.now()
        outcome = webhooks.deliver(delivery.pk)
        if outcome.status == "retry":
            delays.append(outcome.retry_in)
            delivery.refresh_from_db()
            assert (delivery.next_attempt_at - before).total_seconds() >= outcome.retry_in - 1
            WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    assert delays == [60, 300, 1800, 7200, 21600]
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == 6 and delivery.attempt_log.count() == 6
    assert len(receiver.received()) == 6
    assert webhooks.failed_counts() == {endpoint.client_id: 1}
    assert webhooks.failed_counts([topic_a.service_id + 1000]) == {}


@pytest.mark.parametrize("status", ["400", "401", "404", "410", "302"])
def test_4xx_and_redirects_are_not_retried(receiver_factory, citizen, topic_a, status):
    receiver, _endpoint = receiver_factory(status, ["case.created"])
    open_case_a(citizen, topic_a)
    delivery = WebhookDelivery.objects.get()
    assert webhooks.deliver(delivery.pk).status == "failed"
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.last_status_code == int(status)
    assert len(receiver.received()) == 1  # the redirect's Location was not followed


def test_429_honours_retry_after(receiver_factory, citizen, topic_a):
    _receiver, _endpoint = receiver_factory("429:120,200", ["case.created"])
    open_case_a(citizen, topic_a)
    delivery = WebhookDelivery.objects.get()
    assert webhooks.deliver(delivery.pk) == webhooks.Outcome("retry", retry_in=120)


def test_connection_refused_is_retried(hooked, citizen, topic_a):
    webhooks.create_endpoint(hooked.client, "http://127.0.0.1:9/closed", ["case.created"])
    open_case_a(citizen, topic_a)
    delivery = WebhookDelivery.objects.get()
    assert webhooks.deliver(delivery.pk).status == "retry"
    [attempt] = delivery.attempt_log.all()
    assert attempt.status_code is None and "ConnectionRefused" in attempt.error


def test_private_addresses_are_refused_unless_allowed(receiver_factory, citizen, topic_a, settings):
    receiver, _endpoint = receiver_factory("200", ["case.created"])
    settings.GUICHET_WEBHOOK_ALLOW_PRIVATE = False
    open_case_a(citizen, topic_a)
    delivery = WebhookDelivery.objects.get()
    assert webhooks.deliver(delivery.pk).status == "failed"
    assert "not public" in delivery.attempt_log.get().error
    assert receiver.received() == []


def test_other_services_events_are_not_sent(receiver_factory, citizen2, topic_b):
    receiver, _endpoint = receiver_factory("200")
    case = open_case_a(citizen2, topic_b)
    change_status(case, Case.Status.CLOSED, resolution=Case.Resolution.ANSWERED)
    assert not WebhookDelivery.objects.exists()


def test_disabled_endpoint_gets_nothing_and_pending_rows_are_cancelled(
    receiver_factory, citizen, topic_a
):
    receiver, endpoint = receiver_factory("200", ["case.created"])
    open_case_a(citizen, topic_a)
    endpoint.is_active = False
    endpoint.save()
    open_case_a(citizen, topic_a)  # not written at all
    delivery = WebhookDelivery.objects.get()
    assert webhooks.deliver(delivery.pk).status == "cancelled"
    assert receiver.received() == []


def test_revoked_client_or_scope_withdrawn_gets_nothing(receiver_factory, hooked, citizen, topic_a):
    receiver_factory("200", ["case.created"])
    revoke_api_client(hooked.client)
    open_case_a(citizen, topic_a)
    assert not WebhookDelivery.objects.exists()


def test_status_change_closing_and_citizen_message(receiver_factory, citizen, topic_a):
    _receiver, _endpoint = receiver_factory(
        "200", ["case.status_changed", "case.closed", "message.received"]
    )
    case = open_case_a(citizen, topic_a)
    first_message = WebhookDelivery.objects.get()  # the case's first message, by the citizen
    assert first_message.event_type == "message.received"
    event = post_citizen_message(case, citizen, "Mon nouveau numéro fiscal est 98765")
    message = WebhookDelivery.objects.get(source_key=f"event:{event.pk}")
    assert message.event_type == "message.received"
    assert json.loads(message.body)["data"]["message"] == {"id": event.pk}
    assert "98765" not in message.body
    case.refresh_from_db()
    change_status(case, Case.Status.CLOSED, resolution=Case.Resolution.ANSWERED)
    closing = json.loads(WebhookDelivery.objects.get(event_type="case.closed").body)
    changed = json.loads(WebhookDelivery.objects.get(event_type="case.status_changed").body)
    assert closing["data"]["status"] == {"from": "new", "to": "closed", "resolution": "answered"}
    assert changed["data"] == closing["data"]
    assert closing["data"]["case"]["status"] == "closed"


def test_case_assigned_once_per_assignment(receiver_factory, citizen, topic_a, agent_a):
    receiver_factory("200", ["case.assigned"])
    case = open_case_a(citizen, topic_a)
    Case.objects.filter(pk=case.pk).update(assigned_to=agent_a, assigned_at=timezone.now())
    for _twice in range(2):
        case_assigned.send(sender=Case, case_id=case.pk, agent_id=agent_a.pk, channel="web")
    delivery = WebhookDelivery.objects.get()
    assert delivery.event_type == "case.assigned"
    assert str(agent_a.pk) not in json.loads(delivery.body)["data"]["assignment"].values()


def test_an_agent_taking_the_case_sends_case_assigned(
    receiver_factory, citizen, topic_a, agent_a, django_capture_on_commit_callbacks
):
    import routing

    receiver, _endpoint = receiver_factory("200", ["case.assigned"])
    case = open_case_a(citizen, topic_a)
    with django_capture_on_commit_callbacks(execute=True):
        routing.take_case(agent_a, case)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    [received] = receiver.received()
    assert received["body"]["type"] == "case.assigned"
    assert received["body"]["data"]["case"]["status"] == "assigned"


def test_worker_killed_mid_delivery_resends_the_same_id(receiver_factory, citizen, topic_a):
    receiver, _endpoint = receiver_factory("200", ["case.created"])
    open_case_a(citizen, topic_a)
    delivery = WebhookDelivery.objects.get()
    # A worker claimed the row and died before recording the answer.
    WebhookDelivery.objects.update(
        status=WebhookDelivery.Status.SENDING,
        claimed_at=timezone.now() - timedelta(minutes=6),
        attempts=1,
    )
    assert webhooks.deliver(delivery.pk).status == "skipped"  # its message redelivered early
    assert flush_webhooks() == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert [row["id"] for row in receiver.received()] == [delivery.webhook_id]


def test_endpoint_url_rules(hooked, settings):
    webhooks.validate_url("https://si.example.fr/hooks")
    webhooks.validate_url("http://127.0.0.1:8000/hooks")
    for url in ("http://si.example.fr/hooks", "ftp://si.example.fr/", "https://u:p@si.example.fr/"):
        with pytest.raises(ValidationError):
            webhooks.validate_url(url)
    settings.GUICHET_WEBHOOK_ALLOW_HTTP_LOOPBACK = False  # production
    settings.GUICHET_WEBHOOK_ALLOW_PRIVATE = False
    webhooks.validate_url("https://8.8.8.8/hooks")
    for url in (
        "https://10.1.2.3/",
        "https://[::1]/",
        "https://169.254.169.254/",
        "https://[::ffff:127.0.0.1]/",
    ):
        with pytest.raises(ValidationError):
            webhooks.validate_url(url)
    with pytest.raises(ValidationError):
        webhooks.validate_url("http://127.0.0.1:8000/hooks")
    with pytest.raises(ValidationError):
        webhooks.create_endpoint(hooked.client, "https://si.example.fr/", ["case.opened"])


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a9fe:a9fe",  # NAT64 to 169.254.169.254 (cloud metadata)
        "64:ff9b::a00:1",  # NAT64 to 10.0.0.1
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::",  # 6to4 of 192.168.1.1
        "::127.0.0.1",  # IPv4-compatible (deprecated)
        "::a00:1",
    ],
)
def test_ipv6_carrying_an_internal_ipv4_is_refused(settings, monkeypatch, address):
    settings.GUICHET_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError):
        webhooks.validate_url(f"https://[{address}]/hooks")
    answer = [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, 443, 0, 0))]
    monkeypatch.setattr(webhooks.socket, "getaddrinfo", lambda *args, **kwargs: answer)
    with pytest.raises(webhooks.RefusedAddress):
        webhooks.resolve("si.example.fr", 443)


def test_ipv6_carrying_a_public_ipv4_is_accepted(settings):
    settings.GUICHET_WEBHOOK_ALLOW_PRIVATE = False
    webhooks.validate_url("https://[64:ff9b::808:808]/hooks")  # NAT64 to 8.8.8.8
    webhooks.validate_url("https://[2001:4860:4860::8888]/hooks")


def test_client_without_the_scope_has_no_endpoint(service_a):
    reader = create_api_client("SI", [service_a], [ApiClient.Scope.CASES_READ])
    with pytest.raises(ValidationError):
        webhooks.create_endpoint(reader.client, "https://si.example.fr/", ["case.created"])
    with pytest.raises(CommandError):
        call_command(
            "create_webhook_endpoint", client_id=reader.client_id, url="https://si.example.fr/"
        )


def test_command_creates_an_endpoint_and_shows_its_secret_once(hooked):
    out = StringIO()
    call_command(
        "create_webhook_endpoint",
        client_id=hooked.client_id,
        url="https://si.example.fr/hooks",
        events="case.created,case.closed",
        stdout=out,
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["case.closed", "case.created"]
    assert f"secret: {endpoint.secret}" in out.getvalue()
    assert endpoint.secret.startswith("whsec_")


def test_admin_pages(client_as, admin_user, receiver_factory, citizen, topic_a):
    _receiver, endpoint = receiver_factory("400", ["case.created"])
    open_case_a(citizen, topic_a)
    delivery = WebhookDelivery.objects.get()
    webhooks.deliver(delivery.pk)
    admin = client_as(admin_user)
    page = admin.get("/admin/accounts/apiclient/")
    assert page.status_code == 200
    assert "webhooks en échec" in page.content.decode().lower()
    assert admin.get("/admin/accounts/webhookendpoint/").status_code == 200
    detail = admin.get(f"/admin/accounts/webhookdelivery/{delivery.pk}/change/")
    assert detail.status_code == 200
    assert endpoint.secret not in detail.content.decode()
    assert "HTTP 400" in detail.content.decode()
    response = admin.post(
        "/admin/accounts/webhookdelivery/",
        {"action": "redeliver", "_selected_action": [delivery.pk]},
    )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING


def test_admin_adds_an_endpoint_and_shows_the_secret_once(client_as, admin_user, hooked):
    admin = client_as(admin_user)
    response = admin.post(
        "/admin/accounts/webhookendpoint/add/",
        {
            "client": hooked.client.pk,
            "url": "https://si.example.fr/hooks",
            "description": "",
            "events": ["case.created"],
            "is_active": "on",
        },
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in response.content.decode()
    assert (
        endpoint.secret
        not in admin.get(f"/admin/accounts/webhookendpoint/{endpoint.pk}/change/").content.decode()
    )
    old = endpoint.secret
    rotated = admin.post(
        "/admin/accounts/webhookendpoint/",
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
        follow=True,
    )
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret in rotated.content.decode()
    refused = admin.post(
        "/admin/accounts/webhookendpoint/add/",
        {"client": hooked.client.pk, "url": "http://si.example.fr/", "events": ["case.created"]},
    )
    assert refused.status_code == 200
    assert WebhookEndpoint.objects.count() == 1


def test_schema_documents_the_webhook_body(client, db):
    schema = client.get("/api/schema/?format=json").json()
    body = schema["components"]["schemas"]["WebhookEvent"]
    assert body["properties"]["type"]["enum"] == ALL_EVENTS
    assert set(schema["x-webhooks"]) == set(ALL_EVENTS)
    assert "subject" not in json.dumps(body)


def test_old_delivered_rows_are_purged_failed_ones_kept(receiver_factory, citizen, topic_a):
    receiver_factory("200", ["case.created"])
    for _case in range(3):
        open_case_a(citizen, topic_a)
    delivered, cancelled, failed = WebhookDelivery.objects.order_by("pk")
    assert webhooks.deliver(delivered.pk).status == "delivered"  # with its attempt
    WebhookDelivery.objects.filter(pk=cancelled.pk).update(status="cancelled")
    WebhookDelivery.objects.filter(pk=failed.pk).update(status="failed")
    assert webhooks.purge_old() == 0
    assert webhooks.purge_old(timezone.now() + timedelta(days=31)) == 2
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [failed.pk]


def test_retry_after_in_seconds_or_as_a_date_is_bounded():
    now = timezone.now()
    date = (now + timedelta(minutes=10)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 595 <= webhooks.retry_after_seconds(date, now) <= 600
    assert webhooks.retry_after_seconds("120", now) == 120
    assert webhooks.retry_after_seconds("9999999", now) == 24 * 60 * 60
    assert webhooks.retry_after_seconds("demain", now) is None
    assert webhooks.retry_after_seconds(None, now) is None


def test_408_without_retry_after_follows_the_schedule(receiver_factory, citizen, topic_a):
    receiver_factory("408", ["case.created"])
    open_case_a(citizen, topic_a)
    delivery = WebhookDelivery.objects.get()
    assert webhooks.deliver(delivery.pk) == webhooks.Outcome("retry", retry_in=60)
