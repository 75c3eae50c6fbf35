"""The knowledge engine built when a process starts (``KNOWLEDGE_WARM_UP``, on in production:
contactcenter/asgi.py for a web process, the ``voice_server`` command for the callbot)."""

from __future__ import annotations

import logging
import threading

from . import engine

logger = logging.getLogger(__name__)

# Set while the start-up build runs (``warm_up_in_background``): the process is not ready.
_warming = threading.Event()


def warm_up_in_background() -> None:
    """Build the engine in a thread at process start (``KNOWLEDGE_WARM_UP``, on in production):
    the first questions after a restart do not wait for the build (15 s for the demo base on
    one core, 10 s with the vectors on disk) while holding their database connections, and
    ``/health/ready`` answers 503 until it is done, so that a balancer sends this process no
    traffic meanwhile. A failure (tables not migrated yet, database away) ends the warm-up at
    once, logged: the first question builds the engine then."""
    _warming.set()
    threading.Thread(target=_warm_up, name="knowledge-warm-up", daemon=True).start()


def warming_up() -> bool:
    return _warming.is_set()


def _warm_up() -> None:
    from django.db import connection

    try:
        engine.get_engine()
    except Exception:  # noqa: BLE001 - the first question builds it instead
        logger.exception("knowledge engine warm-up failed: it is built at the first question")
    finally:
        connection.close()  # this thread's own connection
        _warming.clear()
