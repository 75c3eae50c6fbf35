"""Passkeys (WebAuthn) as a second factor, with py_webauthn (the ``webauthn`` package).

A passkey is a django-otp device (``accounts.models.PasskeyDevice``) like the TOTP application:
the same pending login, lockout and remembered browser apply (accounts/twofactor.py). Each
ceremony has two steps: the browser asks for options (a fresh random challenge, kept in the
session for ``CHALLENGE_SECONDS`` and used once), then sends what the authenticator signed;
py_webauthn checks the challenge, the origin (``WEBAUTHN_ORIGINS``), the relying party id
(``WEBAUTHN_RP_ID``), the signature with the stored public key, the user presence flag and the
signature counter (a counter that goes back means a cloned authenticator: refused).
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from contactcenter.models import User

from .models import PasskeyDevice

log = logging.getLogger(__name__)

CHALLENGE_KEY = "accounts_passkey_challenge"
CHALLENGE_SECONDS = 300
NAME_MAX = 64


class PasskeyError(Exception):
    """The ceremony failed; ``str(error)`` is for the logs, not for the person."""


def devices(user: User):
    return PasskeyDevice.objects.filter(user=user, confirmed=True).order_by("pk")


def credential_hash(credential_id: bytes) -> str:
    return hashlib.sha256(credential_id).hexdigest()


def user_handle(user: User) -> bytes:
    """The WebAuthn user handle: stable per account, with nothing personal in it."""
    return salted_hmac("accounts.passkey-user", str(user.pk)).digest()[:32]


def _descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
    known = {transport.value: transport for transport in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=bytes(device.credential_id),
            transports=[known[t] for t in device.transports if t in known] or None,
        )
        for device in devices(user)
    ]


def _keep_challenge(request, purpose: str, user: User, challenge: bytes) -> None:
    request.session[CHALLENGE_KEY] = {
        "purpose": purpose,
        "user": user.pk,
        "challenge": bytes_to_base64url(challenge),
        "at": int(time.time()),
    }


def _take_challenge(request, purpose: str, user: User) -> bytes:
    """The challenge of this ceremony, removed from the session (one use)."""
    data = request.session.pop(CHALLENGE_KEY, None)
    if (
        not data
        or data.get("purpose") != purpose
        or data.get("user") != user.pk
        or time.time() - data.get("at", 0) > CHALLENGE_SECONDS
    ):
        raise PasskeyError("no challenge for this ceremony, or too old")
    return base64url_to_bytes(data["challenge"])


# --- Registration -----------------------------------------------------------------------------


def registration_options(request, user: User) -> str:
    """JSON options for ``navigator.credentials.create`` (the person's passkeys excluded)."""
    options = generate_registration_options(
        rp_id=settings.WEBAUTHN_RP_ID,
        rp_name=settings.WEBAUTHN_RP_NAME,
        user_name=user.email or user.get_username(),
        user_id=user_handle(user),
        user_display_name=user.get_full_name() or user.email,
        exclude_credentials=_descriptors(user),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        timeout=CHALLENGE_SECONDS * 1000,
    )
    _keep_challenge(request, "register", user, options.challenge)
    return options_to_json(options)


def register(request, user: User, credential: dict[str, Any], name: str) -> PasskeyDevice:
    """Check the new credential against this session's challenge and store it."""
    challenge = _take_challenge(request, "register", user)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.WEBAUTHN_RP_ID,
            expected_origin=settings.WEBAUTHN_ORIGINS,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as error:
        raise PasskeyError(f"registration refused: {error}") from None
    transports = credential.get("response", {}).get("transports") or []
    try:
        with transaction.atomic():
            return PasskeyDevice.objects.create(
                user=user,
                name=(name.strip() or "Clé d'accès")[:NAME_MAX],
                confirmed=True,
                credential_id=verified.credential_id,
                credential_hash=credential_hash(verified.credential_id),
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                transports=[str(t) for t in transports if isinstance(t, str)][:8],
                backed_up=verified.credential_backed_up,
            )
    except IntegrityError:
        raise PasskeyError("this credential is already registered") from None


# --- Authentication ---------------------------------------------------------------------------


def authentication_options(request, user: User) -> str:
    """JSON options for ``navigator.credentials.get``, limited to the person's passkeys."""
    options = generate_authentication_options(
        rp_id=settings.WEBAUTHN_RP_ID,
        allow_credentials=_descriptors(user),
        user_verification=UserVerificationRequirement.PREFERRED,
        timeout=CHALLENGE_SECONDS * 1000,
    )
    _keep_challenge(request, "authenticate", user, options.challenge)
    return options_to_json(options)


@transaction.atomic
def authenticate(request, user: User, credential: dict[str, Any]) -> PasskeyDevice:
    """The person's passkey that signed this session's challenge; PasskeyError otherwise.
    User presence is required; user verification (PIN, fingerprint) is not: the password was
    the first factor."""
    challenge = _take_challenge(request, "authenticate", user)
    try:
        parsed = parse_authentication_credential_json(credential)
    except (WebAuthnException, ValueError, KeyError, TypeError) as error:
        raise PasskeyError(f"malformed assertion: {error}") from None
    device = (
        PasskeyDevice.objects.select_for_update()
        .filter(user=user, confirmed=True, credential_hash=credential_hash(parsed.raw_id))
        .first()
    )
    if device is None:
        raise PasskeyError("unknown credential for this person")
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=settings.WEBAUTHN_RP_ID,
            expected_origin=settings.WEBAUTHN_ORIGINS,
            credential_public_key=bytes(device.public_key),
            credential_current_sign_count=device.sign_count,
        )
    except WebAuthnException as error:
        raise PasskeyError(f"assertion refused: {error}") from None
    device.sign_count = verified.new_sign_count
    device.backed_up = verified.credential_backed_up
    device.last_used_at = timezone.now()
    device.save(update_fields=["sign_count", "backed_up", "last_used_at"])
    return device
