"""A visio room: one call between a case's citizen and an agent, on the case's timeline."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contactcenter.models import Case


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Room(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Ouverte")
        ENDED = "ended", _("Terminée")

    class EndReason(models.TextChoices):
        AGENT = "agent", _("Raccrochée par l'agent")
        CITIZEN = "citizen", _("Raccrochée par l'usager")
        EXPIRED = "expired", _("Expirée")
        CANCELLED = "cancelled", _("Rendez-vous annulé ou déplacé")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="visio_rooms")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    # What asked for the room (e.g. "appointment:42"), for the app that linked it.
    source = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    not_before = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    # First moment both the citizen and the agent were connected (the call's start).
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=9, choices=EndReason.choices, blank=True)
    # The agent's choice: the captions become the call's written trace on the timeline.
    keep_captions = models.BooleanField(default=False)
    # The same choice for the text chat beside the video.
    keep_chat = models.BooleanField(default=False)
    # When the agent let the citizen in from the waiting room: no media flows before.
    admitted_at = models.DateTimeField(null=True, blank=True)
    # The agent allows the citizen to share their screen (the citizen consents in the browser).
    screen_allowed = models.BooleanField(default=False)
    # Automatic captions (either side's choice, when speech recognition is configured): both
    # browsers send their microphone's audio to the server, which transcribes it.
    auto_captions = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("salle de visio")
        verbose_name_plural = _("salles de visio")
        constraints = [
            # One open room per case: starting a visio twice joins the same room.
            models.UniqueConstraint(
                fields=["case"], condition=Q(status="open"), name="visio_one_open_room_per_case"
            )
        ]

    def __str__(self) -> str:
        return f"visio {self.pk} ({self.case_id})"

    def is_live(self, now=None) -> bool:
        now = now or timezone.now()
        return self.status == self.Status.OPEN and self.expires_at > now


class Participant(models.Model):
    class Role(models.TextChoices):
        CITIZEN = "citizen", _("Usager")
        AGENT = "agent", _("Agent")
        INTERPRETER = "interpreter", _("Interprète")

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=12, choices=Role.choices)
    # The participant's own key to the room (its URL), valid for this user only.
    token = models.CharField(max_length=64, unique=True, default=new_token)
    joined_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    # The socket holding the participant's place (a second tab takes it over).
    channel_name = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="visio_participant_once")
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.user_id} in {self.room_id}"

    @property
    def is_media(self) -> bool:
        """Citizen and agent exchange audio and video; an interpreter writes captions only."""
        return self.role in (self.Role.CITIZEN, self.Role.AGENT)


class Caption(models.Model):
    """A caption line or a chat message of an open room, kept until the call ends (then the
    written trace, if the agent chose so, and deleted)."""

    class Kind(models.TextChoices):
        CAPTION = "caption", _("Sous-titre")
        CHAT = "chat", _("Message")
        AUTO = "auto", _("Sous-titre automatique")

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="captions")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    kind = models.CharField(max_length=7, choices=Kind.choices, default=Kind.CAPTION)
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
