"""Démarches: procedures handled by other information systems (a passport application, a tax
correction, a scholarship file) whose status those systems push through the API, shown to the
citizen in "Mes démarches" and to agents in the citizen panel (docs/demarches.md)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

MAX_ACTION_REMINDERS = 2


class DemarcheType(models.Model):
    """A kind of procedure of one service, with its ordered steps."""

    service = models.ForeignKey(
        "contactcenter.Service", on_delete=models.PROTECT, related_name="demarche_types"
    )
    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("nom"), max_length=120)
    name_en = models.CharField(_("nom (anglais)"), max_length=120, blank=True)
    is_active = models.BooleanField(_("actif"), default=True)
    # "Action attendue" reminders: N days after the step expecting the citizen, then N days
    # after the first reminder (at most MAX_ACTION_REMINDERS).
    action_reminder_days = models.PositiveSmallIntegerField(
        _("relance après (jours)"),
        default=0,
        help_text=_("Jours sans action de l'usager avant une relance. 0 : jamais."),
    )
    action_reminders = models.PositiveSmallIntegerField(
        _("nombre de relances"),
        default=0,
        validators=[MaxValueValidator(MAX_ACTION_REMINDERS)],
        help_text=_("2 au plus."),
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(action_reminders__lte=MAX_ACTION_REMINDERS),
                name="demarche_type_reminders_max",
            )
        ]
        verbose_name = _("type de démarche")
        verbose_name_plural = _("types de démarche")

    def __str__(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        """The name in the active language (French when no English name is given)."""
        if translation.get_language() == "en" and self.name_en:
            return self.name_en
        return self.name


class DemarcheTypeStep(models.Model):
    """One step of a type. A step that needs the citizen's action shows "Action possible :
    <action label>" with a link: ``action_url`` (``{reference}`` is replaced by the démarche's
    external reference), or, when empty, the form to send a document in the space."""

    type = models.ForeignKey(DemarcheType, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("ordre"), default=0)
    code = models.SlugField(_("code"), max_length=64)
    label = models.CharField(_("libellé"), max_length=120)
    label_en = models.CharField(_("libellé (anglais)"), max_length=120, blank=True)
    requires_action = models.BooleanField(_("action attendue de l'usager"), default=False)
    action_label = models.CharField(_("libellé de l'action"), max_length=120, blank=True)
    action_label_en = models.CharField(
        _("libellé de l'action (anglais)"), max_length=120, blank=True
    )
    action_url = models.CharField(
        _("lien de l'action"),
        max_length=300,
        blank=True,
        help_text=_(
            "« {reference} » est remplacé par la référence de la démarche. Vide : l'usager "
            "envoie un document depuis son espace."
        ),
    )

    class Meta:
        ordering = ["type", "position", "id"]
        verbose_name = _("étape")
        verbose_name_plural = _("étapes")
        constraints = [
            models.UniqueConstraint(fields=["type", "code"], name="demarche_step_code"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def text(self) -> str:
        if translation.get_language() == "en" and self.label_en:
            return self.label_en
        return self.label

    @property
    def action_text(self) -> str:
        if translation.get_language() == "en" and self.action_label_en:
            return self.action_label_en
        return self.action_label


class Demarche(models.Model):
    """One citizen's procedure, created and moved by the API client that owns it. The
    external reference (the business system's own) is unique per client and type."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="demarches"
    )
    type = models.ForeignKey(DemarcheType, on_delete=models.PROTECT, related_name="demarches")
    client = models.ForeignKey(
        "accounts.ApiClient", on_delete=models.PROTECT, related_name="demarches"
    )
    external_reference = models.CharField(_("référence"), max_length=64)
    current_step = models.ForeignKey(
        DemarcheTypeStep, on_delete=models.PROTECT, related_name="+", verbose_name=_("étape")
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(_("terminée le"), null=True, blank=True)
    # When the current step was reached, and the "action attendue" reminders sent since.
    step_reached_at = models.DateTimeField(null=True, blank=True)
    action_reminders_sent = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("démarche")
        verbose_name_plural = _("démarches")
        constraints = [
            models.UniqueConstraint(
                fields=["client", "type", "external_reference"], name="demarche_reference"
            ),
        ]
        indexes = [models.Index(fields=["citizen", "-updated_at"], name="demarche_citizen")]

    def __str__(self) -> str:
        return f"{self.type.code}/{self.external_reference}"

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    @property
    def action_url(self) -> str:
        step = self.current_step
        if self.is_closed or not step.requires_action or not step.action_url:
            return ""
        return step.action_url.replace("{reference}", self.external_reference)

    @property
    def accepts_document(self) -> bool:
        step = self.current_step
        return not self.is_closed and step.requires_action and not step.action_url


def document_path(instance: DemarcheStep, filename: str) -> str:
    # Never the sender's file name on disk.
    now = timezone.now()
    return f"demarches/{now:%Y/%m}/{uuid.uuid4().hex}.{instance.document_extension}"


class DemarcheStep(models.Model):
    """The history of a démarche: its creation, each step reached, a document added (by the
    business system or the citizen) and its end, with the date, an optional note and who did
    it (the API client's technical account, or the citizen). The audit trail of its writes."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Création")
        STEP = "step", _("Changement d'étape")
        DOCUMENT = "document", _("Document du service")
        CITIZEN_DOCUMENT = "citizen_document", _("Document de l'usager")
        CLOSED = "closed", _("Fin de la démarche")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    demarche = models.ForeignKey(Demarche, on_delete=models.CASCADE, related_name="history")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    step = models.ForeignKey(
        DemarcheTypeStep, on_delete=models.PROTECT, related_name="+", verbose_name=_("étape")
    )
    note = models.TextField(_("note"), blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    document = models.FileField(upload_to=document_path, max_length=200, blank=True)
    document_name = models.CharField(_("nom du fichier"), max_length=200, blank=True)
    document_type = models.CharField(max_length=32, blank=True)
    document_size = models.PositiveIntegerField(null=True, blank=True)
    document_sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(_("date"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("historique de démarche")
        verbose_name_plural = _("historiques de démarche")
        indexes = [models.Index(fields=["demarche", "created_at"], name="demarche_history")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.step.code}"

    @property
    def document_extension(self) -> str:
        return {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}.get(
            self.document_type, "bin"
        )
