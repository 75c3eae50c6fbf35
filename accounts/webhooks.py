"""Webhooks to API clients: events of their services' cases, signed, delivered, retried.

Flow: a change is written (a case opened, a status changed, a citizen's message) -> the
``post_save`` receivers below write one ``WebhookDelivery`` row per subscribed endpoint in the
same transaction -> ``accounts.tasks.deliver_webhooks(ids)`` (one task for the rows of one
event, or of a batch of démarche pushes: ``enqueue_events``) is queued after commit, claims
each row with a conditional update, POSTs the body signed with the Standard Webhooks scheme,
records the attempt and marks the row delivered, or schedules a retry (1 min, 5 min, 30 min,
2 h, 6 h, then failed). ``accounts.tasks.flush_webhooks``
(beat, every minute) re-queues due rows and rows left "sending" by a worker that died, one
``deliver_webhook(id)`` each. ``case.assigned`` comes from routing's ``case_assigned`` signal,
sent after the assignment commits: its row is written right then.

Who receives what: an endpoint of an API client holding the ``webhooks`` scope, not revoked,
whose services include the case's service (the rule of its API reads). Bodies carry references
only (case reference, service, topic, status, event id), never a subject, a message or a
citizen's identity: a client with ``cases:read`` reads the rest through the API.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter import outbox
from contactcenter.models import Case, Event

from . import webhook_health
from .models import ApiClient, WebhookAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger("accounts.webhooks")

EventType = WebhookEndpoint.EventType
# Delay before each retry; after the last one the delivery is failed (6 attempts in all).
RETRY_SCHEDULE = (60, 5 * 60, 30 * 60, 2 * 60 * 60, 6 * 60 * 60)
MAX_RETRY_AFTER = 24 * 60 * 60
# A row "sending" longer than this belonged to a worker that died: it is sent again (same id).
SENDING_LEASE = timedelta(minutes=5)
FLUSH_BATCH = 500
SECRET_PREFIX = "whsec_"
USER_AGENT = "Guichet-Webhooks/1"
SERVICES_CACHE_KEY = "accounts:webhooks:services"


# --- Signature (Standard Webhooks) ---------------------------------------------------------


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature(secret: str, webhook_id: str, timestamp: int, body: str) -> str:
    """``v1,`` + base64 of HMAC-SHA256, keyed with the secret's bytes (the base64 after
    ``whsec_``), over ``{webhook-id}.{webhook-timestamp}.{body}``."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{webhook_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


# --- Endpoints -----------------------------------------------------------------------------


# IPv6 prefixes whose last 32 bits are an IPv4 address the packet ends up at: NAT64's
# well-known prefix (RFC 6052) and the deprecated IPv4-compatible addresses. Python counts
# them as global whatever IPv4 address they carry.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _carried_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one reaches (mapped, NAT64, 6to4, IPv4-compatible), if any."""
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        address = _carried_ipv4(address) or address
    return address.is_global and not address.is_multicast


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_url(url: str) -> None:
    """https, or http on a loopback address when ``GUICHET_WEBHOOK_ALLOW_HTTP_LOOPBACK``
    (debug and tests); no credentials in the URL; an IP address must be public unless
    ``GUICHET_WEBHOOK_ALLOW_PRIVATE``. What a name resolves to is checked at each delivery."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise ValidationError(_("Adresse invalide."), code="invalid")
    if parts.username or parts.password:
        raise ValidationError(
            _("L'adresse ne doit pas contenir d'identifiants."), code="credentials"
        )
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if (
        literal is not None
        and not settings.GUICHET_WEBHOOK_ALLOW_PRIVATE
        and not _is_public(literal)
    ):
        raise ValidationError(
            _("Cette adresse n'est pas publique : elle est refusée."), code="private_address"
        )
    if parts.scheme == "https":
        return
    if (
        parts.scheme == "http"
        and settings.GUICHET_WEBHOOK_ALLOW_HTTP_LOOPBACK
        and _is_loopback_host(host)
    ):
        return
    raise ValidationError(_("L'adresse doit commencer par https://."), code="https_required")


def validate_events(events: Iterable[str]) -> list[str]:
    chosen = sorted(set(events))
    unknown = set(chosen) - set(EventType.values)
    if unknown:
        raise ValidationError(
            _("Événements inconnus : %(events)s") % {"events": ", ".join(sorted(unknown))},
            code="unknown_event",
        )
    if not chosen:
        raise ValidationError(_("Choisissez au moins un événement."), code="required")
    return chosen


def check_client(client: ApiClient) -> None:
    if client.revoked_at is not None:
        raise ValidationError(_("Ce client de l'API est révoqué."), code="revoked")
    if ApiClient.Scope.WEBHOOKS not in client.scopes:
        raise ValidationError(_("Ce client de l'API n'a pas la portée « webhooks »."), code="scope")


def create_endpoint(
    client: ApiClient, url: str, events: Iterable[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (to show once)."""
    check_client(client)
    validate_url(url)
    secret = generate_secret()
    endpoint = WebhookEndpoint.objects.create(
        client=client,
        url=url,
        events=validate_events(events),
        description=description,
        secret=secret,
    )
    return endpoint, secret


def rotate_secret(endpoint: WebhookEndpoint) -> str:
    """A new secret (to show once): deliveries from now on are signed with it, retries of
    earlier events included."""
    endpoint.secret = generate_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint.secret


def forget_endpoints() -> None:
    """Endpoints, clients or their services changed: drop the cached list of services that
    have endpoints (now, and again at commit for readers that cached the old state)."""
    cache.delete(SERVICES_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(SERVICES_CACHE_KEY))


def on_endpoints_changed(sender: object, **kwargs: object) -> None:
    """Receiver of the saves and deletions of endpoints and clients, and of clients' services."""
    forget_endpoints()


def _services_with_endpoints() -> frozenset[int]:
    """Service ids that have at least one active endpoint: most events have none to send, and
    this spares them a query (cached, dropped by ``forget_endpoints``)."""
    cached = cache.get(SERVICES_CACHE_KEY)
    if cached is None:
        cached = list(
            ApiClient.services.through.objects.filter(
                apiclient__revoked_at=None, apiclient__webhook_endpoints__is_active=True
            )
            .values_list("service_id", flat=True)
            .distinct()
        )
        cache.set(SERVICES_CACHE_KEY, cached, 300)
    return frozenset(cached)


def subscribed_endpoints(service_id: int, event_type: str) -> list[WebhookEndpoint]:
    if service_id not in _services_with_endpoints():
        return []
    endpoints = WebhookEndpoint.objects.filter(
        is_active=True, client__revoked_at=None, client__services=service_id
    ).select_related("client")
    return [
        endpoint
        for endpoint in endpoints
        if event_type in endpoint.events and ApiClient.Scope.WEBHOOKS in endpoint.client.scopes
    ]


# --- Events --------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def case_data(case: Case) -> dict[str, Any]:
    """What a body says of a case: references, never its subject or the citizen."""
    return {
        "reference": case.reference,
        "url": settings.SITE_URL + reverse("messaging-api:case-detail", args=[case.reference]),
        "service": case.service.code,
        "topic": case.topic.slug,
        "kind": case.kind,
        "channel": case.channel,
        "status": case.status,
    }


def enqueue(
    case: Case, event_type: str, source_key: str, data: dict[str, Any], at: datetime
) -> list[WebhookDelivery]:
    """Write the outbox rows of one case event, in the caller's transaction, and queue their
    delivery after commit. A source already written for an endpoint is not written twice."""
    return enqueue_for_service(
        case.service_id, event_type, source_key, {"case": case_data(case), **data}, at
    )


def enqueue_for_service(
    service_id: int, event_type: str, source_key: str, data: dict[str, Any], at: datetime
) -> list[WebhookDelivery]:
    """The outbox rows of one event of a service (a case's, a démarche's): one per endpoint
    subscribed to ``event_type`` among the service's clients, written in the caller's
    transaction, delivered after commit."""
    return enqueue_events([ServiceEvent(service_id, event_type, source_key, data, at)])


@dataclass(frozen=True)
class ServiceEvent:
    """One event of a service, as ``enqueue_events`` takes it."""

    service_id: int
    event_type: str
    source_key: str
    data: dict[str, Any]
    at: datetime


def enqueue_events(events: Iterable[ServiceEvent]) -> list[WebhookDelivery]:
    """The outbox rows of several events (a batch of démarche pushes): one per event and
    subscribed endpoint, written in one INSERT in the caller's transaction, and one task after
    commit for all of them. A source already written for an endpoint is not written twice."""
    from .tasks import deliver_webhooks

    subscribed: dict[tuple[int, str], list[WebhookEndpoint]] = {}
    rows = []
    for event in events:
        which = (event.service_id, event.event_type)
        if which not in subscribed:
            subscribed[which] = subscribed_endpoints(*which)
        if not subscribed[which]:
            continue
        body = json.dumps(
            {"type": event.event_type, "timestamp": _iso(event.at), "data": event.data},
            ensure_ascii=False,
            separators=(",", ":"),
            sort_keys=True,
        )
        rows += [
            WebhookDelivery(
                endpoint=endpoint,
                webhook_id="msg_" + uuid.uuid4().hex,
                event_type=event.event_type,
                source_key=event.source_key,
                body=body,
                created_at=event.at,
                next_attempt_at=event.at,
            )
            for endpoint in subscribed[which]
        ]
    if not rows:
        return []
    try:
        with transaction.atomic():  # one INSERT for every endpoint and event
            rows = WebhookDelivery.objects.bulk_create(rows)
    except IntegrityError:
        # The same source already queued for some endpoint: one row at a time, skipping those.
        rows = [row for row in rows if _insert_new(row)]
    if rows:  # one task for all the rows
        deliver_webhooks.delay_on_commit([row.pk for row in rows])
    return rows


def _insert_new(row: WebhookDelivery) -> bool:
    """Insert one outbox row; False when its (endpoint, source) is already queued."""
    try:
        with transaction.atomic():
            row.pk = None
            row.save(force_insert=True)
    except IntegrityError:
        return False
    return True


def on_case_saved(sender: object, instance: Case, created: bool, raw: bool = False, **kwargs):
    """``post_save`` of ``Case``: ``case.created``."""
    if created and not raw:
        enqueue(instance, EventType.CASE_CREATED, f"case:{instance.pk}", {}, instance.created_at)


def on_event_saved(sender: object, instance: Event, created: bool, raw: bool = False, **kwargs):
    """``post_save`` of ``Event``: status changes, closing, citizens' messages."""
    if not created or raw:
        return
    event = instance
    if event.type == Event.Type.STATUS and {"from", "to"} <= event.payload.keys():
        old, new = event.payload["from"], event.payload["to"]
        if old not in Case.Status.values or new not in Case.Status.values:
            return  # a change of classification, written as a status event
        change = {
            "event": {"id": event.pk},
            "status": {"from": old, "to": new, "resolution": event.payload.get("resolution", "")},
        }
        key = f"event:{event.pk}"
        enqueue(event.case, EventType.CASE_STATUS_CHANGED, key, change, event.created_at)
        if new == Case.Status.CLOSED:
            enqueue(event.case, EventType.CASE_CLOSED, key, change, event.created_at)
    elif event.type == Event.Type.MESSAGE and not event.internal and event.by_citizen:
        enqueue(
            event.case,
            EventType.MESSAGE_RECEIVED,
            f"event:{event.pk}",
            {"event": {"id": event.pk}, "message": {"id": event.pk}},
            event.created_at,
        )


def on_case_assigned(sender: object, case_id: int, agent_id: int | None = None, **kwargs):
    """``contactcenter.signals.case_assigned`` (after routing's commit): ``case.assigned``.
    The assignment's time in the source key makes a repeated signal write nothing. Without an
    endpoint anywhere (the cached set), routing's pass pays no query here."""
    services = _services_with_endpoints()
    if agent_id is None or not services:
        return
    case = Case.objects.select_related("service", "topic").filter(pk=case_id).first()
    if (
        case is None
        or case.service_id not in services
        or case.assigned_to_id != agent_id
        or case.assigned_at is None
    ):
        return
    with transaction.atomic():
        enqueue(
            case,
            EventType.CASE_ASSIGNED,
            f"assigned:{case.pk}:{case.assigned_at.timestamp()}",
            {"assignment": {"assigned_at": _iso(case.assigned_at)}},
            case.assigned_at,
        )


# --- Delivery ------------------------------------------------------------------------------


class DeliveryError(Exception):
    """The request could not be made (refused address, DNS, connection, timeout, TLS)."""


class RefusedAddress(DeliveryError):
    """The endpoint's name resolves to a private, loopback or reserved address: not retried."""


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to the address checked beforehand (no second DNS lookup an attacker could
    answer differently), with the host name for TLS (SNI and certificate check)."""

    def __init__(self, host: str, address: str, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def resolve(host: str, port: int) -> str:
    """One address of ``host`` that may be called: every address it resolves to must be public
    unless ``GUICHET_WEBHOOK_ALLOW_PRIVATE`` (a name that also points inside is refused)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise DeliveryError(f"DNS: {exc}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not settings.GUICHET_WEBHOOK_ALLOW_PRIVATE:
        for address in addresses:
            if not _is_public(ipaddress.ip_address(address.split("%")[0])):
                raise RefusedAddress(f"address not public, refused: {address}")
    if not addresses:
        raise DeliveryError("DNS: no address")
    return addresses[0]


@dataclass(frozen=True)
class Response:
    status: int
    retry_after: str | None


def post(url: str, body: bytes, headers: dict[str, str]) -> Response:
    """POST without following redirects (a 3xx is an answer like any other)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    address = resolve(host, port)
    timeout = settings.GUICHET_WEBHOOK_TIMEOUT
    connection_class = _PinnedHTTPSConnection if secure else _PinnedHTTPConnection
    connection = connection_class(host, address, port=port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # the body is not kept
        return Response(response.status, response.getheader("Retry-After"))
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:500]) from None
    finally:
        connection.close()


def retry_after_seconds(value: str | None, now: datetime) -> int | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(int(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, min(int((when - now).total_seconds()), MAX_RETRY_AFTER))


@dataclass(frozen=True)
class Outcome:
    status: str  # "delivered", "retry", "failed", "cancelled", "skipped"
    retry_in: int | None = None


def deliver(delivery_id: int) -> Outcome:
    """Claim one outbox row, POST it, record the attempt and the result. Safe to run twice or
    concurrently: only the worker whose conditional update claimed the row sends it."""
    now = timezone.now()
    if not outbox.claim(WebhookDelivery.objects.all(), delivery_id, now):
        return Outcome("skipped")  # delivered, being sent by another worker, or not yet due
    delivery = WebhookDelivery.objects.select_related("endpoint__client").get(pk=delivery_id)
    mine = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.SENDING, claimed_at=now
    )
    endpoint = delivery.endpoint
    client = endpoint.client
    if (
        not endpoint.is_active
        or client.revoked_at is not None
        or ApiClient.Scope.WEBHOOKS not in client.scopes
    ):
        mine.update(
            status=WebhookDelivery.Status.CANCELLED, last_error="endpoint disabled or revoked"
        )
        return Outcome("cancelled")

    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(
            endpoint.secret, delivery.webhook_id, timestamp, delivery.body
        ),
    }
    started = time.monotonic()
    status_code: int | None = None
    error = ""
    retry_after: str | None = None
    refused = False
    try:
        response = post(endpoint.url, delivery.body.encode(), headers)
        status_code, retry_after = response.status, response.retry_after
    except DeliveryError as exc:
        error = str(exc)
        refused = isinstance(exc, RefusedAddress)
    duration_ms = int((time.monotonic() - started) * 1000)
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        started_at=now,
        duration_ms=duration_ms,
        status_code=status_code,
        error=error[:500],
    )

    if status_code is not None and 200 <= status_code < 300:
        if endpoint.consecutive_failures:  # as read with the row: most have none to reset
            webhook_health.record_success(endpoint.pk)
        mine.update(
            status=WebhookDelivery.Status.DELIVERED,
            delivered_at=timezone.now(),
            last_status_code=status_code,
            last_error="",
        )
        return Outcome("delivered")
    if status_code is not None:
        error = f"HTTP {status_code}"
    webhook_health.record_failure(endpoint.pk, error, now)
    retryable = not refused and (
        status_code is None or status_code >= 500 or status_code in (408, 429)
    )
    if not retryable or delivery.attempts > len(RETRY_SCHEDULE):
        mine.update(
            status=WebhookDelivery.Status.FAILED, last_status_code=status_code, last_error=error
        )
        logger.warning(
            "Webhook %s failed after %s attempts: %s",
            delivery.webhook_id,
            delivery.attempts,
            error,
        )
        return Outcome("failed")
    delay = RETRY_SCHEDULE[delivery.attempts - 1]
    if status_code in (408, 429):
        delay = retry_after_seconds(retry_after, now) or delay
    mine.update(
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at=now + timedelta(seconds=delay),
        claimed_at=None,
        last_status_code=status_code,
        last_error=error,
    )
    return Outcome("retry", retry_in=delay)


def release_stale_claims(now: datetime | None = None) -> int:
    return outbox.release_stale_claims(WebhookDelivery.objects.all(), SENDING_LEASE, now)


def due_ids(now: datetime | None = None, limit: int = FLUSH_BATCH) -> list[int]:
    return outbox.due_ids(WebhookDelivery.objects.all(), now, limit)


def purge_old(now: datetime | None = None) -> int:
    """Delete delivered and cancelled rows (and their attempts) older than
    ``GUICHET_WEBHOOK_RETENTION_DAYS``; failed ones stay until someone sends them again."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.GUICHET_WEBHOOK_RETENTION_DAYS)
    _total, by_model = WebhookDelivery.objects.filter(
        status__in=[WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.CANCELLED],
        created_at__lt=cutoff,
    ).delete()
    return by_model.get("accounts.WebhookDelivery", 0)


def redeliver(deliveries: Iterable[WebhookDelivery]) -> int:
    """Send failed or cancelled deliveries again now (admin action), with the same id."""
    from .tasks import deliver_webhook

    ids = [delivery.pk for delivery in deliveries]
    count = WebhookDelivery.objects.filter(
        pk__in=ids,
        status__in=[WebhookDelivery.Status.FAILED, WebhookDelivery.Status.CANCELLED],
    ).update(status=WebhookDelivery.Status.PENDING, next_attempt_at=timezone.now())
    for delivery_id in ids:
        deliver_webhook.delay_on_commit(delivery_id)
    return count


def failed_counts(service_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Failed deliveries per API client (for the admin and supervisors): those of clients of
    ``service_ids`` when given."""
    rows = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.FAILED)
    if service_ids is not None:
        rows = rows.filter(endpoint__client__services__in=list(service_ids))
    counted = rows.values("endpoint__client").annotate(count=Count("pk", distinct=True))
    return {row["endpoint__client"]: row["count"] for row in counted}
