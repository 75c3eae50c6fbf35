"""What routing sends out: channel-layer messages, and its Celery tasks.

The tasks (``routing.tasks``) are thin wrappers over the routing modules and import them; the
modules never import the tasks. They queue a task by its registered name through Celery's task
registry (``current_app.tasks``): ``RoutingConfig.ready`` imports ``routing.tasks``, so every
routing task is registered before any code can queue one.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from celery import current_app
from channels.layers import get_channel_layer

logger = logging.getLogger("routing")


def group_send(group: str, message: dict) -> None:
    """Publish on the channel layer; a failure is logged, never raised (we are after commit)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # the layer being down must not break the business operation
        logger.exception("routing: could not publish to %s", group)


def _task(name: str):
    """The registered routing task ``routing.tasks.<name>``."""
    return current_app.tasks[f"routing.tasks.{name}"]


def queue_task(name: str, *args, **options) -> None:
    """Queue a routing task after commit (``apply_async_on_commit``: a broker failure is
    logged, the beat sweeps catch up)."""
    _task(name).apply_async_on_commit(args, **options)


def queue_task_now(name: str, *args) -> None:
    """Queue a routing task at once (outside a transaction; a broker failure is logged)."""
    try:
        _task(name).delay(*args)
    except Exception:
        logger.exception("routing: could not queue %s", name)
