"""Celery task failures and retries per task name, for ``/metrics`` (contactcenter/metrics.py).

The workers count, the web processes answer the scrape: the counts live in the shared Django
cache (Redis in production; ``incr`` is atomic there), one key per task name and outcome, so
that any web process reports every worker's failures. The scrape reads the keys of the tasks
the Celery app knows (one ``get_many``). A Redis restart resets them to 0, which Prometheus
reads as a counter reset.
"""

from __future__ import annotations

from typing import Any

from celery.signals import task_failure, task_retry

OUTCOMES = ("failure", "retry")
PREFIX = "celery-task-outcome"


def key(outcome: str, task_name: str) -> str:
    return f"{PREFIX}:{outcome}:{task_name}"


def count(outcome: str, task_name: str) -> None:
    from django.core.cache import cache

    name = key(outcome, task_name)
    try:
        cache.add(name, 0, timeout=None)
        cache.incr(name)
    except Exception:  # a metric must never make a task fail differently
        import logging

        logging.getLogger("guichet.metrics").warning(
            "could not count a task outcome", extra={"task": task_name, "outcome": outcome}
        )


def counts(task_names: list[str]) -> dict[tuple[str, str], int]:
    """``{(outcome, task name): count}`` of the tasks that ever failed or retried."""
    from django.core.cache import cache

    keys = {key(outcome, name): (outcome, name) for outcome in OUTCOMES for name in task_names}
    return {keys[k]: int(v) for k, v in cache.get_many(list(keys)).items()}


def _task_name(sender: Any) -> str:
    return str(getattr(sender, "name", sender) or "unknown")


@task_failure.connect(weak=False)
def _on_failure(sender: Any = None, **kwargs: Any) -> None:
    count("failure", _task_name(sender))


@task_retry.connect(weak=False)
def _on_retry(sender: Any = None, **kwargs: Any) -> None:
    count("retry", _task_name(sender))
