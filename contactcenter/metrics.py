"""Prometheus metrics of the platform (docs/operations.md, "Metrics"): ``GET /metrics`` with
``Authorization: Bearer <METRICS_TOKEN>``; a 404 while no token is configured.

Two kinds: the business gauges (``BusinessCollector``) are read from the shared state at scrape
time (PostgreSQL, the Celery broker), so any web process gives the same answer; the process's
own figures (HTTP requests per view, open websockets per kind, ``process_*``) are counted in
this process and describe it alone. Labels carry codes (channel, service code, outbox, view
name), never a person.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from django.apps import apps
from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# This process's figures (the default registry, with the process and platform collectors).
HTTP_REQUESTS = Counter(
    "guichet_http_requests",
    "HTTP requests answered by this process, per view, method and status class.",
    ["view", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "guichet_http_request_duration_seconds",
    "Time to answer an HTTP request in this process, per view.",
    ["view"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WEBSOCKETS_OPEN = Gauge(
    "guichet_websockets_open",
    "Websockets of logged-in people open in this process, per kind (contactcenter/sockets.py).",
    ["kind"],
)


def observe_request(view: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(view, method, f"{status // 100}xx").inc()
    HTTP_LATENCY.labels(view).observe(seconds)


# (app label, model, statuses still to be sent) of each outbox.
OUTBOXES = (
    ("notifications", "messaging", "Notification", ("pending", "sending")),
    ("webhooks", "accounts", "WebhookDelivery", ("pending", "sending")),
)


def token_accepted(header: str) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "")
    if not token or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].encode(), token.encode())


class BusinessCollector(Collector):
    """Contacts waiting and the oldest wait per channel and service, agents available per
    service, outbox backlogs, webhook deliveries that failed, Celery task failures and retries,
    Celery queue length."""

    def collect(self) -> Iterator[Metric]:
        from routing.models import AgentPresence
        from routing.queues import queued_cases

        now = timezone.now()
        waiting = GaugeMetricFamily(
            "guichet_contacts_waiting",
            "Contacts waiting in a queue (new, unassigned).",
            labels=["channel", "service"],
        )
        oldest = GaugeMetricFamily(
            "guichet_oldest_wait_seconds",
            "Age of the oldest contact waiting in a queue.",
            labels=["channel", "service"],
        )
        rows = (
            queued_cases()
            .order_by()
            .values("channel", "service__code")
            .annotate(count=Count("id"), first=Min("created_at"))
        )
        for row in rows:
            labels = [row["channel"], row["service__code"] or ""]
            waiting.add_metric(labels, row["count"])
            oldest.add_metric(labels, max(0.0, (now - row["first"]).total_seconds()))
        yield waiting
        yield oldest

        agents = GaugeMetricFamily(
            "guichet_agents_available",
            "Agents whose chosen status is available, per service they work for.",
            labels=["service"],
        )
        for row in (
            AgentPresence.objects.filter(status=AgentPresence.Status.AVAILABLE)
            .order_by()
            .values("user__agent_profile__services__code")
            .annotate(count=Count("user", distinct=True))
        ):
            agents.add_metric([row["user__agent_profile__services__code"] or ""], row["count"])
        yield agents

        backlog = GaugeMetricFamily(
            "guichet_outbox_backlog",
            "Outbox rows not sent yet (pending or being sent).",
            labels=["outbox", "status"],
        )
        for name, app_label, model_name, statuses in OUTBOXES:
            model = apps.get_model(app_label, model_name)
            counts = dict(
                model.objects.filter(status__in=statuses)
                .order_by()
                .values_list("status")
                .annotate(count=Count("id"))
            )
            for status in statuses:
                backlog.add_metric([name, status], counts.get(status, 0))
        yield backlog

        delivery = apps.get_model("accounts", "WebhookDelivery")
        failing = GaugeMetricFamily(
            "guichet_webhook_deliveries_failed",
            "Webhook deliveries abandoned after their last attempt.",
        )
        failing.add_metric([], delivery.objects.filter(status="failed").count())
        yield failing

        yield from task_outcomes()

        queue = queue_length()
        if queue is not None:
            tasks = GaugeMetricFamily(
                "guichet_celery_queue_length",
                "Tasks waiting in the Celery queue.",
                labels=["queue"],
            )
            tasks.add_metric([settings.CELERY_TASK_DEFAULT_QUEUE], queue)
            yield tasks


def task_outcomes() -> Iterator[CounterMetricFamily]:
    """Celery task failures and retries per task name, counted by the workers in the shared
    cache (contactcenter/task_metrics.py); a task that never failed has no sample."""
    from . import task_metrics
    from .celery import app

    names = sorted(name for name in app.tasks if not name.startswith("celery."))
    found = task_metrics.counts(names)
    for outcome, metric, text in (
        ("failure", "guichet_celery_task_failures", "Celery tasks that raised, per task name."),
        ("retry", "guichet_celery_task_retries", "Celery tasks retried, per task name."),
    ):
        family = CounterMetricFamily(metric, text, labels=["task"])
        for (kind, name), value in sorted(found.items()):
            if kind == outcome:
                family.add_metric([name], value)
        yield family


def queue_length() -> int | None:
    """Tasks waiting in the default queue (Redis broker only; None otherwise)."""
    url = settings.CELERY_BROKER_URL
    if settings.CELERY_TASK_ALWAYS_EAGER or not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        return int(client.llen(settings.CELERY_TASK_DEFAULT_QUEUE))
    finally:
        client.close()


def exposition() -> bytes:
    """The metrics in Prometheus' text format (a handful of aggregate queries; run like any
    synchronous view code, in the request's database connection)."""
    return generate_latest(REGISTRY) + generate_latest(_business)


class _BusinessRegistry:
    """What ``generate_latest`` needs (``collect``): the business gauges, built per scrape."""

    def collect(self) -> Iterator[Metric]:
        return BusinessCollector().collect()


_business = _BusinessRegistry()
