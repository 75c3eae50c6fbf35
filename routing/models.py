"""Routing: agent presence and capacity, opening hours, SLA policies, callback requests.

Queues are not a table: a queue is the set of open, unassigned cases of one service and skill
(``Case.status == new`` and ``assigned_to is None``), ordered by channel, head-of-queue priority,
fragility, SLA deadline and arrival. The assignment engine lives in ``routing.engine``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contactcenter.models import Case, Channel, Service

# Capacity bounds. The issue bounds supervisor edits to 0-10 for chat and phone; web messages
# default to 15 open cases, so their bound is 0-50 (documented in docs/routing.md).
CAPACITY_DEFAULTS = {"chat": 2, "phone": 1, "web": 15}
CAPACITY_MAX = {"chat": 10, "phone": 10, "web": 50}


class AgentPresence(models.Model):
    """One row per agent: chosen status, heartbeat, idle clock and capacity per channel.

    The row is also the agent's assignment lock: every path that gives a case to an agent locks
    it first (``select_for_update``), so the load count that follows cannot be raced.
    """

    class Status(models.TextChoices):
        AVAILABLE = "available", _("Disponible")
        PAUSED = "paused", _("En pause")
        OFFLINE = "offline", _("Hors ligne")

    class PauseReason(models.TextChoices):
        MEAL = "meal", _("Repas")
        MEETING = "meeting", _("Réunion")
        TRAINING = "training", _("Formation")
        BACK_OFFICE = "back_office", _("Tâches administratives")
        OTHER = "other", _("Autre")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="presence",
        verbose_name=_("agent"),
    )
    status = models.CharField(
        _("statut"), max_length=16, choices=Status.choices, default=Status.OFFLINE
    )
    status_since = models.DateTimeField(_("depuis"), default=timezone.now)
    # Why the agent paused (shown to supervisors); empty unless the status is "paused".
    pause_reason = models.CharField(
        _("motif de la pause"), max_length=16, choices=PauseReason.choices, blank=True
    )
    last_heartbeat = models.DateTimeField(_("dernier signal"), null=True, blank=True)
    # Set when the presence sweep (not the agent) switched the agent offline: the next
    # heartbeat then restores ``resume_status``.
    auto_offline = models.BooleanField(default=False)
    resume_status = models.CharField(max_length=16, choices=Status.choices, blank=True)
    # Longest idle first: reset when the agent becomes available and on each assignment.
    idle_since = models.DateTimeField(default=timezone.now)
    capacity_chat = models.PositiveSmallIntegerField(
        _("capacité tchat"),
        default=CAPACITY_DEFAULTS["chat"],
        validators=[MinValueValidator(0), MaxValueValidator(CAPACITY_MAX["chat"])],
    )
    capacity_phone = models.PositiveSmallIntegerField(
        _("capacité téléphone et rappels"),
        default=CAPACITY_DEFAULTS["phone"],
        validators=[MinValueValidator(0), MaxValueValidator(CAPACITY_MAX["phone"])],
    )
    capacity_web = models.PositiveSmallIntegerField(
        _("capacité messagerie"),
        default=CAPACITY_DEFAULTS["web"],
        validators=[MinValueValidator(0), MaxValueValidator(CAPACITY_MAX["web"])],
    )

    class Meta:
        verbose_name = _("présence d'agent")
        verbose_name_plural = _("présences d'agents")
        indexes = [models.Index(fields=["status", "idle_since"], name="presence_status_idle")]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_status_display()}"

    def capacity_for(self, group: str) -> int:
        return getattr(self, f"capacity_{group}")


class OpeningHours(models.Model):
    """One weekly opening range of a service (several per day allowed, never overlapping)."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Lundi")
        TUESDAY = 1, _("Mardi")
        WEDNESDAY = 2, _("Mercredi")
        THURSDAY = 3, _("Jeudi")
        FRIDAY = 4, _("Vendredi")
        SATURDAY = 5, _("Samedi")
        SUNDAY = 6, _("Dimanche")

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="opening_hours", verbose_name=_("service")
    )
    weekday = models.PositiveSmallIntegerField(_("jour"), choices=Weekday.choices)
    start = models.TimeField(_("ouverture"))
    end = models.TimeField(_("fermeture"), help_text=_("23:59 signifie jusqu'à minuit."))
    on_holidays = models.BooleanField(
        _("ouvert les jours fériés"),
        default=False,
        help_text=_("Sinon la plage est fermée les jours fériés nationaux."),
    )

    class Meta:
        ordering = ["service", "weekday", "start"]
        verbose_name = _("horaire d'ouverture")
        verbose_name_plural = _("horaires d'ouverture")
        constraints = [
            models.CheckConstraint(
                condition=Q(start__lt=models.F("end")), name="opening_start_lt_end"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"

    def clean(self):
        super().clean()
        if self.start is None or self.end is None:
            return
        if self.start >= self.end:
            raise ValidationError(
                {"end": _("L'heure de fermeture doit être postérieure à l'heure d'ouverture.")}
            )
        if self.service_id is None or self.weekday is None:
            return
        overlapping = (
            OpeningHours.objects.filter(
                service_id=self.service_id,
                weekday=self.weekday,
                start__lt=self.end,
                end__gt=self.start,
            )
            .exclude(pk=self.pk)
            .first()
        )
        if overlapping is not None:
            raise ValidationError(
                _("Cette plage chevauche la plage %(start)s–%(end)s déjà définie pour ce jour.")
                % {
                    "start": overlapping.start.strftime("%H:%M"),
                    "end": overlapping.end.strftime("%H:%M"),
                }
            )


class Closure(models.Model):
    """Exceptional closure (bridge day, training...) of one service or of every service."""

    service = models.ForeignKey(
        Service,
        on_delete=models.CASCADE,
        related_name="closures",
        null=True,
        blank=True,
        verbose_name=_("service"),
        help_text=_("Laissez vide pour fermer tous les services."),
    )
    start_date = models.DateField(_("premier jour fermé"))
    end_date = models.DateField(_("dernier jour fermé"))
    reason = models.CharField(_("motif"), max_length=200)

    class Meta:
        ordering = ["start_date"]
        verbose_name = _("fermeture exceptionnelle")
        verbose_name_plural = _("fermetures exceptionnelles")
        constraints = [
            models.CheckConstraint(
                condition=Q(start_date__lte=models.F("end_date")), name="closure_dates_ordered"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reason} ({self.start_date:%d/%m/%Y}–{self.end_date:%d/%m/%Y})"

    def clean(self):
        super().clean()
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise ValidationError(
                {"end_date": _("Le dernier jour fermé doit suivre ou égaler le premier.")}
            )


class SlaPolicy(models.Model):
    """Response target for a channel (and optionally a kind, a service) in business time.

    Lookup order: service + channel + kind, service + channel, channel + kind, channel; then the
    built-in defaults of ``routing.sla.DEFAULT_TARGETS``.
    """

    class Unit(models.TextChoices):
        MINUTES = "minutes", _("minutes ouvrées")
        HOURS = "hours", _("heures ouvrées")
        DAYS = "days", _("jours ouvrés")

    service = models.ForeignKey(
        Service,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_policies",
        verbose_name=_("service"),
        help_text=_("Laissez vide pour tous les services."),
    )
    channel = models.CharField(_("canal"), max_length=16, choices=Channel.choices)
    kind = models.CharField(
        _("nature"),
        max_length=16,
        choices=Case.Kind.choices,
        blank=True,
        help_text=_("Laissez vide pour toutes les natures."),
    )
    amount = models.PositiveIntegerField(
        _("délai"), validators=[MinValueValidator(1), MaxValueValidator(10_000)]
    )
    unit = models.CharField(_("unité"), max_length=8, choices=Unit.choices)

    class Meta:
        verbose_name = _("objectif de délai")
        verbose_name_plural = _("objectifs de délai")
        constraints = [
            models.UniqueConstraint(
                fields=["service", "channel", "kind"],
                condition=Q(service__isnull=False),
                name="sla_policy_unique_service",
                violation_error_message=_(
                    "Un objectif existe déjà pour ce service, ce canal et cette nature."
                ),
            ),
            models.UniqueConstraint(
                fields=["channel", "kind"],
                condition=Q(service__isnull=True),
                name="sla_policy_unique_default",
                violation_error_message=_(
                    "Un objectif existe déjà pour ce canal et cette nature (tous services)."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} : {self.amount} {self.get_unit_display()}"


class CallbackRequest(models.Model):
    """A citizen's request to be called back at a booked slot (webcallback)."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Programmé")
        REACHED = "reached", _("Usager joint")
        FAILED = "failed", _("Usager injoignable")
        CANCELLED = "cancelled", _("Annulé")

    MAX_ATTEMPTS = 3

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="callback")
    phone = models.CharField(_("téléphone"), max_length=20)
    slot_start = models.DateTimeField(_("début du créneau"))
    slot_end = models.DateTimeField(_("fin du créneau"))
    status = models.CharField(
        _("état"), max_length=16, choices=Status.choices, default=Status.SCHEDULED
    )
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["slot_start"]
        verbose_name = _("demande de rappel")
        verbose_name_plural = _("demandes de rappel")
        indexes = [models.Index(fields=["status", "slot_start"], name="callback_status_slot")]

    def __str__(self) -> str:
        return f"{self.case.reference} — {self.slot_start:%d/%m/%Y %H:%M}"

    @property
    def is_scheduled(self) -> bool:
        return self.status == self.Status.SCHEDULED


class Team(models.Model):
    """A team of agents of one service, whose members its supervisors choose (console
    ``/console/equipes/``, or the admin). The dashboard shows the satisfaction of the contacts
    its members handled (``routing.team_kpis``). An agent may belong to several teams."""

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="teams", verbose_name=_("service")
    )
    name = models.CharField(_("nom"), max_length=80)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="teams", blank=True, verbose_name=_("membres")
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["service", "name"]
        verbose_name = _("équipe")
        verbose_name_plural = _("équipes")
        constraints = [models.UniqueConstraint(fields=["service", "name"], name="team_unique_name")]

    def __str__(self) -> str:
        return self.name
