"""Two-factor authentication (django-otp): a TOTP application, passkeys (accounts/passkeys.py)
and recovery codes.

Every staff account (agent, supervisor, admin) needs it on local login; a citizen may turn it
on. The password step never logs such a person in: it keeps a *pending login* in the session
(user, backend, time; ``TWO_FACTOR_PENDING_SECONDS``) and ``django.contrib.auth.login`` runs
only once the code is right. Every page, API call and websocket of the site therefore sees
either nobody or a person who gave both factors: the console, the dashboard and the admin are
covered by the login they already require (the admin's own login page sends to ours).

A browser may be remembered after a second factor, for ``TWO_FACTOR_REMEMBER_SECONDS`` (12 hours
at most): a cookie signed with ``SECRET_KEY``, timestamped, naming the user and bound to the
secret of their TOTP device and to their password hash, so that a new device, a reset of the
device or a new password ends it. The session cannot do this (it ends with the browser and after
two idle hours) and a longer session would keep the whole login, not only the second factor.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth.signals import user_login_failed
from django.core import signing
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.crypto import constant_time_compare, salted_hmac
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from contactcenter.models import User

from .models import PasskeyDevice

PENDING_KEY = "accounts_2fa_pending"
CODES_KEY = "accounts_2fa_codes"
REMEMBER_COOKIE = "guichet_2fa"
REMEMBER_SALT = "accounts.2fa-remember"
# The pending login follows a password checked by Django's model backend (django-axes' backend
# only refuses locked logins).
LOCAL_BACKEND = "django.contrib.auth.backends.ModelBackend"
RECOVERY_CODES = 10


def required_for(user: User) -> bool:
    """Staff always; a citizen once they have turned it on (an application or a passkey)."""
    return user.is_staff_member or has_device(user)


def has_device(user: User) -> bool:
    """A confirmed second factor: the TOTP application or a passkey (recovery codes alone do
    not count: they come with one of these)."""
    return (
        totp_device(user) is not None
        or PasskeyDevice.objects.filter(user=user, confirmed=True).exists()
    )


def login_device(user: User) -> Device | None:
    """The device a remembered browser's login is recorded with."""
    return (
        totp_device(user)
        or PasskeyDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    )


def totp_device(user: User, *, confirmed: bool = True) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).order_by("pk").first()


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


# --- Pending login ----------------------------------------------------------------------------


def log_in_or_ask(request, user: User, redirect_to: str, log_in: Callable[[], HttpResponse]):
    """After the first factor (password, or an identity provider that does not count as a
    second one): ``log_in()`` if no second factor is needed or this browser is remembered,
    otherwise a pending login and the redirect to the code page (or to the enrolment of a first
    device). ``user.backend`` must be set."""
    if not required_for(user):
        return log_in()
    device = login_device(user)
    if device is not None and remembered(request, user):
        response = log_in()
        otp_login(request, device)
        return response
    start_pending(request, user, redirect_to)
    if device is None:
        return redirect("accounts:two_factor_enrol")
    return redirect("accounts:two_factor_verify")


def start_pending(request, user: User, redirect_to: str) -> None:
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "at": int(time.time()),
        "next": redirect_to,
    }


def pending_user(request) -> User | None:
    """The person who gave their password in this session, if recent enough and still active."""
    data = request.session.get(PENDING_KEY)
    if not data or time.time() - data["at"] > settings.TWO_FACTOR_PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None
    return User.objects.filter(pk=data["user"], is_active=True).first()


def pending_next(request) -> str:
    return (request.session.get(PENDING_KEY) or {}).get("next", "")


def drop_pending(request) -> None:
    request.session.pop(PENDING_KEY, None)


def complete_login(request, user: User, device: Device) -> str:
    """Log the person in (both factors given) and mark the session with the device used."""
    redirect_to = pending_next(request)
    drop_pending(request)
    auth_login(request, user, backend=LOCAL_BACKEND)
    otp_login(request, device)
    return redirect_to


# --- Enrolment --------------------------------------------------------------------------------


def enrolment_device(user: User) -> TOTPDevice:
    """The unconfirmed TOTP device being set up (its secret is shown as a QR code)."""
    device = totp_device(user, confirmed=False)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Application", confirmed=False)
    return device


@transaction.atomic
def confirm_enrolment(user: User, code: str) -> tuple[TOTPDevice, list[str]] | None:
    """Check the first code of the application; on success the device is the user's only TOTP
    device and fresh recovery codes replace the old ones. Returns (device, codes) or None."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=False)
        .order_by("pk")
        .first()
    )
    if device is None or not device.verify_token(code.strip()):
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device, new_recovery_codes(user)


@transaction.atomic
def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes (each usable once); returns them, to show once."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Codes de secours", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def disable(user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    PasskeyDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


# --- Verification -----------------------------------------------------------------------------


def normalize_code(code: str) -> str:
    return "".join(code.split()).lower()


@transaction.atomic
def verify(user: User, code: str):
    """The device accepting ``code``: six digits for the application, otherwise a recovery code
    (used up). django-otp throttles each device (growing delay after each failure)."""
    code = normalize_code(code)
    model: type[TOTPDevice] | type[StaticDevice] = TOTPDevice if code.isdigit() else StaticDevice
    for device in model.objects.select_for_update().filter(user=user, confirmed=True):
        if device.verify_token(code):
            return device
    return None


def record_failure(request, user: User) -> None:
    """A wrong code counts as a failed login for django-axes (login and client address): the
    fifth failure, password or code, locks the login for AXES_COOLOFF_TIME."""
    user_login_failed.send(
        sender=__name__, credentials={"username": user.get_username()}, request=request
    )


# --- Remembered browser -----------------------------------------------------------------------


def _binding(user: User) -> str:
    """Ends with any change of the person's devices (TOTP key, passkeys) or password."""
    device = totp_device(user)
    passkeys = ",".join(
        str(pk)
        for pk in PasskeyDevice.objects.filter(user=user, confirmed=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    secret = (
        f"{user.pk}:{device.persistent_id if device else ''}:{device.key if device else ''}"
        f":{passkeys}"
    )
    return salted_hmac(REMEMBER_SALT, f"{secret}:{user.password}").hexdigest()


def remember(response, user: User) -> None:
    value = signing.dumps({"u": user.pk, "b": _binding(user)}, salt=REMEMBER_SALT)
    response.set_cookie(
        REMEMBER_COOKIE,
        value,
        max_age=settings.TWO_FACTOR_REMEMBER_SECONDS,
        httponly=True,
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Lax",
    )


def remembered(request, user: User) -> bool:
    value = request.COOKIES.get(REMEMBER_COOKIE)
    if not value:
        return False
    try:
        data = signing.loads(
            value, salt=REMEMBER_SALT, max_age=settings.TWO_FACTOR_REMEMBER_SECONDS
        )
    except signing.BadSignature:
        return False
    return (
        isinstance(data, dict)
        and data.get("u") == user.pk
        and has_device(user)
        and constant_time_compare(str(data.get("b")), _binding(user))
    )
