"""Models of the messaging app: attachments of timeline messages and the notification outbox.

Messages themselves are ``contactcenter.Event`` rows (types message / request_info / note): the
case timeline is the single source of truth. This app only adds what messages carry (files) and
what they trigger (notifications to the citizen).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contactcenter.models import Case, Event


def attachment_path(instance: Attachment, filename: str) -> str:
    # Never the citizen's file name on disk: a random name under a dated folder.
    now = timezone.now()
    return f"attachments/{now:%Y/%m}/{instance.public_id.hex}.{instance.extension}"


class Attachment(models.Model):
    """A file attached to a message. Stored under MEDIA_ROOT (private), streamed by a view.

    ``event`` is empty while the file is a draft uploaded through the API and not yet sent with a
    message; drafts are visible only to their uploader and purged after a day.
    """

    class Kind(models.TextChoices):
        PDF = "application/pdf", "PDF"
        JPEG = "image/jpeg", "JPEG"
        PNG = "image/png", "PNG"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="attachments", null=True, blank=True
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    file = models.FileField(upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("nom du fichier"), max_length=200)
    content_type = models.CharField(max_length=32, choices=Kind.choices)
    size = models.PositiveIntegerField(_("taille"))
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("pièce jointe")
        verbose_name_plural = _("pièces jointes")
        indexes = [
            models.Index(fields=["event"], name="attachment_event"),
            models.Index(
                fields=["uploaded_by", "created_at"],
                name="attachment_draft",
                condition=Q(event__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.original_name

    @property
    def extension(self) -> str:
        return {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}.get(
            self.content_type, "bin"
        )

    @property
    def is_draft(self) -> bool:
        return self.event_id is None


class Notification(models.Model):
    """The outbox: one row per message to send to a citizen on one channel.

    Rows are written after the triggering transaction commits; a Celery task claims a row with a
    conditional update, sends it through the channel's transport and marks it sent. The
    idempotency key makes a duplicate signal a no-op; the claim makes a duplicate task a no-op.
    The text is fixed and content-free ("a new message is waiting" + link): never the message.
    """

    class NotificationChannel(models.TextChoices):
        EMAIL = "email", _("Courriel")
        SMS = "sms", _("SMS")

    class Status(models.TextChoices):
        PENDING = "pending", _("À envoyer")
        SENDING = "sending", _("En cours d'envoi")
        SENT = "sent", _("Envoyée")
        FAILED = "failed", _("Échec définitif")
        CANCELLED = "cancelled", _("Annulée")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    channel = models.CharField(max_length=8, choices=NotificationChannel.choices)
    kind = models.CharField(_("motif"), max_length=32)
    case = models.ForeignKey(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="notifications"
    )
    address = models.CharField(_("destinataire"), max_length=254)
    subject = models.CharField(_("objet"), max_length=200, blank=True)
    text = models.TextField(_("texte envoyé"))
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=128, unique=True)
    provider_id = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="notification_due",
                condition=Q(status="pending"),
            ),
            models.Index(
                fields=["claimed_at"], name="notification_sending", condition=Q(status="sending")
            ),
            models.Index(fields=["recipient", "-created_at"], name="notification_recipient"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.address} ({self.get_status_display()})"
