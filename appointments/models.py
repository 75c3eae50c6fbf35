"""Appointments: types offered by a service, agents' weekly availabilities and exceptions, and
the appointments booked (docs/appointments.md)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contactcenter.models import Case, Service, Topic


class Mode(models.TextChoices):
    ON_SITE = "on_site", _("Sur place, au guichet")
    PHONE = "phone", _("Par téléphone")
    VISIO = "visio", _("En visioconférence")


class AppointmentType(models.Model):
    """What a citizen can book: a topic of a service, in one mode, for a duration."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="appointment_types")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="appointment_types")
    mode = models.CharField(_("modalité"), max_length=16, choices=Mode.choices)
    duration_minutes = models.PositiveSmallIntegerField(_("durée (minutes)"), default=30)
    buffer_minutes = models.PositiveSmallIntegerField(
        _("battement après chaque rendez-vous (minutes)"), default=0
    )
    daily_capacity = models.PositiveSmallIntegerField(
        _("rendez-vous par conseiller et par jour"),
        default=0,
        help_text=_("0 : pas de limite autre que les disponibilités."),
    )
    min_notice_hours = models.PositiveSmallIntegerField(
        _("délai minimal de réservation (heures)"), default=2
    )
    horizon_days = models.PositiveSmallIntegerField(_("réservable sur (jours)"), default=30)
    cutoff_hours = models.PositiveSmallIntegerField(
        _("annulation ou déplacement possible jusqu'à (heures avant)"), default=24
    )
    address = models.TextField(_("adresse du guichet"), blank=True)
    documents = models.TextField(
        _("documents à apporter"), blank=True, help_text=_("Un document par ligne.")
    )
    is_active = models.BooleanField(_("actif"), default=True)

    class Meta:
        ordering = ["service", "topic__position", "topic__title", "mode"]
        verbose_name = _("type de rendez-vous")
        verbose_name_plural = _("types de rendez-vous")
        constraints = [
            models.UniqueConstraint(fields=["topic", "mode"], name="appointment_type_topic_mode")
        ]

    def __str__(self) -> str:
        return f"{self.topic.title} — {self.get_mode_display()}"

    def clean(self) -> None:
        if self.topic_id and self.service_id and self.topic.service_id != self.service_id:
            raise ValidationError({"topic": _("Ce thème appartient à un autre service.")})
        if self.mode == Mode.ON_SITE and not self.address.strip():
            raise ValidationError({"address": _("Indiquez l'adresse du guichet.")})
        if not self.duration_minutes:
            raise ValidationError({"duration_minutes": _("La durée doit être positive.")})

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    @property
    def step(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes + self.buffer_minutes)

    @property
    def document_list(self) -> list[str]:
        return [line.strip() for line in self.documents.splitlines() if line.strip()]


class Availability(models.Model):
    """A recurring weekly range when an agent receives appointments of a service."""

    WEEKDAYS = [
        (0, _("lundi")),
        (1, _("mardi")),
        (2, _("mercredi")),
        (3, _("jeudi")),
        (4, _("vendredi")),
        (5, _("samedi")),
        (6, _("dimanche")),
    ]

    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="availabilities"
    )
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="availabilities")
    weekday = models.PositiveSmallIntegerField(_("jour"), choices=WEEKDAYS)
    start = models.TimeField(_("début"))
    end = models.TimeField(_("fin"))
    modes = models.CharField(
        _("modalités"),
        max_length=64,
        blank=True,
        help_text=_("Vide : toutes. Sinon, liste séparée par des virgules (on_site,phone,visio)."),
    )

    class Meta:
        ordering = ["agent", "weekday", "start"]
        verbose_name = _("disponibilité")
        verbose_name_plural = _("disponibilités")
        indexes = [models.Index(fields=["service", "weekday"], name="availability_service_day")]

    def __str__(self) -> str:
        return f"{self.agent} {self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"

    def clean(self) -> None:
        if self.start and self.end and self.end <= self.start:
            raise ValidationError({"end": _("La fin doit suivre le début.")})

    def allows(self, mode: str) -> bool:
        return not self.modes.strip() or mode in {m.strip() for m in self.modes.split(",")}


class AvailabilityException(models.Model):
    """An agent away (a whole day when no times are given): no appointment then."""

    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="availability_exceptions"
    )
    day = models.DateField(_("jour"))
    start = models.TimeField(_("début"), null=True, blank=True)
    end = models.TimeField(_("fin"), null=True, blank=True)
    reason = models.CharField(_("motif"), max_length=120, blank=True)

    class Meta:
        ordering = ["day", "start"]
        verbose_name = _("indisponibilité")
        verbose_name_plural = _("indisponibilités")
        indexes = [models.Index(fields=["agent", "day"], name="availability_exc_agent_day")]

    def __str__(self) -> str:
        return f"{self.agent} {self.day}"

    def clean(self) -> None:
        if (self.start is None) != (self.end is None):
            raise ValidationError(_("Indiquez le début et la fin, ou aucun des deux."))
        if self.start and self.end and self.end <= self.start:
            raise ValidationError({"end": _("La fin doit suivre le début.")})


class Appointment(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", _("Confirmé")
        CANCELLED = "cancelled", _("Annulé")
        ATTENDED = "attended", _("Honoré")
        NO_SHOW = "no_show", _("Absence")

    # Statuses that hold the agent's time: a no-show frees nothing retroactively.
    HOLDING = (Status.BOOKED, Status.ATTENDED, Status.NO_SHOW)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    mode = models.CharField(_("modalité"), max_length=16, choices=Mode.choices)
    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointments"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="agent_appointments"
    )
    case = models.ForeignKey(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="appointments"
    )
    start = models.DateTimeField(_("début"))
    end = models.DateTimeField(_("fin"))
    # The agent's time held, buffer included: what overlap checks compare.
    busy_until = models.DateTimeField()
    status = models.CharField(
        _("état"), max_length=16, choices=Status.choices, default=Status.BOOKED
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    marked_at = models.DateTimeField(null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    reminded_day_at = models.DateTimeField(null=True, blank=True)
    reminded_hour_at = models.DateTimeField(null=True, blank=True)
    # When the agent's workstation was asked to open the citizen's file (5 minutes before).
    panel_opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["start", "id"]
        verbose_name = _("rendez-vous")
        verbose_name_plural = _("rendez-vous")
        constraints = [
            # Backstop of the locked overlap check: one holding appointment per agent and start.
            models.UniqueConstraint(
                fields=["agent", "start"],
                condition=Q(status__in=["booked", "attended", "no_show"]),
                name="appointment_agent_start_once",
            )
        ]
        indexes = [
            models.Index(fields=["agent", "start"], name="appointment_agent_start"),
            models.Index(fields=["citizen", "start"], name="appointment_citizen_start"),
            models.Index(
                fields=["start"],
                name="appointment_booked_start",
                condition=Q(status="booked"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.start:%Y-%m-%d %H:%M}"

    @property
    def is_booked(self) -> bool:
        return self.status == self.Status.BOOKED

    def cutoff(self):
        return self.start - timedelta(hours=self.type.cutoff_hours)

    def changeable(self, now=None) -> bool:
        return self.is_booked and (now or timezone.now()) < self.cutoff()
