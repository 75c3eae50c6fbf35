"""Which alerts a citizen receives: per category (requests, démarches, appointments) and
channel, in their language, and the one-click unsubscribe of non-essential categories
(RFC 8058: ``List-Unsubscribe`` + ``List-Unsubscribe-Post`` headers, a signed link).

Categories: an alert's kind belongs to one (``category_of``). Replies and requests for details
on the citizen's own requests are essential (no unsubscribe link, the citizen may still turn
them off in the space); démarches and appointments are not. One-time codes have no category:
they are always sent.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse

from contactcenter.models import User

from . import notification_templates as templates
from .models import AlertPreference

CATEGORIES = ("requests", "demarches", "appointments")
NON_ESSENTIAL = frozenset({"demarches", "appointments"})
ALWAYS_SENT = frozenset({"code"})
SALT = "messaging.unsubscribe"


def category_of(kind: str) -> str | None:
    if kind in ALWAYS_SENT:
        return None
    if kind in templates.EVENTS:
        return templates.EVENTS[kind].category
    if kind.startswith("demarche_"):
        return "demarches"
    if kind.startswith(("callback_", "appointment_")):
        return "appointments"
    return "requests"


def preference_of(user: User) -> AlertPreference | None:
    return AlertPreference.objects.filter(user=user).first()


# ``preference`` arguments: the row already read (``preference_of``, None when the citizen has
# none), so that one alert reads it once for all its channels; UNREAD reads it.
UNREAD: Any = object()


def allows(user: User, kind: str, channel: str, preference: Any = UNREAD) -> bool:
    category = category_of(kind)
    if category is None:
        return True
    if preference is UNREAD:
        preference = preference_of(user)
    return preference is None or preference.allows(category, channel)


def language_of(user: User, preference: Any = UNREAD) -> str:
    if preference is UNREAD:
        preference = preference_of(user)
    return preference.language if preference is not None else settings.LANGUAGE_CODE[:2]


def unsubscribe_token(user_id: int, category: str) -> str:
    """A signed token naming the citizen and the category (no expiry: an old e-mail's link
    keeps working; it can only turn e-mail alerts of that category off). Without a
    timestamp, so the same for a citizen and a category whenever it is made: the e-mail's
    ``List-Unsubscribe`` header (made at delivery) and its footer (made when queued) carry one
    link."""
    return signing.Signer(salt=SALT).sign_object({"u": user_id, "c": category}, compress=True)


def unsubscribe_url(user_id: int, kind: str) -> str:
    """The one-click link of an e-mail alert of ``kind``, or "" for an essential category."""
    category = category_of(kind)
    if category not in NON_ESSENTIAL:
        return ""
    token = unsubscribe_token(user_id, category)
    return settings.SITE_URL + reverse("messaging:unsubscribe", args=[token])


def read_token(token: str) -> tuple[User, str] | None:
    """(citizen, category) of a valid token, else None."""
    try:
        data = signing.Signer(salt=SALT).unsign_object(token)
    except (signing.BadSignature, ValueError):
        try:  # a link sent before the tokens lost their timestamp
            data = signing.loads(token, salt=SALT)
        except (signing.BadSignature, ValueError):
            return None
    if not isinstance(data, dict) or data.get("c") not in NON_ESSENTIAL:
        return None
    if not isinstance(data.get("u"), int):
        return None
    user = User.objects.filter(pk=data["u"], is_active=True).first()
    return (user, data["c"]) if user is not None else None


def unsubscribe(user: User, category: str) -> None:
    """Turn off the e-mail alerts of ``category`` (idempotent)."""
    preference, _created = AlertPreference.objects.get_or_create(user=user)
    setattr(preference, f"{category}_email", False)
    preference.save(update_fields=[f"{category}_email", "updated_at"])
