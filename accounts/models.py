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
        WEBHOOKS = "webhooks", _("Recevoir des notifications (webhooks)")
        DEMARCHES_WRITE = "demarches:write", _("Créer et faire avancer des démarches")

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


class WebhookEndpoint(models.Model):
    """Where an API client holding the ``webhooks`` scope receives the events of its services'
    cases (``accounts.webhooks``). The secret signs each delivery (Standard Webhooks,
    ``whsec_`` + base64): it is shown once at creation and never displayed again; it is kept
    as is because signing needs it."""

    class EventType(models.TextChoices):
        CASE_CREATED = "case.created", _("Demande créée")
        CASE_STATUS_CHANGED = "case.status_changed", _("Statut d'une demande modifié")
        CASE_ASSIGNED = "case.assigned", _("Demande attribuée à un agent")
        CASE_CLOSED = "case.closed", _("Demande clôturée")
        MESSAGE_RECEIVED = "message.received", _("Message reçu de l'usager")
        DEMARCHE_CREATED = "demarche.created", _("Démarche créée")
        DEMARCHE_STEP_CHANGED = "demarche.step_changed", _("Démarche passée à une autre étape")
        DEMARCHE_DOCUMENT_RECEIVED = (
            "demarche.document_received",
            _("Document envoyé par l'usager pour une démarche"),
        )
        DEMARCHE_CLOSED = "demarche.closed", _("Démarche terminée")

    client = models.ForeignKey(
        ApiClient, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(_("adresse"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    secret = models.CharField(max_length=100, editable=False)
    events = models.JSONField(_("événements"), default=list)
    is_active = models.BooleanField(_("actif"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Failed attempts in a row (reset by a success); past GUICHET_WEBHOOK_DISABLE_AFTER the
    # endpoint is disabled and the administrators alerted (accounts.webhook_health).
    consecutive_failures = models.PositiveIntegerField(_("échecs consécutifs"), default=0)
    disabled_at = models.DateTimeField(_("désactivé automatiquement le"), null=True, blank=True)
    disabled_reason = models.CharField(_("raison de la désactivation"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("point de réception de webhooks")
        verbose_name_plural = _("points de réception de webhooks")

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """The webhook outbox: one event for one endpoint. Written in the transaction of the change
    (``case.assigned``: right after routing's commit), sent by ``accounts.tasks.deliver_webhook``
    after commit, retried with backoff. ``webhook_id`` is the same at every attempt: receivers
    deduplicate on it. ``body`` is the JSON sent, fixed when the row is written."""

    class Status(models.TextChoices):
        PENDING = "pending", _("À envoyer")
        SENDING = "sending", _("En cours d'envoi")
        DELIVERED = "delivered", _("Reçue")
        FAILED = "failed", _("Échec définitif")
        CANCELLED = "cancelled", _("Annulée")

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    webhook_id = models.CharField(_("identifiant"), max_length=64, unique=True)
    event_type = models.CharField(_("événement"), max_length=32)
    # What produced the event ("event:<id>", "case:<id>:created"...): one row per endpoint.
    source_key = models.CharField(max_length=128)
    body = models.TextField(_("contenu envoyé"))
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(_("reçue le"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("dernier code HTTP"), null=True)
    last_error = models.TextField(_("dernière erreur"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("envoi de webhook")
        verbose_name_plural = _("envois de webhooks")
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "source_key", "event_type"], name="webhook_delivery_source"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(
                fields=["claimed_at"],
                name="webhook_delivery_sending",
                condition=models.Q(status="sending"),
            ),
            models.Index(
                fields=["endpoint", "status"],
                name="webhook_delivery_failed",
                condition=models.Q(status="failed"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_id}"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: what the receiver answered, never the headers sent
    (the signature) nor the response body."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveSmallIntegerField(_("tentative"))
    started_at = models.DateTimeField(_("début"))
    duration_ms = models.PositiveIntegerField(_("durée (ms)"))
    status_code = models.PositiveSmallIntegerField(_("code HTTP"), null=True)
    error = models.CharField(_("erreur"), max_length=500, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        verbose_name = _("tentative d'envoi")
        verbose_name_plural = _("tentatives d'envoi")

    def __str__(self) -> str:
        return f"#{self.number} {self.status_code or self.error}"
