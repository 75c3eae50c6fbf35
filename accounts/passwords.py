"""A password validator against the passwords known from data breaches, by the k-anonymity
range API of "Have I Been Pwned" (Pwned Passwords), off unless ``PASSWORD_BREACH_RANGE_URL`` is
set (docs/accounts.md says why).

Only the first five hexadecimal characters of the password's SHA-1 leave Guichet; the service
answers every suffix it knows under that prefix (padded with fake ones, ``Add-Padding``), and
the comparison is made here. When the service does not answer within
``PASSWORD_BREACH_TIMEOUT`` seconds, the password is accepted on the other rules and the failure
is logged: a sign-up or a reset must not depend on a third party being up.
"""

from __future__ import annotations

import hashlib
import logging

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)


def breach_count(password: str) -> int | None:
    """How many times the password appears in the breaches the range service knows (0: not
    found); None when the check is off or the service did not answer."""
    base = settings.PASSWORD_BREACH_RANGE_URL
    if not base:
        return None
    digest = hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()
    prefix, suffix = digest[:5], digest[5:]
    try:
        response = requests.get(
            base.rstrip("/") + "/" + prefix,
            headers={"Add-Padding": "true", "User-Agent": "Guichet password check"},
            timeout=settings.PASSWORD_BREACH_TIMEOUT,
        )
        response.raise_for_status()
    except requests.RequestException as error:
        log.warning("Breached-password check unavailable, password accepted: %s", error)
        return None
    for line in response.text.splitlines():
        found, _sep, count = line.strip().partition(":")
        if found.upper() == suffix:
            try:
                return int(count)
            except ValueError:
                return 1
    return 0


class BreachedPasswordValidator:
    """Refuses a password found in known data breaches (padding entries count 0)."""

    def validate(self, password: str, user=None) -> None:
        count = breach_count(password)
        if count:
            raise ValidationError(
                _(
                    "Ce mot de passe figure dans des fuites de données connues : choisissez-en "
                    "un autre."
                ),
                code="password_breached",
            )

    def get_help_text(self) -> str:
        if not settings.PASSWORD_BREACH_RANGE_URL:
            return ""
        return _("Il ne doit pas figurer dans les fuites de données connues.")
