"""The transport interface shared by every notification channel."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from messaging.models import Notification


class TransientTransportError(Exception):
    """Sending failed but may work later: the outbox retries with backoff."""


class PermanentTransportError(Exception):
    """Sending will never work (bad address, unknown channel): no retry."""


class Transport(ABC):
    channel: str = ""

    @abstractmethod
    def send(self, notification: Notification) -> str:
        """Send the row's ``subject``/``text`` to its ``address``; return the provider's id."""
