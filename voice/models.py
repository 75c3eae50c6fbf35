"""The phone channel's data: per-service voice menus (versioned trees of prompts and choices)
and the calls the voice server answered (docs/voice.md)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contactcenter.models import Case, Service, Topic


class Menu(models.Model):
    """One version of a service's voice menu. Only drafts are edited; publishing a draft
    archives the version it replaces, so a call always follows one frozen version."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Brouillon")
        PUBLISHED = "published", _("Publié")
        ARCHIVED = "archived", _("Archivé")

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="voice_menus", verbose_name=_("service")
    )
    version = models.PositiveIntegerField(_("version"))
    status = models.CharField(
        _("état"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    welcome = models.TextField(
        _("message d'accueil"),
        help_text=_("Lu au décroché, avant le menu (horaires, informations du moment)."),
    )
    # Speech adaptation: the recogniser is told which words to expect when the callbot asks
    # what the call is about (Whisper's context prompt), so that the service's own vocabulary
    # ("passeport", "carte Vitale") is not heard as everyday words ("papa", "rapport").
    callbot_hints = models.TextField(
        _("mots attendus par l'assistant vocal"),
        blank=True,
        max_length=500,
        help_text=_(
            "Les démarches et mots propres au service, séparés par des virgules (passeport, "
            "carte d'identité, carte Vitale…) : la reconnaissance vocale les entend mieux. "
            "500 caractères au plus."
        ),
    )
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    # Key 0 (and the fallbacks) route the call to an agent with this topic's skill.
    agent_topic = models.ForeignKey(
        Topic,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("thème des appels vers un conseiller"),
        help_text=_(
            "Touche 0 : la demande téléphonique est ouverte dans ce thème et confiée à un agent "
            "qui a sa compétence. Vide : le premier thème actif du service."
        ),
    )

    # "Answered by a person within the target" (dashboard): the longest wait in the queue, in
    # seconds, of a call of this version that counts as answered in time.
    answer_target = models.PositiveIntegerField(
        _("objectif de décroché (secondes)"),
        default=60,
        validators=[MinValueValidator(5), MaxValueValidator(3600)],
        help_text=_(
            "Attente maximale en file, en secondes, d'un appel décroché dans l'objectif par un "
            "conseiller (indicateur du tableau de bord)."
        ),
    )

    class Meta:
        ordering = ["service", "-version"]
        verbose_name = _("menu vocal")
        verbose_name_plural = _("menus vocaux")
        constraints = [
            models.UniqueConstraint(fields=["service", "version"], name="voice_menu_version"),
            models.UniqueConstraint(
                fields=["service"],
                condition=Q(status="published"),
                name="voice_menu_one_published",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} — v{self.version} ({self.get_status_display()})"

    def clean(self) -> None:
        super().clean()
        if (
            self.agent_topic_id is not None
            and self.service_id is not None
            and self.agent_topic is not None
            and self.agent_topic.service_id != self.service_id
        ):
            raise ValidationError({"agent_topic": _("Ce thème est d'un autre service.")})

    def root_nodes(self) -> models.QuerySet[MenuNode]:
        return self.nodes.filter(parent__isnull=True).order_by("digit")


class MenuNode(models.Model):
    """A choice of the menu: the caller presses ``digit`` on the parent's prompt (or the root
    prompt when ``parent`` is empty). A ``submenu`` node reads its prompt, which lists its
    children; the other actions are what the voice server does."""

    class Action(models.TextChoices):
        SUBMENU = "submenu", _("Sous-menu")
        TRACK_REQUEST = "track_request", _("Suivre une demande par sa référence")
        MESSAGE = "message", _("Message d'information puis retour au menu")
        GOODBYE = "goodbye", _("Message puis fin d'appel")
        CALLBACK = "callback", _("Réserver un rappel par un conseiller")
        CHANGE_MOBILE = "change_mobile", _("Changer le numéro de mobile des SMS")
        DOCUMENT = "document", _("Recevoir l'attestation d'une demande (messagerie)")

    menu = models.ForeignKey(Menu, on_delete=models.CASCADE, related_name="nodes")
    parent = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("choix parent"),
    )
    digit = models.CharField(
        _("touche"),
        max_length=1,
        choices=[(str(d), str(d)) for d in range(1, 10)],
        help_text=_("La touche 0 est réservée (conseiller), * répète, # revient au menu."),
    )
    label = models.CharField(_("intitulé"), max_length=120)
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    topic = models.ForeignKey(
        Topic,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("thème"),
        help_text=_("Thème de la demande ouverte par ce choix (rappel)."),
    )
    prompt = models.TextField(
        _("message"),
        blank=True,
        help_text=_("Lu quand ce choix est atteint (sous-menu : annonce de ses choix)."),
    )
    # The service's own recording of ``prompt``, converted to 8 kHz mono G.711 μ-law (.ulaw):
    # played instead of the synthesis.
    recording = models.FileField(
        _("message enregistré"),
        upload_to="voice/recordings/",
        max_length=200,
        blank=True,
        help_text=_(
            "Fichier WAV (PCM 8 ou 16 bits, mono ou stéréo) lu à la place de la synthèse "
            "vocale du message ; converti en 8 kHz mono."
        ),
    )

    class Meta:
        ordering = ["menu", "parent_id", "digit"]
        verbose_name = _("choix du menu vocal")
        verbose_name_plural = _("choix du menu vocal")
        constraints = [
            models.UniqueConstraint(fields=["menu", "parent", "digit"], name="voice_node_digit"),
            models.UniqueConstraint(
                fields=["menu", "digit"],
                condition=Q(parent__isnull=True),
                name="voice_root_digit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.digit} — {self.label}"

    def clean(self) -> None:
        super().clean()
        if self.parent_id is not None and self.parent is not None:
            if self.parent.menu_id != self.menu_id:
                raise ValidationError({"parent": _("Le choix parent est d'un autre menu.")})
            if self.parent.action != self.Action.SUBMENU:
                raise ValidationError({"parent": _("Le choix parent n'est pas un sous-menu.")})
        if self.action in (self.Action.MESSAGE, self.Action.GOODBYE) and not self.prompt.strip():
            raise ValidationError({"prompt": _("Ce choix lit un message : écrivez-le.")})
        if self.action == self.Action.CALLBACK:
            if self.topic is None:
                raise ValidationError({"topic": _("Choisissez le thème des rappels.")})
            if self.menu_id is not None and self.topic.service_id != self.menu.service_id:
                raise ValidationError({"topic": _("Ce thème est d'un autre service.")})

    def path(self) -> str:
        """Digits from the root ("2", "2-1")."""
        digits = [self.digit]
        node = self.parent
        while node is not None:
            digits.append(node.digit)
            node = node.parent
        return "-".join(reversed(digits))


class Call(models.Model):
    """One call answered by the voice server, from the INVITE to the hang-up."""

    class EndedBy(models.TextChoices):
        CALLER = "caller", _("L'appelant a raccroché")
        SERVER = "server", _("Fin d'appel par le serveur vocal")
        LOST = "lost", _("Appel perdu (serveur vocal arrêté)")
        AGENT = "agent", _("Le conseiller a raccroché")

    sip_call_id = models.CharField(max_length=255, unique=True)
    caller = models.CharField(_("appelant"), max_length=64, blank=True)
    called = models.CharField(_("numéro appelé"), max_length=64, blank=True)
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="voice_calls", null=True, blank=True
    )
    menu = models.ForeignKey(
        Menu, on_delete=models.PROTECT, related_name="calls", null=True, blank=True
    )
    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="voice_calls",
    )
    case = models.ForeignKey(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="voice_calls"
    )
    # Steps in order: {"at": iso, "step": "menu"|"choice"|"prompt"|..., ...}.
    steps = models.JSONField(default=list, blank=True)
    # Where the call is now / was at the hang-up ("menu", "menu:2", "track_request:digits").
    position = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    # To an agent (voice.queueing): when the call entered the queue, the agent whose phone
    # answered and when (the wait is answered_at - queued_at).
    queued_at = models.DateTimeField(null=True, blank=True)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="voice_calls_answered",
        verbose_name=_("conseiller"),
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    # Set from the agent's workstation (voice.controls): the caller hears the hold music
    # instead of the agent until it is cleared.
    on_hold = models.BooleanField(_("en attente"), default=False)
    held_since = models.DateTimeField(_("en attente depuis"), null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=16, choices=EndedBy.choices, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("appel")
        verbose_name_plural = _("appels")
        indexes = [models.Index(fields=["started_at"], name="voice_call_started")]

    def __str__(self) -> str:
        return f"{self.caller or '?'} → {self.called or '?'} ({self.started_at:%Y-%m-%d %H:%M})"

    @property
    def menu_path(self) -> list[str]:
        return [s["path"] for s in self.steps if s.get("step") == "choice"]
