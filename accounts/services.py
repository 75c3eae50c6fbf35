"""Local accounts: sign-up with a verified address, e-mail change, deletion.

Links sent by e-mail are signed with ``SECRET_KEY`` (``django.core.signing``, one salt per use)
and expire after ``ACCOUNT_VERIFICATION_MAX_AGE`` seconds. A link acts on the state it was made
for only: the verification link once the account waits for it, the e-mail change link while the
account still has the address it was asked from. No answer tells whether an address has an
account: the person who owns the address learns it by e-mail.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from contactcenter.exceptions import InvalidState, NotAllowed
from contactcenter.models import User

from .mail import send_account_mail
from .models import OidcIdentity, PasskeyDevice, PendingVerification

log = logging.getLogger(__name__)

SIGNUP_SALT = "accounts.signup"
EMAIL_CHANGE_SALT = "accounts.email-change"
# The address of an account FranceConnect created without one (accounts.identities).
PLACEHOLDER_DOMAIN = "franceconnect.invalid"


def has_placeholder_email(user: User) -> bool:
    """An account FranceConnect created without an address, not yet given a verified one."""
    return user.email.lower().endswith("@" + PLACEHOLDER_DOMAIN)


class LinkInvalid(Exception):
    """A link that was tampered with, was made for another state, or belongs to someone else."""


class LinkExpired(LinkInvalid):
    """A genuine link, too old."""


def _load(token: str, salt: str) -> dict:
    try:
        data = signing.loads(token, salt=salt, max_age=settings.ACCOUNT_VERIFICATION_MAX_AGE)
    except signing.SignatureExpired:
        raise LinkExpired from None
    except signing.BadSignature:
        raise LinkInvalid from None
    if not isinstance(data, dict):
        raise LinkInvalid
    return data


def _absolute(path: str) -> str:
    return settings.SITE_URL + path


# --- Sign-up and verification -----------------------------------------------------------------


def verification_link(user: User) -> str:
    token = signing.dumps({"u": user.pk, "e": user.email.lower()}, salt=SIGNUP_SALT)
    return _absolute(reverse("accounts:verify", args=[token]))


def _send_verification(user: User) -> None:
    PendingVerification.objects.filter(user=user).update(link_sent_at=timezone.now())
    send_account_mail(
        user.email,
        "verify",
        {
            "user": user,
            "link": verification_link(user),
            "hours": settings.ACCOUNT_VERIFICATION_MAX_AGE // 3600,
        },
    )


@transaction.atomic
def sign_up(
    *,
    email: str,
    password: str | None,
    first_name: str,
    last_name: str,
    mobile_phone: str = "",
) -> User | None:
    """Create an inactive citizen account and send the verification link; returns it. Without
    a password (a FranceConnect identity that gave no address), the account has none.

    The address already has an account: nothing is created (None) and its owner gets the
    verification link again (account still waiting) or a notice that someone tried to sign up
    with it. The caller shows the same page in every case."""
    email = User.objects.normalize_email(email).strip()
    existing = User.objects.filter(email__iexact=email).first()
    if existing is None:
        user = User(
            username=email,
            email=email,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            role=User.Role.CITIZEN,
            mobile_phone=mobile_phone,
            is_active=False,
        )
        if password is None:
            user.set_unusable_password()
        else:
            user.set_password(password)
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:  # the same address signed up at the same time
            existing = User.objects.filter(email__iexact=email).first()
        else:
            PendingVerification.objects.create(user=user)
            _send_verification(user)
            return user
    if existing is not None:
        if PendingVerification.objects.filter(user=existing).exists():
            _send_verification(existing)
        else:
            send_account_mail(
                existing.email, "signup_existing", {"user": existing, "login": reverse("login")}
            )
    return None


def resend_verification(email: str) -> None:
    """Send the link again to an account waiting for it; nothing for any other address."""
    pending = (
        PendingVerification.objects.select_related("user")
        .filter(user__email__iexact=email.strip())
        .first()
    )
    if pending is not None:
        _send_verification(pending.user)


@transaction.atomic
def verify_email(token: str) -> User:
    """Activate the account of a verification link. A link already used (account active with
    this address) verifies nothing more and returns the user; LinkInvalid/LinkExpired otherwise."""
    data = _load(token, SIGNUP_SALT)
    pk = data.get("u")
    user = User.objects.select_for_update().filter(pk=pk).first() if isinstance(pk, int) else None
    if user is None or user.email.lower() != data.get("e"):
        raise LinkInvalid
    deleted, _ = PendingVerification.objects.filter(user=user).delete()
    if deleted:
        user.is_active = True
        user.save(update_fields=["is_active"])
    elif not user.is_active:  # deactivated by an administrator: a link does not reactivate
        raise LinkInvalid
    return user


def unverified_to_purge(now: datetime.datetime | None = None):
    """The accounts ``purge_unverified`` deletes: waiting for verification for more than
    ``ACCOUNTS_UNVERIFIED_DAYS`` and whose last link has expired (a link still valid is never
    made useless), inactive, never logged in, owning no case and no timeline entry (message,
    call...)."""
    now = now or timezone.now()
    link_expired = now - datetime.timedelta(seconds=settings.ACCOUNT_VERIFICATION_MAX_AGE)
    too_old = now - datetime.timedelta(days=settings.ACCOUNTS_UNVERIFIED_DAYS)
    return User.objects.filter(
        pending_verification__created_at__lt=too_old,
        pending_verification__link_sent_at__lt=link_expired,
        is_active=False,
        last_login__isnull=True,
        cases__isnull=True,
        timeline_events__isnull=True,
    ).distinct()


def purge_unverified(now: datetime.datetime | None = None, *, dry_run: bool = False) -> list[str]:
    """Delete the sign-ups never verified (``unverified_to_purge``): the person signs up again
    if they still want an account. One that another record protects is kept and logged. Safe
    to run twice. Returns the addresses deleted (or that would be, with ``dry_run``)."""
    candidates = unverified_to_purge(now)
    if dry_run:
        return list(candidates.order_by("pk").values_list("email", flat=True))
    deleted = []
    for pk in candidates.values_list("pk", flat=True):
        try:
            with transaction.atomic():
                user = User.objects.select_for_update().filter(pk=pk).first()
                if user is not None and candidates.filter(pk=pk).exists():
                    email = user.email
                    user.delete()
                    deleted.append(email)
        except ProtectedError:
            log.warning("Unverified account %s kept: other records refer to it", pk)
    if deleted:
        log.info("Purged %d sign-ups never verified", len(deleted))
    return deleted


# --- E-mail change ----------------------------------------------------------------------------


def email_change_link(user: User, new_email: str) -> str:
    token = signing.dumps(
        {"u": user.pk, "old": user.email.lower(), "new": new_email}, salt=EMAIL_CHANGE_SALT
    )
    return _absolute(reverse("accounts:email_confirm", args=[token]))


def reauth_provider(user: User) -> str:
    """The provider whose new login confirms an e-mail change of ``user``, instead of a
    password: FranceConnect for an account it created without one (and a real address: the
    first address needs neither). "" when the password is asked."""
    if user.has_usable_password() or has_placeholder_email(user):
        return ""
    provider = OidcIdentity.Provider.FRANCECONNECT
    linked = OidcIdentity.objects.filter(provider=provider, user=user).exists()
    return str(provider) if linked and provider in settings.OIDC_PROVIDERS else ""


def request_email_change(user: User, new_email: str) -> None:
    """Send a confirmation link to the new address; the account keeps its address until the
    link is opened. An address already used by another account gets a notice instead."""
    new_email = User.objects.normalize_email(new_email).strip()
    if new_email.lower() == user.email.lower():
        raise InvalidState("C'est déjà l'adresse de votre compte.")
    if User.objects.filter(email__iexact=new_email).exclude(pk=user.pk).exists():
        send_account_mail(new_email, "email_taken", {"login": reverse("login")})
        return
    send_account_mail(
        new_email,
        "email_change",
        {
            "user": user,
            "link": email_change_link(user, new_email),
            "hours": settings.ACCOUNT_VERIFICATION_MAX_AGE // 3600,
        },
    )


@transaction.atomic
def confirm_email_change(user: User, token: str) -> str:
    """Give ``user`` the address of the link (theirs, made from their current address); tells
    the former address. Returns the new address."""
    data = _load(token, EMAIL_CHANGE_SALT)
    user = User.objects.select_for_update().get(pk=user.pk)
    if data.get("u") != user.pk or data.get("old") != user.email.lower() or not data.get("new"):
        raise LinkInvalid
    old, new = user.email, data["new"]
    if User.objects.filter(email__iexact=new).exclude(pk=user.pk).exists():
        raise InvalidState("Cette adresse est déjà celle d'un autre compte.")
    # An account FranceConnect created without an address (accounts.identities) gets its
    # first real one: e-mail alerts start now, and nobody is told at the placeholder.
    first_address = old.lower().endswith("@" + PLACEHOLDER_DOMAIN)
    user.email = user.username = new
    fields = ["email", "username"]
    if first_address:
        user.notify_email = True
        fields.append("notify_email")
    try:
        with transaction.atomic():
            user.save(update_fields=fields)
    except IntegrityError:
        raise InvalidState("Cette adresse est déjà celle d'un autre compte.") from None
    if not first_address:
        send_account_mail(old, "email_changed", {"user": user, "new": new})
    return new


# --- Deletion ---------------------------------------------------------------------------------


def deleted_email(user: User) -> str:
    return f"compte-supprime-{user.pk}@invalid"


@transaction.atomic
def delete_account(user: User) -> bool:
    """Delete a citizen's account. Returns True when the row itself is gone (no case, message
    or log refers to it), False when it is kept without identity: requests, messages and their
    attachments, chats and the audit log stay for the legal retention period, attached to an
    account with no name, address, telephone or tax/social number, no password and inactive."""
    if not user.is_citizen:
        raise NotAllowed("Les comptes du personnel sont supprimés par un administrateur.")
    user = User.objects.select_for_update().get(pk=user.pk)
    try:
        with transaction.atomic():
            user.delete()
        return True
    except ProtectedError:
        pass
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    PasskeyDevice.objects.filter(user=user).delete()
    PendingVerification.objects.filter(user=user).delete()
    user.email = user.username = deleted_email(user)
    user.first_name = user.last_name = ""
    user.mobile_phone = user.tax_number = user.social_number = ""
    user.notify_email = user.notify_sms = False
    user.is_active = False
    user.set_unusable_password()
    user.save()
    return False


def validate_new_password(password: str, **attributes) -> None:
    """The password rules (AUTH_PASSWORD_VALIDATORS) against the person being created."""
    validate_password(password, user=User(**attributes))
