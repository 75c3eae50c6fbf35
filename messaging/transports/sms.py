"""SMS through a pluggable backend chosen by ``settings.SMS_BACKEND``.

A backend is a class with ``send(to, text, idempotency_key) -> provider id``. The default,
``OutboxLogSmsBackend``, sends nothing: it writes the SMS to the ``messaging.sms`` logger (the
outbox row keeps the text and the status), which is what a development machine or a deployment
without an SMS provider wants. A real provider is plugged in by writing a backend class and
pointing ``SMS_BACKEND`` at it.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.module_loading import import_string

from contactcenter import phones

from .base import PermanentTransportError, Transport

logger = logging.getLogger("messaging.sms")


class BaseSmsBackend:
    def send(self, to: str, text: str, idempotency_key: str) -> str:
        raise NotImplementedError


class OutboxLogSmsBackend(BaseSmsBackend):
    """Development / no-provider backend: log the SMS, keep it in the outbox."""

    def send(self, to: str, text: str, idempotency_key: str) -> str:
        logger.info("SMS to %s (key %s): %s", to, idempotency_key, text)
        return f"outbox-log:{idempotency_key}"


def get_sms_backend() -> BaseSmsBackend:
    return import_string(settings.SMS_BACKEND)()


class SmsTransport(Transport):
    channel = "sms"

    def send(self, notification) -> str:
        # The backend always gets a French mobile in E.164 ("+262692123456").
        try:
            to = phones.parse_mobile(notification.address)
        except ValidationError:
            raise PermanentTransportError("SMS address is not a French mobile number")
        return get_sms_backend().send(to, notification.text, notification.idempotency_key)
