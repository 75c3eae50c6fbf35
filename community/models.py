"""The community forum: members (pseudonyms), threads, posts, reports, moderation audit."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from contactcenter.models import Case, Topic


class Member(models.Model):
    """A citizen's forum identity: the pseudonym chosen once, the only name ever shown."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forum_member"
    )
    pseudonym = models.CharField(_("pseudonyme"), max_length=30)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membre du forum")
        verbose_name_plural = _("membres du forum")
        constraints = [
            models.UniqueConstraint(Lower("pseudonym"), name="forum_pseudonym_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.pseudonym


class Thread(models.Model):
    class Language(models.TextChoices):
        FR = "fr", _("Français")
        EN = "en", _("Anglais")

    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="forum_threads")
    title = models.CharField(_("titre"), max_length=160)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forum_threads"
    )
    language = models.CharField(
        _("langue"), max_length=2, choices=Language.choices, default=Language.FR
    )
    is_locked = models.BooleanField(_("verrouillé"), default=False)
    # Set when the first post (the question) is published: until then the thread is not listed.
    is_published = models.BooleanField(default=False)
    is_resolved = models.BooleanField(_("résolu"), default=False)
    views = models.PositiveIntegerField(default=0)
    # The secure-messaging request opened for the author when staff sent the thread there.
    case = models.ForeignKey(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The knowledge-base draft made from the thread (the knowledge team reviews it).
    article = models.ForeignKey(
        "knowledge.Article", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_activity_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-last_activity_at", "-id"]
        verbose_name = _("fil de discussion")
        verbose_name_plural = _("fils de discussion")
        indexes = [models.Index(fields=["topic", "is_published", "-last_activity_at"])]

    def __str__(self) -> str:
        return self.title


class Post(models.Model):
    class Status(models.TextChoices):
        PUBLISHED = "published", _("Publié")
        PENDING = "pending", _("En attente de modération")
        HIDDEN = "hidden", _("Masqué par la modération")

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forum_posts"
    )
    body = models.TextField(_("message"))
    is_question = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PUBLISHED)
    # Personal data replaced by masks (by the author's choice or a moderator's).
    is_masked = models.BooleanField(default=False)
    moderation_reason = models.CharField(max_length=200, blank=True)
    certified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    certified_at = models.DateTimeField(null=True, blank=True)
    # The answer the question's author chose as the best one.
    is_accepted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("message du forum")
        verbose_name_plural = _("messages du forum")
        indexes = [models.Index(fields=["author", "created_at"])]

    def __str__(self) -> str:
        return f"{self.thread_id}#{self.pk}"

    @property
    def is_certified(self) -> bool:
        return self.certified_at is not None


class Report(models.Model):
    """A reader's report of a post (one per reader and post)."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    reason = models.CharField(_("motif"), max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["post", "reporter"], name="forum_report_once"),
        ]


class ModerationAction(models.Model):
    """Audit of every moderation and expert action."""

    class Action(models.TextChoices):
        CERTIFY = "certify", _("Réponse certifiée")
        UNCERTIFY = "uncertify", _("Certification retirée")
        HIDE = "hide", _("Message masqué")
        RESTORE = "restore", _("Message rétabli")
        MASK = "mask", _("Données personnelles masquées")
        APPROVE = "approve", _("Message validé")
        LOCK = "lock", _("Fil verrouillé")
        UNLOCK = "unlock", _("Fil déverrouillé")
        TO_CHANNEL = "to_channel", _("Fil envoyé vers la messagerie sécurisée")
        TO_ARTICLE = "to_article", _("Fil proposé comme article de la base de connaissances")

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=16, choices=Action.choices)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="moderation")
    post = models.ForeignKey(
        Post, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]
