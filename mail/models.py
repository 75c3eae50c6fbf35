"""The e-mail channel: functional mailboxes, the messages imported from or sent through them,
their accepted attachments, and the quarantine of messages that could not be read."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contactcenter.models import Case, Event, Service, Topic

# The technical account holding the cases of senders who are not (yet) known citizens.
UNIDENTIFIED_SENDER_EMAIL = "expediteur-non-identifie@guichet.invalid"


class Mailbox(models.Model):
    """A service's functional address, read over IMAP. The password is never stored: the row
    names the environment variable that holds it."""

    class Security(models.TextChoices):
        SSL = "ssl", _("IMAPS (TLS dès la connexion, port 993)")
        STARTTLS = "starttls", _("STARTTLS (port 143)")
        NONE = "none", _("Aucun chiffrement (boucle locale et tests uniquement)")

    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="mailboxes", verbose_name=_("service")
    )
    address = models.EmailField(_("adresse fonctionnelle"), unique=True)
    default_topic = models.ForeignKey(
        Topic,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("thème par défaut"),
        help_text=_("Thème des nouvelles demandes, jusqu'à ce qu'un agent les reclasse."),
    )
    host = models.CharField(_("serveur IMAP"), max_length=255)
    port = models.PositiveIntegerField(_("port"), default=993)
    security = models.CharField(
        _("chiffrement"), max_length=8, choices=Security.choices, default=Security.SSL
    )
    login = models.CharField(_("identifiant"), max_length=255)
    password_env = models.CharField(
        _("variable d'environnement du mot de passe"),
        max_length=100,
        help_text=_(
            "Nom de la variable (ex. MAIL_IMPOTS_PASSWORD) ; le mot de passe n'est "
            "jamais enregistré en base."
        ),
    )
    folder = models.CharField(_("dossier"), max_length=255, default="INBOX")
    poll_interval = models.PositiveIntegerField(_("intervalle de relève (secondes)"), default=60)
    enabled = models.BooleanField(_("active"), default=True)
    last_polled_at = models.DateTimeField(_("dernière relève"), null=True, blank=True)
    last_error = models.TextField(_("dernière erreur"), blank=True)
    # A poll holds the mailbox until this time: two workers never read it at once.
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("boîte fonctionnelle")
        verbose_name_plural = _("boîtes fonctionnelles")
        ordering = ["address"]

    def __str__(self) -> str:
        return self.address

    def clean(self) -> None:
        super().clean()
        if (
            self.default_topic_id
            and self.service_id
            and self.default_topic.service_id != self.service_id
        ):
            raise ValidationError(
                {"default_topic": _("Le thème doit appartenir au service de la boîte.")}
            )


class MailMessage(models.Model):
    """One e-mail received from or sent to a citizen, kept with its original source.

    ``key`` (the Message-ID's hash, or the source's hash when there is none) is unique per
    mailbox: a message fetched twice is imported once."""

    class Direction(models.TextChoices):
        INBOUND = "in", _("Reçu")
        OUTBOUND = "out", _("Envoyé")

    class Status(models.TextChoices):
        IMPORTED = "imported", _("Importé")
        IGNORED = "ignored", _("Ignoré (réponse automatique)")
        PENDING = "pending", _("À envoyer")
        SENDING = "sending", _("En cours d'envoi")
        SENT = "sent", _("Envoyé")
        FAILED = "failed", _("Échec définitif")
        BOUNCED = "bounced", _("Non remis (avis de non-remise)")
        BOUNCE = "bounce", _("Avis de non-remise")

    class Kind(models.TextChoices):
        MESSAGE = "message", _("Message")
        ACKNOWLEDGEMENT = "ack", _("Accusé de réception")
        NOTICE = "notice", _("Avis automatique")

    mailbox = models.ForeignKey(Mailbox, on_delete=models.PROTECT, related_name="messages")
    direction = models.CharField(_("sens"), max_length=3, choices=Direction.choices)
    status = models.CharField(_("état"), max_length=10, choices=Status.choices)
    kind = models.CharField(_("nature"), max_length=8, choices=Kind.choices, default=Kind.MESSAGE)
    key = models.CharField(max_length=64, editable=False)
    message_id = models.TextField(_("Message-ID"), blank=True)
    in_reply_to = models.TextField(blank=True)
    references = models.TextField(blank=True)
    sender = models.EmailField(_("expéditeur"), max_length=254, blank=True)
    recipient = models.EmailField(_("destinataire"), max_length=254, blank=True)
    subject = models.CharField(_("objet"), max_length=998, blank=True)
    case = models.ForeignKey(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="mail_messages"
    )
    event = models.ForeignKey(
        Event, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    automatic = models.BooleanField(_("message automatique"), default=False)
    # The receiving server's verdict on the sender of a received message (mail.authentication):
    # unknown (None) for sent messages and for those received before it was read.
    sender_verified = models.BooleanField(_("expéditeur vérifié"), null=True, blank=True)
    body = models.TextField(_("texte complet"), blank=True)
    refused_attachments = models.JSONField(_("pièces jointes refusées"), default=list, blank=True)
    raw = models.BinaryField(_("source"), blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("courriel")
        verbose_name_plural = _("courriels")
        ordering = ["-created_at", "-id"]
        constraints = [
            # Key first: threading looks Message-IDs up by key whatever the mailbox.
            models.UniqueConstraint(fields=["key", "mailbox"], name="mail_message_once"),
            # One acknowledgement per case, whatever the retries and the workers.
            models.UniqueConstraint(
                fields=["case"], condition=models.Q(kind="ack"), name="mail_ack_once"
            ),
        ]
        indexes = [
            models.Index(fields=["case", "created_at"], name="mail_message_case"),
            models.Index(
                fields=["next_attempt_at"],
                name="mail_outbound_pending",
                condition=models.Q(status="pending"),
            ),
            # The per-sender rate limit of the automatic messages.
            models.Index(
                fields=["recipient", "created_at"],
                name="mail_automatic_to",
                condition=~models.Q(kind="message"),
            ),
        ]

    def __str__(self) -> str:
        return self.subject or self.message_id


def mail_attachment_path(instance: MailAttachment, filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    now = timezone.now()
    return f"attachments/{now:%Y/%m}/{uuid.uuid4()}.{ext}"


class MailAttachment(models.Model):
    """An attachment that passed the core's content checks (the bytes stored are the checked
    ones: re-encoded image, validated PDF)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    message = models.ForeignKey(MailMessage, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=mail_attachment_path, max_length=200)
    original_name = models.CharField(_("nom"), max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("pièce jointe de courriel")
        verbose_name_plural = _("pièces jointes de courriel")

    def __str__(self) -> str:
        return self.original_name


class QuarantinedMail(models.Model):
    """A message that could not be read: kept with its source, never dropped. Staff of the
    mailbox's service release it onto a case or delete it (its source is then erased); who and
    when is kept on the row."""

    class Status(models.TextChoices):
        PENDING = "pending", _("À traiter")
        RELEASED = "released", _("Libéré sur une demande")
        DELETED = "deleted", _("Supprimé")

    mailbox = models.ForeignKey(Mailbox, on_delete=models.PROTECT, related_name="quarantine")
    key = models.CharField(max_length=64, editable=False)
    uid = models.PositiveBigIntegerField(_("UID IMAP"), null=True, blank=True)
    error = models.TextField(_("motif"))
    raw = models.BinaryField(_("source"))
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        _("état"), max_length=8, choices=Status.choices, default=Status.PENDING
    )
    handled_by = models.ForeignKey(
        "contactcenter.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    case = models.ForeignKey(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("courriel en quarantaine")
        verbose_name_plural = _("courriels en quarantaine")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "key"], name="mail_quarantine_once")
        ]

    def __str__(self) -> str:
        return f"{self.mailbox} #{self.uid or '?'}"


class WebhookToken(models.Model):
    """A signed push from the inbound provider, by its one-time token: the same token with the
    same message is a retry (imported once by its Message-ID), with another message a replay
    of a stolen signature (refused)."""

    token = models.CharField(max_length=200, unique=True)
    digest = models.CharField(max_length=64)  # SHA-256 of the message's source
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("jeton de webhook entrant")
        verbose_name_plural = _("jetons de webhook entrant")

    def __str__(self) -> str:
        return self.token
