"""Co-browsing sessions.

A session row holds who, when, how it ended and the paths of the pages seen. Nothing of the
page itself (DOM, text, typed values) is ever written anywhere: frames only transit through the
channel layer from the citizen's socket to the agent's.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CobrowseSession(models.Model):
    class Status(models.TextChoices):
        WAITING_CODE = "waiting_code", _("Code en attente d'un agent")
        OFFERED = "offered", _("En attente de l'accord de l'usager")
        ACTIVE = "active", _("En cours")
        ENDED = "ended", _("Terminée")
        DECLINED = "declined", _("Refusée par l'usager")
        EXPIRED = "expired", _("Expirée")

    LIVE_STATUSES = (Status.WAITING_CODE, Status.OFFERED, Status.ACTIVE)

    class Origin(models.TextChoices):
        CODE = "code", _("Code communiqué par l'usager")
        INVITATION = "invitation", _("Invitation de l'agent")

    class EndReason(models.TextChoices):
        CITIZEN = "citizen", _("Arrêtée par l'usager")
        AGENT = "agent", _("Arrêtée par l'agent")
        LOGOUT = "logout", _("Déconnexion de l'usager")
        CITIZEN_GONE = "citizen_gone", _("Page de l'usager fermée")
        AGENT_GONE = "agent_gone", _("Console de l'agent fermée")
        INACTIVITY = "inactivity", _("Inactivité")
        EXPIRED = "expired", _("Délai dépassé")
        REPLACED = "replaced", _("Remplacée par une nouvelle demande")
        DECLINED = "declined", _("Refusée par l'usager")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cobrowse_sessions"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cobrowse_sessions_as_agent",
    )
    agent_service = models.ForeignKey(
        "contactcenter.Service", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    case = models.ForeignKey(
        "contactcenter.Case",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cobrowse_sessions",
    )
    origin = models.CharField(_("origine"), max_length=16, choices=Origin.choices)
    status = models.CharField(_("statut"), max_length=16, choices=Status.choices)
    # HMAC of the 6-digit code (never the code itself); kept after use to say "already used".
    code_digest = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("expire le"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("acceptée le"), null=True, blank=True)
    ended_at = models.DateTimeField(_("terminée le"), null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    # Which socket currently holds each side ("" = none) and since when it is gone.
    citizen_channel = models.CharField(max_length=200, blank=True)
    citizen_left_at = models.DateTimeField(null=True, blank=True)
    agent_channel = models.CharField(max_length=200, blank=True)
    agent_left_at = models.DateTimeField(null=True, blank=True)
    # Paths only (no query string, no fragment), in the order first seen.
    pages = models.JSONField(default=list, blank=True)
    event = models.ForeignKey(
        "contactcenter.Event", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("session d'aide à distance")
        verbose_name_plural = _("sessions d'aide à distance")
        constraints = [
            # One live session per citizen: a second offer cannot sneak in beside the first.
            models.UniqueConstraint(
                fields=["citizen"],
                condition=Q(status__in=["waiting_code", "offered", "active"]),
                name="cobrowse_one_live_session_per_citizen",
            ),
            # Two waiting codes never share the same digits.
            models.UniqueConstraint(
                fields=["code_digest"],
                condition=Q(status="waiting_code"),
                name="cobrowse_unique_waiting_code",
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "last_activity_at"],
                name="cobrowse_live",
                condition=Q(status__in=["waiting_code", "offered", "active"]),
            ),
            models.Index(fields=["agent", "-created_at"], name="cobrowse_agent_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_status_display()} — {self.citizen} ({self.created_at:%Y-%m-%d %H:%M})"

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE_STATUSES

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def duration(self):
        if self.accepted_at is None:
            return None
        end = self.ended_at or timezone.now()
        return end - self.accepted_at

    @property
    def agent_first_name(self) -> str:
        if self.agent is None:
            return ""
        return self.agent.first_name or self.agent.display_name
