"""Celery application. Tasks live in each app's tasks.py; beat schedules are declared here."""

import logging
import os
from typing import Any

from celery import Celery
from celery.contrib.django.task import DjangoTask
from celery.schedules import crontab
from celery.signals import setup_logging
from django.db import transaction

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")

logger = logging.getLogger("contactcenter.tasks")


class Task(DjangoTask):
    """Every task of the project: queue it after commit with ``delay_on_commit`` or
    ``apply_async_on_commit`` (see docs/architecture.md, "Background tasks").

    Celery's versions register ``delay`` with ``transaction.on_commit``; these do the same but a
    failure to queue (broker down) is logged instead of raised: the data is committed by then,
    the request must not fail, and the beat sweeps pick the work up later.
    """

    # celery-types declares these returning an AsyncResult; Celery's own return None too (the
    # task is only queued at commit), and so do these.
    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.apply_async_on_commit(args, kwargs)

    def apply_async_on_commit(  # type: ignore[override]
        self,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        def send() -> None:
            try:
                self.apply_async(args, kwargs, **options)
            except Exception:
                logger.exception("could not queue %s%r", self.name, tuple(args or ()))

        transaction.on_commit(send)


app = Celery("guichet", task_cls=Task)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Failures and retries per task, counted for /metrics (contactcenter/task_metrics.py); the
# request id carried in task headers (contactcenter/logs.py).
from . import logs, task_metrics  # noqa: E402,F401


@setup_logging.connect(weak=False)
def _django_logging(**kwargs: Any) -> None:
    """Workers and beat log like the web processes (settings.LOGGING: JSON in production)
    instead of Celery's own format."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


# Periodic work (run by `celery beat`). Each task is idempotent: safe to run twice.
app.conf.beat_schedule = {
    "messaging-flush-outbox": {
        "task": "messaging.tasks.flush_outbox",
        "schedule": 60.0,
    },
    # "Action attendue" reminders of démarches (SMS held by the quiet hours in the outbox).
    "demarches-send-action-reminders": {
        "task": "demarches.tasks.send_action_reminders",
        "schedule": 15 * 60.0,
    },
    "messaging-send-callback-reminders": {
        "task": "messaging.tasks.send_callback_reminders",
        "schedule": 5 * 60.0,
    },
    "accounts-flush-webhooks": {
        "task": "accounts.tasks.flush_webhooks",
        "schedule": 60.0,
    },
    # Dashboard: store yesterday's indicators (and catch up on any missing day) every hour.
    "console-daily-kpis": {
        "task": "console.tasks.compute_daily_kpis",
        "schedule": 3600.0,
    },
    "routing-sweep-presence": {"task": "routing.tasks.sweep_presence", "schedule": 15.0},
    # Co-browsing: end expired codes/invitations and sessions left or idle (consumers also do it).
    "cobrowse-sweep-stale-sessions": {
        "task": "cobrowse.tasks.sweep_stale_sessions",
        "schedule": 15.0,
    },
    "routing-sweep-queues": {"task": "routing.tasks.sweep_queues", "schedule": 30.0},
    # Visio: rooms past their expiry end and land on the timeline.
    "visio-expire-rooms": {"task": "visio.tasks.expire_rooms", "schedule": 60.0},
    # Chat: warn citizens silent for 5 min, end their chat after 10 (agents' sockets also check).
    "chat-sweep-inactivity": {"task": "chat.tasks.sweep_inactivity", "schedule": 30.0},
    "routing-flag-sla-breaches": {"task": "routing.tasks.flag_sla_breaches", "schedule": 60.0},
    "routing-refresh-availability": {
        "task": "routing.tasks.refresh_availability_beat",
        "schedule": 30.0,
    },
    # Knowledge base: unpublish expired articles and alert owners of reviews due (daily, 6:00);
    # purge chatbot conversations past their retention period (daily, 3:30).
    "knowledge-lifecycle": {
        "task": "knowledge.tasks.run_lifecycle",
        "schedule": crontab(hour=6, minute=0),
    },
    # Idempotency keys live 24 hours (contactcenter.idempotency.TTL): purge them hourly.
    "contactcenter-purge-idempotency-keys": {
        "task": "contactcenter.tasks.purge_idempotency_keys",
        "schedule": 3600.0,
    },
    # Sign-ups never verified, older than ACCOUNTS_UNVERIFIED_DAYS: deleted (nightly, 3:10).
    "accounts-purge-unverified": {
        "task": "accounts.tasks.purge_unverified_accounts",
        "schedule": crontab(hour=3, minute=10),
    },
    # Personal data past its retention period, every kind (contactcenter/retention.py):
    # deleted or anonymised in committed batches (nightly, 3:50).
    "contactcenter-purge-expired-data": {
        "task": "contactcenter.tasks.purge_expired_data",
        "schedule": crontab(hour=3, minute=50),
    },
    "knowledge-purge-conversations": {
        "task": "knowledge.tasks.purge_conversations",
        "schedule": crontab(hour=3, minute=30),
    },
    # E-mail channel (docs/mail.md): each mailbox is read at its own interval (mail.Mailbox).
    "mail-poll-mailboxes": {"task": "mail.tasks.poll_mailboxes", "schedule": 15.0},
    "mail-flush-outbound": {"task": "mail.tasks.flush_outbound", "schedule": 60.0},
    # Appointments: reminders the day before and one hour before (each claimed once).
    "appointments-send-reminders": {
        "task": "appointments.tasks.send_reminders",
        "schedule": 60.0,
    },
    # The citizen's file in the agent's workstation 5 minutes before an appointment (once).
    "appointments-open-panels": {
        "task": "appointments.tasks.open_due_panels",
        "schedule": 60.0,
    },
    # The contact page's peak hours, from the last 8 weeks of contacts (nightly, 2:40).
    "appointments-refresh-peaks": {
        "task": "appointments.tasks.refresh_peaks",
        "schedule": crontab(hour=2, minute=40),
    },
}
