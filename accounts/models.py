"""Accounts: what the core User model does not hold."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, TimestampMixin


class PendingVerification(models.Model):
    """A local account created by sign-up whose e-mail address is not verified yet: the user is
    inactive while this row exists. Tells an unverified account from one an administrator
    deactivated (a sign-up with the address of the former resends the link). ``link_sent_at``
    is when the last link was mailed: once it is older than the links' lifetime the account is
    purged (``accounts.services.purge_unverified``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pending_verification"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    link_sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("compte en attente de vérification")
        verbose_name_plural = _("comptes en attente de vérification")

    def __str__(self) -> str:
        return self.user.email


class ApiClient(models.Model):
    """Another information system calling the API with OAuth2 client credentials: its
    django-oauth-toolkit application (client id, hashed secret), the services whose cases it
    sees, and the scopes it may ask for. ``account`` is its technical user (inactive, no
    password): the actor of its audit records."""

    class Scope(models.TextChoices):
        CASES_READ = "cases:read", _("Lire les demandes de ses services")
        CASES_WRITE = "cases:write", _("Modifier les demandes (réservé)")
        WEBHOOKS = "webhooks", _("Recevoir des notifications (réservé)")

    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="api_client",
    )
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_client"
    )
    services = models.ManyToManyField("contactcenter.Service", related_name="api_clients")
    scopes = models.JSONField(_("portées"), default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(_("révoqué le"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("dernier usage"), null=True, blank=True)

    class Meta:
        verbose_name = _("client de l'API")
        verbose_name_plural = _("clients de l'API")

    def __str__(self) -> str:
        return self.application.name


class OidcIdentity(models.Model):
    """A person's identity at an OpenID Connect provider (FranceConnect, ProConnect): the
    provider's ``sub`` names them for good, whatever their e-mail address becomes."""

    class Provider(models.TextChoices):
        FRANCECONNECT = "franceconnect", "FranceConnect"
        PROCONNECT = "proconnect", "ProConnect"

    provider = models.CharField(_("fournisseur d'identité"), max_length=32, choices=Provider)
    sub = models.CharField(_("identifiant chez le fournisseur"), max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identities"
    )
    # From FranceConnect's identity (its "pivot identity"): the User model has no such field.
    birthdate = models.DateField(_("date de naissance"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("identité fédérée")
        verbose_name_plural = _("identités fédérées")
        constraints = [
            models.UniqueConstraint(fields=["provider", "sub"], name="oidc_identity_sub"),
            models.UniqueConstraint(fields=["provider", "user"], name="oidc_identity_user"),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.sub}"


class PasskeyDevice(TimestampMixin, Device):
    """A passkey (WebAuthn credential: a security key, the phone or the computer's own
    authenticator) used as a second factor, a django-otp device like the TOTP application.
    Verified by ``accounts.passkeys`` (a signed challenge, not a typed code)."""

    credential_id = models.BinaryField(_("identifiant de la clé"), max_length=1023)
    # Hash of the credential id, to find it and to keep it unique (a binary field cannot be).
    credential_hash = models.CharField(max_length=64, unique=True, editable=False)
    public_key = models.BinaryField(_("clé publique (COSE)"))
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    backed_up = models.BooleanField(_("sauvegardée (synchronisée)"), default=False)

    class Meta:
        verbose_name = _("clé d'accès")
        verbose_name_plural = _("clés d'accès")

    def verify_token(self, token) -> bool:
        """A passkey answers a challenge (``accounts.passkeys.authenticate``), never a code."""
        return False
