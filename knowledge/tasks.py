"""Celery tasks of the knowledge app (thin: the work is in services; each task is idempotent)."""

from celery import shared_task

from . import services


@shared_task(name="knowledge.tasks.run_lifecycle")
def run_lifecycle() -> dict:
    """Daily: unpublish expired articles, then alert owners of articles due for review."""
    expired = services.unpublish_expired()
    alerted = services.alert_review_due()
    return {"unpublished": len(expired), "review_alerts": alerted}


@shared_task(name="knowledge.tasks.purge_conversations")
def purge_conversations() -> int:
    """Daily: delete chatbot conversations older than the retention period."""
    return services.purge_conversations()
