"""Account e-mails (verification links, notices, password reset), through Django's mail
backend (``EMAIL_BACKEND``: the console by default, SMTP in production), sent once the
transaction that decided them commits.

The pages that send them answer anyone, the same way for every address: so that they cannot be
used to flood a mailbox, one address gets at most ``ACCOUNT_MAILS_PER_HOUR`` of them an hour
(counted in the cache); the others are dropped and logged."""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string

logger = logging.getLogger("accounts")


def mail_allowed(to: str) -> bool:
    """Count one account mail to ``to``; False past the hourly limit."""
    key = "accounts:mails:" + hashlib.sha256(to.strip().lower().encode()).hexdigest()
    cache.add(key, 0, 3600)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, 3600)
        count = 1
    if count > settings.ACCOUNT_MAILS_PER_HOUR:
        logger.warning("account mail dropped: hourly limit reached for one address")
        return False
    return True


def send_account_mail(to: str, template: str, context: dict) -> None:
    """Render ``accounts/mail/<template>_subject.txt`` and ``..._body.txt`` (in the active
    language) and send them to ``to`` after commit, within the hourly limit."""
    if not mail_allowed(to):
        return
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
