"""Account e-mails (verification links, notices), through Django's mail backend
(``EMAIL_BACKEND``: the console by default, SMTP in production), sent once the transaction
that decided them commits."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string


def send_account_mail(to: str, template: str, context: dict) -> None:
    """Render ``accounts/mail/<template>_subject.txt`` and ``..._body.txt`` (in the active
    language) and send them to ``to`` after commit."""
    context = {"site_url": settings.SITE_URL, **context}
    subject = render_to_string(f"accounts/mail/{template}_subject.txt", context)
    body = render_to_string(f"accounts/mail/{template}_body.txt", context)
    message = EmailMessage(
        subject=" ".join(subject.split()),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Auto-Submitted": "auto-generated"},
    )
    transaction.on_commit(lambda: message.send(fail_silently=False))
