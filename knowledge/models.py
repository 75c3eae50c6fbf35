"""Models of the knowledge app: articles (one knowledge base for every channel) and small talk.

An article is written once in Markdown and reused by the public FAQ, the contact-form
deflection, the chatbot and the agents' console. ``questions`` are example phrasings (they
feed the search index and the chatbot's evaluation), ``keywords`` act as synonyms.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Article(models.Model):
    class Audience(models.TextChoices):
        PUBLIC = "public", _("Public")
        AGENT = "agent", _("Agents uniquement")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Brouillon")
        PUBLISHED = "published", _("Publié")
        ARCHIVED = "archived", _("Archivé")

    slug = models.SlugField(_("identifiant"), max_length=100, unique=True)
    topic = models.ForeignKey(
        "contactcenter.Topic",
        verbose_name=_("thème"),
        on_delete=models.PROTECT,
        related_name="articles",
    )
    title = models.CharField(_("titre"), max_length=200)
    body = models.TextField(
        _("contenu (Markdown)"),
        help_text=_("Syntaxe Markdown. Le HTML, les scripts et les iframes sont supprimés."),
    )
    audience = models.CharField(
        _("public visé"), max_length=8, choices=Audience.choices, default=Audience.PUBLIC
    )
    status = models.CharField(
        _("statut"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    owner = models.ForeignKey(
        "contactcenter.Service",
        verbose_name=_("service propriétaire"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="knowledge_articles",
        help_text=_("Service responsable du contenu : il est alerté quand l'article est à revoir."),
    )
    review_date = models.DateField(
        _("date de révision"),
        null=True,
        blank=True,
        help_text=_("À partir de cette date, l'article apparaît dans la liste « à revoir »."),
    )
    expiry_date = models.DateField(
        _("date d'expiration"),
        null=True,
        blank=True,
        help_text=_(
            "À cette date, l'article est dépublié automatiquement (évolution réglementaire)."
        ),
    )
    escalate = models.BooleanField(
        _("proposer un conseiller"),
        default=False,
        help_text=_("L'assistant répond et propose aussitôt un échange avec un conseiller."),
    )
    keywords = models.JSONField(_("mots-clés (synonymes)"), default=list, blank=True)
    questions = models.JSONField(_("questions types"), default=list, blank=True)
    related = models.ManyToManyField(
        "self", verbose_name=_("articles liés"), blank=True, symmetrical=True
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    review_alerted_for = models.DateField(
        null=True, blank=True, editable=False, help_text="Review date already alerted."
    )
    published_at = models.DateTimeField(_("publié le"), null=True, blank=True)
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)

    class Meta:
        ordering = ["topic__position", "title"]
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        indexes = [
            models.Index(fields=["status", "audience", "topic"], name="article_visible"),
            models.Index(
                fields=["expiry_date"],
                name="article_expiry",
                condition=Q(status="published", expiry_date__isnull=False),
            ),
            models.Index(fields=["owner", "review_date"], name="article_review"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("knowledge:article", kwargs={"slug": self.slug})

    @property
    def is_public(self) -> bool:
        return self.audience == self.Audience.PUBLIC

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    def is_due_for_review(self, today=None) -> bool:
        today = today or timezone.localdate()
        return self.review_date is not None and self.review_date <= today


class ArticleVersion(models.Model):
    """A snapshot of an article's content, written each time the content changes."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    title = models.CharField(_("titre"), max_length=200)
    body = models.TextField(_("contenu (Markdown)"))
    keywords = models.JSONField(default=list, blank=True)
    questions = models.JSONField(default=list, blank=True)
    status = models.CharField(_("statut"), max_length=10, choices=Article.Status.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auteur"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    comment = models.CharField(_("commentaire"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("date"), default=timezone.now)

    class Meta:
        ordering = ["article", "-number"]
        verbose_name = _("version d'article")
        verbose_name_plural = _("versions d'articles")
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="article_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.article.slug} v{self.number}"


class SmallTalk(models.Model):
    """Conversational phrases the chatbot answers without an article (greeting, thanks...)."""

    slug = models.SlugField(_("identifiant"), max_length=64, unique=True)
    questions = models.JSONField(_("phrases types"), default=list)
    answer = models.TextField(_("réponse (Markdown)"))
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = _("échange courant")
        verbose_name_plural = _("échanges courants")

    def __str__(self) -> str:
        return self.slug


class Synonym(models.Model):
    """One entry of the editors' lexicon: how people say it -> the words the articles use.

    Before a question is analysed, the term (whole words, accents and case ignored) is
    replaced by the replacement ("bb" -> "bébé", "on m'a piqué" -> "on m'a volé", "Grèce" ->
    "carte européenne d'assurance maladie", "lost" -> "perdu"). See knowledge/lexicon.py.
    """

    term = models.CharField(
        _("mot ou expression des usagers"),
        max_length=100,
        unique=True,
        help_text=_("Tel que les usagers l'écrivent (accents et majuscules indifférents)."),
    )
    replacement = models.CharField(
        _("remplacé par"),
        max_length=200,
        help_text=_("Les mots employés dans les articles."),
    )
    note = models.CharField(_("remarque"), max_length=200, blank=True)
    is_active = models.BooleanField(_("actif"), default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["term"]
        verbose_name = _("synonyme de l'assistant")
        verbose_name_plural = _("synonymes de l'assistant")

    def __str__(self) -> str:
        return f"{self.term} → {self.replacement}"


class OutOfScopeExample(models.Model):
    """A question the service does not answer, as citizens ask it ("hors champ").

    A citizen's question nearer one of them than any article's phrasing (sentence encoder, by
    ``engine.OUT_OF_SCOPE_MARGIN``) gets "je ne sais pas" whatever the ranker says. The product
    ships 200 (knowledge/out_of_scope_examples.txt, written by migration and by ``import_kb``
    into an empty table); editors add the questions the assistant answered wrongly from the
    "Réponses contestées" and "Questions sans réponse" lists ("Marquer hors champ"), and
    switch off an example that takes a question their base now answers."""

    MAX_CHARS = 300

    question = models.CharField(_("question"), max_length=MAX_CHARS, unique=True)
    note = models.CharField(_("remarque"), max_length=200, blank=True)
    is_active = models.BooleanField(_("actif"), default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["question"]
        verbose_name = _("question hors champ")
        verbose_name_plural = _("questions hors champ")

    def __str__(self) -> str:
        return self.question


def validate_https(value: str) -> None:
    if value and not value.startswith("https://"):
        raise ValidationError(_("L'adresse doit commencer par https://."), code="scheme")


class Redirection(models.Model):
    """A subject the knowledge base does not cover and where to send people instead ("aide au
    logement" -> the CAF), or, for a subject our own services handle without an article, the
    offer of an adviser. See knowledge/redirections.py."""

    class Kind(models.TextChoices):
        EXTERNAL = "external", _("Un autre organisme")
        HANDOFF = "handoff", _("Nos services, par un conseiller")

    slug = models.SlugField(_("identifiant"), max_length=64, unique=True)
    kind = models.CharField(
        _("qui répond"), max_length=10, choices=Kind.choices, default=Kind.EXTERNAL
    )
    title = models.CharField(_("sujet"), max_length=200)
    organisation = models.CharField(_("organisme compétent"), max_length=200)
    triggers = models.JSONField(
        _("expressions déclenchantes"),
        default=list,
        help_text=_(
            "Telles que les usagers les écrivent, une par ligne (mots entiers ; accents, "
            "majuscules et ponctuation indifférents). Évitez les mots qu'un article emploie."
        ),
    )
    message = models.TextField(_("message"), help_text=_("Ce que l'assistant répond (français)."))
    message_en = models.TextField(_("message en anglais"), blank=True)
    url = models.URLField(_("adresse de l'organisme"), blank=True, validators=[validate_https])
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        verbose_name = _("sujet non traité (réorientation)")
        verbose_name_plural = _("sujets non traités (réorientations)")

    def __str__(self) -> str:
        return self.title


class Conversation(models.Model):
    """One chatbot conversation of a citizen (kept for analytics, purged after retention)."""

    class Handoff(models.TextChoices):
        NONE = "", _("Aucun")
        CHAT = "chat", _("Tchat avec un conseiller")
        MESSAGE = "message", _("Message sécurisé")
        CALLBACK = "callback", _("Demande de rappel")
        BOOKING = "booking", _("Prise de rendez-vous")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chatbot_conversations"
    )
    topic = models.ForeignKey(
        "contactcenter.Topic",
        verbose_name=_("thème déduit"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    failures_in_row = models.PositiveSmallIntegerField(default=0)
    handoff_offered = models.BooleanField(_("conseiller proposé"), default=False)
    handoff_kind = models.CharField(
        _("relais vers un conseiller"), max_length=10, choices=Handoff.choices, blank=True
    )
    handed_off_at = models.DateTimeField(null=True, blank=True)
    fragile = models.BooleanField(_("détresse ou colère détectée"), default=False)
    started_at = models.DateTimeField(default=timezone.now)
    last_activity_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_activity_at", "-id"]
        verbose_name = _("conversation avec l'assistant")
        verbose_name_plural = _("conversations avec l'assistant")
        indexes = [
            models.Index(fields=["user", "-last_activity_at"], name="conv_user_activity"),
            models.Index(fields=["started_at"], name="conv_started"),
            models.Index(fields=["last_activity_at"], name="conv_activity"),
        ]

    def __str__(self) -> str:
        return f"Conversation {self.pk}"


class Turn(models.Model):
    """One exchange: the citizen's question and the assistant's answer (with its outcome)."""

    class Outcome(models.TextChoices):
        ANSWERED = "answered", _("Réponse trouvée")
        DONT_KNOW = "dont_know", _("Pas de réponse")
        SMALLTALK = "smalltalk", _("Échange courant")
        HANDOFF = "handoff", _("Demande de conseiller")
        REDIRECTED = "redirected", _("Réorientée vers un autre organisme")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    seq = models.PositiveIntegerField()
    question = models.TextField(max_length=1000)
    answer = models.TextField(blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    article = models.ForeignKey(
        Article, on_delete=models.SET_NULL, null=True, blank=True, related_name="chatbot_turns"
    )
    smalltalk = models.CharField(max_length=64, blank=True)
    # The subject another administration handles, when the assistant redirected the question.
    redirection = models.ForeignKey(
        Redirection, null=True, blank=True, on_delete=models.SET_NULL, related_name="turns"
    )
    confidence = models.FloatField(default=0.0)
    distress = models.BooleanField(default=False)
    handoff_offered = models.BooleanField(default=False)
    rating = models.SmallIntegerField(
        null=True, blank=True, choices=[(1, _("Utile")), (-1, _("Pas utile"))]
    )
    rated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["conversation", "seq"]
        verbose_name = _("échange avec l'assistant")
        verbose_name_plural = _("échanges avec l'assistant")
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="turn_seq_unique"),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__in=[1, -1]), name="turn_rating_pm1"
            ),
        ]
        indexes = [
            models.Index(fields=["created_at", "outcome"], name="turn_time_outcome"),
            models.Index(fields=["article", "created_at"], name="turn_article_time"),
            # Answers rated helpful, latest first (``services.confirmed_answers``).
            models.Index(
                fields=["-created_at"],
                condition=Q(rating=1, outcome="answered"),
                name="turn_confirmed_time",
            ),
        ]


class DeflectionEvent(models.Model):
    """Contact-form deflection: articles shown before a request, and "cette réponse me suffit"."""

    class Kind(models.TextChoices):
        SHOWN = "shown", _("Réponse proposée")
        SUFFICIENT = "sufficient", _("Cette réponse me suffit")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    article = models.ForeignKey(
        Article, on_delete=models.SET_NULL, null=True, related_name="deflections"
    )
    topic = models.ForeignKey(
        "contactcenter.Topic", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    query = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("réponse proposée avant une demande")
        verbose_name_plural = _("réponses proposées avant une demande")
        indexes = [models.Index(fields=["created_at", "kind"], name="deflection_time_kind")]


class DiagnosisTree(models.Model):
    """A guided diagnosis: questions and answers an agent walks through during a contact."""

    slug = models.SlugField(_("identifiant"), max_length=64, unique=True)
    title = models.CharField(_("titre"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    topic = models.ForeignKey(
        "contactcenter.Topic",
        verbose_name=_("thème"),
        on_delete=models.PROTECT,
        related_name="diagnosis_trees",
    )
    root = models.ForeignKey(
        "DiagnosisNode",
        verbose_name=_("première question"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    is_active = models.BooleanField(_("actif"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["topic__position", "title"]
        verbose_name = _("arbre de diagnostic")
        verbose_name_plural = _("arbres de diagnostic")

    def __str__(self) -> str:
        return self.title


class DiagnosisNode(models.Model):
    """A step: either a question (with choices) or an outcome (article, documents, transfer)."""

    class Kind(models.TextChoices):
        QUESTION = "question", _("Question")
        ARTICLE = "article", _("Issue : article à communiquer")
        DOCUMENTS = "documents", _("Issue : pièces à demander")
        TRANSFER = "transfer", _("Issue : transférer au service")

    tree = models.ForeignKey(DiagnosisTree, on_delete=models.CASCADE, related_name="nodes")
    key = models.SlugField(_("identifiant"), max_length=64)
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices)
    text = models.CharField(
        _("question ou intitulé de l'issue"), max_length=300, help_text=_("Affiché à l'agent.")
    )
    detail = models.TextField(
        _("précisions"),
        blank=True,
        help_text=_("Pour « pièces à demander » : une pièce par ligne."),
    )
    article = models.ForeignKey(
        Article, verbose_name=_("article"), on_delete=models.SET_NULL, null=True, blank=True
    )
    service = models.ForeignKey(
        "contactcenter.Service",
        verbose_name=_("service destinataire"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["tree", "id"]
        verbose_name = _("étape de diagnostic")
        verbose_name_plural = _("étapes de diagnostic")
        constraints = [
            models.UniqueConstraint(fields=["tree", "key"], name="diagnosis_node_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.tree.slug}/{self.key}"

    @property
    def is_outcome(self) -> bool:
        return self.kind != self.Kind.QUESTION

    @property
    def documents(self) -> list[str]:
        return [line.strip(" -•\t") for line in self.detail.splitlines() if line.strip(" -•\t")]


class DiagnosisChoice(models.Model):
    """An answer to a question node, leading to the next node."""

    node = models.ForeignKey(DiagnosisNode, on_delete=models.CASCADE, related_name="choices")
    label = models.CharField(_("réponse"), max_length=200)
    next_node = models.ForeignKey(
        DiagnosisNode,
        verbose_name=_("étape suivante"),
        on_delete=models.CASCADE,
        related_name="incoming",
    )
    position = models.PositiveSmallIntegerField(_("ordre"), default=0)

    class Meta:
        ordering = ["node", "position", "id"]
        verbose_name = _("réponse possible")
        verbose_name_plural = _("réponses possibles")

    def __str__(self) -> str:
        return self.label


class UnansweredQuestion(Turn):
    """The "questions sans réponse" list of the editors (turns the assistant declined)."""

    class Meta:
        proxy = True
        ordering = ["-created_at", "-id"]
        verbose_name = _("question sans réponse")
        verbose_name_plural = _("questions sans réponse")


class DisputedAnswer(Turn):
    """The "réponses contestées" list of the editors (answers the citizen rated unhelpful)."""

    class Meta:
        proxy = True
        ordering = ["-created_at", "-id"]
        verbose_name = _("réponse contestée")
        verbose_name_plural = _("réponses contestées")


class Tutorial(models.Model):
    """A video tutorial attached to a topic (and optionally to one article of it).

    The video is either a file uploaded here (its container parsed on upload, see
    ``knowledge.tutorials.inspect_video``) or a page of an allowed video host
    (``GUICHET_TUTORIAL_EMBED_HOSTS``). Captions (WebVTT) and a text transcript are required for
    publication (RGAA): the database refuses a published tutorial without them.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Brouillon")
        PUBLISHED = "published", _("Publié")
        ARCHIVED = "archived", _("Archivé")

    slug = models.SlugField(_("identifiant"), max_length=100, unique=True)
    title = models.CharField(_("titre"), max_length=200)
    topic = models.ForeignKey(
        "contactcenter.Topic",
        verbose_name=_("thème"),
        on_delete=models.PROTECT,
        related_name="tutorials",
    )
    article = models.ForeignKey(
        Article,
        verbose_name=_("article"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tutorials",
    )
    video = models.FileField(_("fichier vidéo"), upload_to="knowledge/tutorials/", blank=True)
    video_format = models.CharField(max_length=8, blank=True, editable=False)
    embed_url = models.URLField(_("adresse de la vidéo hébergée"), blank=True)
    duration = models.PositiveIntegerField(_("durée (secondes)"), null=True, editable=False)
    captions = models.TextField(_("sous-titres (WebVTT)"), blank=True)
    transcript = models.TextField(_("transcription textuelle"), blank=True)
    status = models.CharField(
        _("statut"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    published_at = models.DateTimeField(_("publié le"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)

    class Meta:
        ordering = ["topic__position", "title"]
        verbose_name = _("tutoriel vidéo")
        verbose_name_plural = _("tutoriels vidéo")
        constraints = [
            models.CheckConstraint(
                condition=(Q(video="") & ~Q(embed_url="")) | (~Q(video="") & Q(embed_url="")),
                name="tutorial_one_source",
            ),
            models.CheckConstraint(
                condition=~Q(status="published") | (~Q(captions="") & ~Q(transcript="")),
                name="tutorial_published_is_accessible",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("knowledge:tutorial", kwargs={"slug": self.slug})

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class TutorialView(models.Model):
    """One visitor's start, half-way or completion of a tutorial on one day (deduplicated).

    ``visitor`` is a keyed hash of a random token the browser draws for the day: no account,
    no address, nothing that leads back to a person, and a new token every day.
    """

    class Kind(models.TextChoices):
        START = "start", _("Lancement")
        HALF = "half", _("Moitié vue")
        COMPLETE = "complete", _("Vue jusqu'au bout")

    tutorial = models.ForeignKey(Tutorial, on_delete=models.CASCADE, related_name="views")
    day = models.DateField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    visitor = models.CharField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tutorial", "day", "kind", "visitor"], name="tutorial_view_once_a_day"
            ),
        ]
        indexes = [models.Index(fields=["day", "tutorial", "kind"], name="tutorial_view_day")]


class ArticleTranslation(models.Model):
    """An article's version in another language (English), reviewed before it is shown.

    Owned with its article (same service, same editor page). A draft is never shown; once an
    editor marks it reviewed, English questions get it. A change to the French title or body
    sends the translation back to draft (``services.save_article``): until it is reviewed
    again, English questions get the French answer with a note.
    """

    class Language(models.TextChoices):
        ENGLISH = "en", _("Anglais")

    class Status(models.TextChoices):
        DRAFT = "draft", _("À relire")
        REVIEWED = "reviewed", _("Relue, publiée")

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(
        _("langue"), max_length=5, choices=Language.choices, default=Language.ENGLISH
    )
    title = models.CharField(_("titre"), max_length=200)
    body = models.TextField(
        _("contenu (Markdown)"),
        help_text=_("Syntaxe Markdown. Le HTML, les scripts et les iframes sont supprimés."),
    )
    status = models.CharField(
        _("relecture"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    source_version = models.PositiveIntegerField(
        _("version française relue"),
        null=True,
        blank=True,
        help_text=_("Version de l'article français sur laquelle la traduction a été relue."),
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("relue par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("relue le"), null=True, blank=True)
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)

    class Meta:
        ordering = ["article", "language"]
        verbose_name = _("traduction d'article")
        verbose_name_plural = _("traductions d'articles")
        constraints = [
            models.UniqueConstraint(
                fields=["article", "language"], name="article_translation_unique"
            ),
            models.CheckConstraint(
                condition=~Q(status="reviewed") | Q(reviewed_at__isnull=False),
                name="article_translation_reviewed_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.article.slug} [{self.language}]"

    @property
    def is_reviewed(self) -> bool:
        return self.status == self.Status.REVIEWED
