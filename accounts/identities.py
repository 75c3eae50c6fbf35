"""Who an OpenID Connect login is (accounts/oidc.py gives the checked identity; this module
finds or creates the Guichet person behind it).

- FranceConnect is for citizens: a known ``sub`` logs its citizen in; a new one creates a
  citizen account from the identity claims (the e-mail address counts as verified: FranceConnect
  vouches for it), or links to an existing local account once its password is given. An
  account is never linked because its e-mail address matches.
- ProConnect is for staff: no account is ever created. A known ``sub`` logs its agent in; the
  first time, the verified e-mail address of an existing active staff member finds them and the
  ``sub`` is stored. Anyone else is refused. Roles and services stay managed in Guichet.
"""

from __future__ import annotations

import datetime
import hashlib

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contactcenter.models import User

from . import services
from .models import OidcIdentity, PendingVerification
from .oidc import Identity


class Refused(Exception):
    """The login is refused; ``str(error)`` is the message shown to the person."""


def parse_birthdate(value) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _touch(link: OidcIdentity) -> None:
    OidcIdentity.objects.filter(pk=link.pk).update(last_login_at=timezone.now())


def linked_user(identity: Identity) -> User | None:
    """The person already linked to this identity, checked for the provider's audience."""
    link = (
        OidcIdentity.objects.select_related("user")
        .filter(provider=identity.provider, sub=identity.sub)
        .first()
    )
    if link is None:
        return None
    user = link.user
    if not user.is_active:
        if PendingVerification.objects.filter(user=user).exists():
            raise Refused(
                _(
                    "Votre adresse électronique n'est pas encore vérifiée : ouvrez le lien "
                    "qui vous a été envoyé, puis reconnectez-vous avec FranceConnect."
                )
            )
        raise Refused(_("Ce compte Guichet est désactivé."))
    _check_audience(identity.provider, user)
    _touch(link)
    return user


def _check_audience(provider: str, user: User) -> None:
    if provider == OidcIdentity.Provider.FRANCECONNECT and user.is_staff_member:
        raise Refused(
            _("FranceConnect sert aux usagers : les agents se connectent avec ProConnect.")
        )
    if provider == OidcIdentity.Provider.PROCONNECT and not user.is_staff_member:
        raise Refused(_("ProConnect est réservé aux agents de l'administration."))


def identity_email(identity: Identity) -> str:
    return (identity.claims.get("email") or "").strip()


@transaction.atomic
def create_citizen(identity: Identity, *, mobile_phone: str = "") -> User:
    """A new citizen account from FranceConnect's identity (no password: they come back
    through FranceConnect, or set one with "mot de passe oublié")."""
    email = identity_email(identity)
    if not email:
        raise Refused(_("FranceConnect n'a pas transmis d'adresse électronique."))
    return _create_active_citizen(identity, email, mobile_phone)


def placeholder_email(identity: Identity) -> str:
    """The address of an account FranceConnect created without one, until the person's own
    address is verified (``User.email`` is unique and required): made from the ``sub``."""
    digest = hashlib.sha256(f"{identity.provider}:{identity.sub}".encode()).hexdigest()[:20]
    return f"{identity.provider}-{digest}@{services.PLACEHOLDER_DOMAIN}"


@transaction.atomic
def create_citizen_without_email(identity: Identity, *, email: str, mobile_phone: str = "") -> User:
    """FranceConnect gave no e-mail address: the account is created (and the person logged
    in) from the identity, with a placeholder address and e-mail alerts off; the address the
    person typed gets the e-mail change link (accounts.services.request_email_change). Opening
    it, logged in, gives the account that address and turns e-mail alerts on. An address that
    already has an account gets a notice instead: the answer is the same."""
    placeholder = placeholder_email(identity)
    if User.objects.filter(email__iexact=placeholder).exists():
        raise Refused(_("Cette identité est déjà liée à un compte Guichet."))
    user = _create_active_citizen(identity, placeholder, mobile_phone, notify_email=False)
    services.request_email_change(user, email)
    return user


def _create_active_citizen(
    identity: Identity, email: str, mobile_phone: str, *, notify_email: bool = True
) -> User:
    if User.objects.filter(email__iexact=email).exists():
        raise Refused(_("Un compte Guichet existe déjà avec cette adresse électronique."))
    user = User(
        username=email,
        email=email,
        first_name=(identity.claims.get("given_name") or "")[:150],
        last_name=(identity.claims.get("family_name") or "")[:150],
        role=User.Role.CITIZEN,
        mobile_phone=mobile_phone,
        notify_email=notify_email,
    )
    user.set_unusable_password()
    user.save()
    _create_link(identity, user)
    return user


@transaction.atomic
def link_citizen(identity: Identity, user: User) -> None:
    """Link FranceConnect to a local account whose password was just given."""
    _check_audience(identity.provider, user)
    if OidcIdentity.objects.filter(provider=identity.provider, user=user).exists():
        raise Refused(_("Ce compte Guichet est déjà lié à une autre identité FranceConnect."))
    _create_link(identity, user)


def _create_link(identity: Identity, user: User) -> OidcIdentity:
    try:
        with transaction.atomic():
            return OidcIdentity.objects.create(
                provider=identity.provider,
                sub=identity.sub,
                user=user,
                birthdate=parse_birthdate(identity.claims.get("birthdate")),
                last_login_at=timezone.now(),
            )
    except IntegrityError:  # the same identity, linked meanwhile by another request
        raise Refused(_("Cette identité est déjà liée à un compte Guichet.")) from None


@transaction.atomic
def staff_user(identity: Identity, *, require_verified_email: bool) -> User:
    """The staff member of a ProConnect login, or :class:`Refused`."""
    user = linked_user(identity)
    if user is not None:
        return user
    email = identity_email(identity)
    verified = identity.claims.get("email_verified") is True or not require_verified_email
    candidates = (
        User.objects.filter(email__iexact=email, is_active=True)
        .exclude(role=User.Role.CITIZEN, is_superuser=False)
        .exclude(oidc_identities__provider=identity.provider)
        if email and verified
        else User.objects.none()
    )
    user = candidates.first()
    if user is None:
        raise Refused(
            _(
                "Aucun compte agent actif ne correspond à cette identité ProConnect. "
                "Les comptes des agents sont créés par l'administrateur de Guichet."
            )
        )
    _create_link(identity, user)
    return user


def on_citizen_birthdate(sender, citizen_id, **kwargs) -> datetime.date | None:
    """The date of birth FranceConnect certified for the citizen (``citizen_birthdate``)."""
    return (
        OidcIdentity.objects.filter(
            user_id=citizen_id,
            provider=OidcIdentity.Provider.FRANCECONNECT,
            birthdate__isnull=False,
        )
        .values_list("birthdate", flat=True)
        .first()
    )
