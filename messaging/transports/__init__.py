"""Notification transports: one module per channel, one interface.

A transport sends one outbox row (``messaging.models.Notification``) and returns the provider's
message id. It raises ``TransientTransportError`` (or any other exception) when trying again later
may work, and ``PermanentTransportError`` when it never will (invalid address...). Transports
receive the row's idempotency key so that a provider able to deduplicate can do so if a worker
crashed after sending but before recording it.
"""

from __future__ import annotations

from .base import PermanentTransportError, TransientTransportError, Transport


def get_transport(channel: str) -> Transport:
    if channel == "email":
        from .email import EmailTransport

        return EmailTransport()
    if channel == "sms":
        from .sms import SmsTransport

        return SmsTransport()
    raise PermanentTransportError(f"Unknown notification channel {channel!r}")


__all__ = ["PermanentTransportError", "Transport", "TransientTransportError", "get_transport"]
