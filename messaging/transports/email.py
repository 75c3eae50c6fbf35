"""E-mail through Django's e-mail backends (``EMAIL_BACKEND``: SMTP in production)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from .base import Transport


class EmailTransport(Transport):
    channel = "email"

    def send(self, notification) -> str:
        domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >") or "guichet.local"
        # A stable Message-ID: a retry after a crash carries the same id, so mail servers and
        # clients can recognise the duplicate.
        message_id = f"<{notification.idempotency_key.replace(':', '.')}@{domain}>"
        message = EmailMessage(
            subject=notification.subject,
            body=notification.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[notification.address],
            headers={"Message-ID": message_id, "Auto-Submitted": "auto-generated"},
            connection=get_connection(fail_silently=False),
        )
        message.send(fail_silently=False)
        return message_id
