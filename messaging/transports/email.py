"""E-mail through Django's e-mail backends (``EMAIL_BACKEND``: SMTP in production)."""

from __future__ import annotations

import base64

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from ..preferences import unsubscribe_url
from .base import Transport


class EmailTransport(Transport):
    channel = "email"

    def send(self, notification) -> str:
        domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >") or "guichet.local"
        # A stable Message-ID: a retry after a crash carries the same id, so mail servers and
        # clients can recognise the duplicate.
        message_id = f"<{notification.idempotency_key.replace(':', '.')}@{domain}>"
        headers = {"Message-ID": message_id, "Auto-Submitted": "auto-generated"}
        # Non-essential categories: one-click unsubscribe (RFC 8058), the link of the footer.
        unsubscribe = unsubscribe_url(notification.recipient_id, notification.kind)
        if unsubscribe:
            headers["List-Unsubscribe"] = f"<{unsubscribe}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message = EmailMessage(
            subject=notification.subject,
            body=notification.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[notification.address],
            headers=headers,
            connection=get_connection(fail_silently=False),
        )
        # Files written with the row (an appointment's .ics, ``notifications.email_files``).
        for item in notification.files or ():
            message.attach(item["name"], base64.b64decode(item["data"]), item["type"])
        message.send(fail_silently=False)
        return message_id
