"""The core domain: people, services, topics, the Case and its Event timeline, the audit log.

Every channel writes to the same timeline: a Case belongs to one citizen, and each contact,
message, status change, note, transfer... is one Event row on it.
"""

from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from . import phones


class GuichetUserManager(UserManager["User"]):
    def get_by_natural_key(self, username):
        # Logins are e-mail addresses: match them case-insensitively.
        return self.get(**{f"{self.model.USERNAME_FIELD}__iexact": username})


class User(AbstractUser):
    class Role(models.TextChoices):
        CITIZEN = "citizen", _("Usager")
        AGENT = "agent", _("Agent")
        SUPERVISOR = "supervisor", _("Superviseur")
        ADMIN = "admin", _("Administrateur")

    role = models.CharField(_("rôle"), max_length=16, choices=Role.choices, default=Role.CITIZEN)
    email = models.EmailField(_("adresse électronique"), unique=True)
    # E.164 ("+33612345678", "+262692123456"): see contactcenter.phones.
    mobile_phone = models.CharField(
        _("téléphone mobile"),
        max_length=phones.MAX_LENGTH,
        blank=True,
        validators=[phones.validate_mobile],
    )
    notify_email = models.BooleanField(_("alertes par courriel"), default=True)
    notify_sms = models.BooleanField(_("alertes par SMS"), default=False)
    tax_number = models.CharField(_("numéro fiscal"), max_length=13, blank=True, db_index=True)
    social_number = models.CharField(
        _("numéro de sécurité sociale"), max_length=15, blank=True, db_index=True
    )
    # Raised to end every login session of the person at once (contactcenter.sockets.
    # end_user_sessions): a second-factor reset, a deactivation. Part of the session auth hash.
    session_generation = models.PositiveIntegerField(default=0, editable=False)

    objects: ClassVar[GuichetUserManager] = GuichetUserManager()
    # Cached by contactcenter.permissions.user_service_ids (absent until then).
    _guichet_service_ids: list[int]

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")

    def clean(self):
        super().clean()
        if self.mobile_phone:
            # Stored in E.164 whatever the format typed (admin included).
            self.mobile_phone = phones.normalize_stored(self.mobile_phone, mobile=True)

    def get_session_auth_hash(self) -> str:
        """Django's session hash (over the password), also over ``session_generation`` once it
        was raised: raising it ends every session, as a password change does. At 0 the hash is
        Django's own, so existing sessions survive this field's arrival."""
        return self._session_hash(None)

    def get_session_auth_fallback_hash(self):
        for fallback_secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_hash(fallback_secret)

    def _session_hash(self, secret: str | bytes | None) -> str:
        key_salt = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"
        value = self.password or ""
        if self.session_generation:
            value = f"{value}:{self.session_generation}"
        return salted_hmac(key_salt, value, secret=secret, algorithm="sha256").hexdigest()

    @property
    def is_citizen(self) -> bool:
        return self.role == self.Role.CITIZEN

    @property
    def is_agent(self) -> bool:
        return self.role == self.Role.AGENT

    @property
    def is_supervisor(self) -> bool:
        return self.role == self.Role.SUPERVISOR

    @property
    def is_admin_role(self) -> bool:
        return self.role == self.Role.ADMIN or self.is_superuser

    @property
    def is_staff_member(self) -> bool:
        """Agents, supervisors and admins: people who work in the contact centre."""
        return self.role != self.Role.CITIZEN or self.is_superuser

    @property
    def email_reachable(self) -> bool:
        """False for a placeholder address (".invalid", RFC 2606): an account FranceConnect
        created without an address, not verified yet; deleted accounts; unidentified senders.
        No e-mail alert ever goes to one, and its owner cannot turn e-mail alerts on."""
        return bool(self.email) and not self.email.lower().endswith(".invalid")

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email


class Service(models.Model):
    class HolidayZone(models.TextChoices):
        """Where the service's public holidays come from (see routing.calendar)."""

        METROPOLE = "metropole", _("Métropole")
        ALSACE_MOSELLE = "alsace-moselle", _("Alsace-Moselle")
        GUADELOUPE = "guadeloupe", _("Guadeloupe")
        MARTINIQUE = "martinique", _("Martinique")
        GUYANE = "guyane", _("Guyane")
        REUNION = "reunion", _("La Réunion")
        MAYOTTE = "mayotte", _("Mayotte")
        SAINT_BARTHELEMY = "saint-barthelemy", _("Saint-Barthélemy")
        SAINT_MARTIN = "saint-martin", _("Saint-Martin")
        SAINT_PIERRE_ET_MIQUELON = "saint-pierre-et-miquelon", _("Saint-Pierre-et-Miquelon")
        NOUVELLE_CALEDONIE = "nouvelle-caledonie", _("Nouvelle-Calédonie")
        POLYNESIE_FRANCAISE = "polynesie-francaise", _("Polynésie française")
        WALLIS_ET_FUTUNA = "wallis-et-futuna", _("Wallis-et-Futuna")

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("nom"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("actif"), default=True)
    # E.164, shown on the public home with the service's opening hours (contactcenter.phones).
    phone = models.CharField(
        _("téléphone"),
        max_length=phones.MAX_LENGTH,
        blank=True,
        validators=[phones.validate_phone],
        help_text=_("Numéro d'appel affiché aux usagers, avec les horaires du service."),
    )
    holiday_zone = models.CharField(
        _("zone des jours fériés"),
        max_length=32,
        choices=HolidayZone.choices,
        default=HolidayZone.METROPOLE,
        help_text=_(
            "Les jours fériés où le service est fermé (horaires d'ouverture, tchat, créneaux "
            "de rappel, délais) : ceux de la métropole, d'Alsace-Moselle ou d'un territoire "
            "d'outre-mer."
        ),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("service")
        verbose_name_plural = _("services")

    def __str__(self) -> str:
        return self.name

    def clean(self):
        super().clean()
        if self.phone:
            self.phone = phones.normalize_stored(self.phone)


class Skill(models.Model):
    code = models.SlugField(_("code"), max_length=48, unique=True)
    name = models.CharField(_("nom"), max_length=120)

    class Meta:
        ordering = ["name"]
        verbose_name = _("compétence")
        verbose_name_plural = _("compétences")

    def __str__(self) -> str:
        return self.name


class Topic(models.Model):
    slug = models.SlugField(_("identifiant"), max_length=64, unique=True)
    title = models.CharField(_("intitulé"), max_length=200)
    service = models.ForeignKey(
        Service,
        verbose_name=_("service compétent"),
        on_delete=models.PROTECT,
        related_name="topics",
    )
    skill = models.ForeignKey(
        Skill,
        verbose_name=_("compétence requise"),
        on_delete=models.PROTECT,
        related_name="topics",
        null=True,
        blank=True,
    )
    is_active = models.BooleanField(_("actif"), default=True)
    position = models.PositiveSmallIntegerField(_("ordre"), default=0)

    class Meta:
        ordering = ["position", "title"]
        verbose_name = _("thème")
        verbose_name_plural = _("thèmes")

    def __str__(self) -> str:
        return self.title


class AgentProfile(models.Model):
    """Services an agent works for (a supervisor: the services supervised) and skills held."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile"
    )
    services = models.ManyToManyField(Service, related_name="agents", blank=True)
    skills = models.ManyToManyField(Skill, related_name="agents", blank=True)
    # Where the voice server rings the agent for a call (docs/voice.md): a SIP URI
    # ("sip:1001@10.0.0.5:5060") or an extension of the IPBX the voice server registers to.
    sip_extension = models.CharField(
        _("poste téléphonique (SIP)"),
        max_length=128,
        blank=True,
        help_text=_(
            "Adresse SIP du téléphone de l'agent (sip:1001@ipbx.example.fr) ou numéro de poste "
            "sur l'IPBX du serveur vocal. Vide : les appels ne lui sont pas transférés."
        ),
    )

    class Meta:
        verbose_name = _("profil agent")
        verbose_name_plural = _("profils agents")

    def __str__(self) -> str:
        return str(self.user)


class Channel(models.TextChoices):
    WEB = "web", _("Messagerie sécurisée")
    CHAT = "chat", _("Tchat")
    CHATBOT = "chatbot", _("Assistant virtuel")
    PHONE = "phone", _("Téléphone")
    COUNTER = "counter", _("Accueil physique")
    EMAIL = "email", _("Courriel")
    LETTER = "letter", _("Courrier")
    CALLBACK = "callback", _("Rappel")
    COBROWSE = "cobrowse", _("Aide à distance")
    VISIO = "visio", _("Visio")


class Case(models.Model):
    class Kind(models.TextChoices):
        CLAIM = "claim", _("Faire une réclamation")
        DIFFICULTY = "difficulty", _("Signaler une difficulté")
        QUESTION = "question", _("Poser une question")
        INFORMATION = "information", _("Transmettre une information")

    class Status(models.TextChoices):
        NEW = "new", _("Nouvelle")
        ASSIGNED = "assigned", _("Prise en charge")
        IN_PROGRESS = "in_progress", _("En cours de traitement")
        WAITING_CITIZEN = "waiting_citizen", _("En attente de votre réponse")
        ANSWERED = "answered", _("Répondue")
        CLOSED = "closed", _("Clôturée")

    class Resolution(models.TextChoices):
        ANSWERED = "answered", _("Répondu")
        REDIRECTED = "redirected", _("Réorienté")
        OUT_OF_SCOPE = "out_of_scope", _("Hors compétence")
        NO_FOLLOW_UP = "no_follow_up", _("Sans suite")

    OPEN_STATUSES = (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING_CITIZEN)

    reference = models.CharField(_("référence"), max_length=20, unique=True)
    # No single-column index on citizen, service and assigned_to: the composite indexes of Meta
    # start with them and serve the same lookups (and the foreign keys' checks); each index
    # more is written on every assignment and status change.
    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cases", db_index=False
    )
    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="cases")
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="cases", db_index=False
    )
    kind = models.CharField(_("nature"), max_length=16, choices=Kind.choices)
    channel = models.CharField(_("canal d'origine"), max_length=16, choices=Channel.choices)
    status = models.CharField(
        _("statut"), max_length=16, choices=Status.choices, default=Status.NEW
    )
    subject = models.CharField(_("objet"), max_length=200)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_cases",
        db_index=False,  # case_assignee_status (assigned_to, status)
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(
        _("résolution"), max_length=16, choices=Resolution.choices, blank=True
    )
    resolved_first_contact = models.BooleanField(_("résolu au premier contact"), default=False)
    fragile = models.BooleanField(_("situation de fragilité"), default=False)
    priority = models.SmallIntegerField(_("priorité"), default=0)
    sla_deadline = models.DateTimeField(_("échéance"), null=True, blank=True)
    sla_breached = models.BooleanField(_("échéance dépassée"), default=False)
    first_response_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    last_activity_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_activity_at", "-id"]
        verbose_name = _("demande")
        verbose_name_plural = _("demandes")
        indexes = [
            models.Index(
                fields=["citizen", "-last_activity_at", "-id"], name="case_citizen_activity"
            ),
            models.Index(fields=["service", "status", "sla_deadline"], name="case_service_queue"),
            models.Index(fields=["assigned_to", "status"], name="case_assignee_status"),
            # Service lists newest activity first, optionally for one status (console, API).
            models.Index(
                fields=["service", "status", "-last_activity_at", "-id"],
                name="case_service_status_activity",
            ),
            models.Index(
                fields=["service", "-last_activity_at", "-id"], name="case_service_activity"
            ),
            # The console's queue tab (console.worklist.facet_counts) counts its cases per
            # status, topic, channel, kind and age from this index alone (index-only scan).
            models.Index(
                fields=["service", "priority", "created_at"],
                include=["status", "topic", "channel", "kind"],
                name="case_unassigned_queue",
                condition=Q(assigned_to__isnull=True, status="new"),
            ),
            # Head of one topic's queue for one channel, in queue order: routing's assignment
            # engine reads the first few entries of each (topic, channel) of a channel group.
            # With the channel second, a claim for written messages does not step over every
            # chat and phone case queued before them (they come first in queue order).
            models.Index(
                fields=[
                    "topic",
                    "channel",
                    "-priority",
                    "-fragile",
                    "sla_deadline",
                    "created_at",
                    "id",
                ],
                name="case_topic_queue_head",
                condition=Q(assigned_to__isnull=True, status="new"),
            ),
            # Dashboard (console.kpis): time-window scans of one day or one export range.
            models.Index(fields=["created_at"], name="case_created"),
            # Waits per half hour of arrival (appointments.peaks): index-only.
            models.Index(
                fields=["service", "created_at"],
                include=["assigned_at"],
                name="case_service_waits",
                condition=Q(assigned_at__isnull=False),
            ),
            models.Index(
                fields=["first_response_at"],
                name="case_first_response",
                condition=Q(first_response_at__isnull=False),
            ),
            models.Index(
                fields=["closed_at"], name="case_closed", condition=Q(closed_at__isnull=False)
            ),
            models.Index(
                fields=["sla_deadline"],
                name="case_sla_deadline",
                condition=Q(sla_deadline__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} — {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def waits_on_citizen(self) -> bool:
        return self.status == self.Status.WAITING_CITIZEN

    @property
    def can_be_rated(self) -> bool:
        return self.status in (self.Status.ANSWERED, self.Status.CLOSED)


# The contacts of a service (its peak and off-peak hours, appointments.peaks): what citizens
# sent or started, and the calls and callback requests; the condition of the partial index
# event_contact_time.
CONTACT_TYPES = ("message", "chat", "call", "callback", "contact")
CONTACT_CONDITION = Q(type__in=CONTACT_TYPES, internal=False) & (
    Q(actor_id=models.F("citizen_id")) | Q(type__in=("call", "callback"))
)


class Event(models.Model):
    """One row of a case's timeline."""

    class Type(models.TextChoices):
        MESSAGE = "message", _("Message")
        REQUEST_INFO = "request_info", _("Demande de précisions")
        NOTE = "note", _("Note interne")
        STATUS = "status", _("Changement de statut")
        ASSIGNMENT = "assignment", _("Attribution")
        TRANSFER = "transfer", _("Transfert")
        CONTACT = "contact", _("Contact enregistré")
        CHAT = "chat", _("Tchat")
        CHATBOT = "chatbot", _("Conversation avec l'assistant")
        CALLBACK = "callback", _("Demande de rappel")
        COBROWSE = "cobrowse", _("Aide à distance")
        DIAGNOSIS = "diagnosis", _("Diagnostic guidé")
        NOTIFICATION = "notification", _("Notification envoyée")
        RATING = "rating", _("Avis")
        SLA = "sla", _("Échéance")
        CALL = "call", _("Appel au serveur vocal")
        VISIO = "visio", _("Visio")

    # Indexed by event_case_time and event_citizen_time (Meta), which start with them.
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events", db_index=False)
    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="timeline_events",
        db_index=False,
    )
    type = models.CharField(_("type"), max_length=16, choices=Type.choices)
    channel = models.CharField(_("canal"), max_length=16, choices=Channel.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="authored_events",
    )
    # The service that handled the case when the event was written: an answer keeps the
    # signature of the service that wrote it after the case is transferred (the routing
    # engine's claim signs its assignment events in SQL too). Null when unknown.
    service = models.ForeignKey(
        "Service",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("service"),
    )
    internal = models.BooleanField(
        _("interne"), default=False, help_text=_("Jamais montré à l'usager.")
    )
    body = models.TextField(_("contenu"), blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("événement")
        verbose_name_plural = _("événements")
        indexes = [
            models.Index(fields=["case", "created_at", "id"], name="event_case_time"),
            # A citizen's timeline, newest first. Covering for the synthesis sheet (PostgreSQL):
            # its contacts pages and counts per channel filter on case, type and channel in the
            # index, without reading the rows.
            models.Index(
                fields=["citizen", "-created_at", "-id"],
                include=["case", "type", "channel"],
                name="event_citizen_time",
            ),
            # Dashboard: contacts of one day (console.kpis).
            models.Index(fields=["created_at"], name="event_created"),
            # Peak hours (appointments.peaks): a service's contacts of the last weeks, read
            # from this index alone (index-only scan) by one grouped aggregate.
            models.Index(
                fields=["service", "created_at"],
                name="event_contact_time",
                condition=CONTACT_CONDITION,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} ({self.created_at:%Y-%m-%d %H:%M})"

    @property
    def by_citizen(self) -> bool:
        return self.actor_id is not None and self.actor_id == self.citizen_id


class Transfer(models.Model):
    """Liaison interservices: a case handed to another service (or a named agent) with a reason."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="transfers")
    from_service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    to_service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    to_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="incoming_transfers",
    )
    reason = models.TextField(_("motif"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["to_agent"], name="transfer_pending", condition=Q(accepted_at__isnull=True)
            ),
            models.Index(fields=["created_at"], name="transfer_created"),
        ]

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None


class Satisfaction(models.Model):
    """A citizen's rating of a contact (``event``: the chat, call, callback, visio or answer
    rated, see ``contactcenter.surveys``), or of the whole case (``event`` null: the rating
    given on the case page, one per case, as before ratings per contact)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="satisfactions")
    event = models.OneToOneField(
        "Event", on_delete=models.CASCADE, null=True, blank=True, related_name="satisfaction"
    )
    # The agent of the contact rated (null when unknown or for a case rating).
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # "Votre demande est-elle résolue ?" (null: not asked or not answered).
    resolved = models.BooleanField(_("demande résolue"), null=True, blank=True)
    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    score = models.PositiveSmallIntegerField(
        _("note"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = models.TextField(_("commentaire"), blank=True, max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["service", "created_at"], name="satisfaction_service"),
            models.Index(fields=["created_at"], name="satisfaction_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=1, score__lte=5), name="satisfaction_score_1_5"
            ),
            models.UniqueConstraint(
                fields=["case"], condition=Q(event__isnull=True), name="satisfaction_one_per_case"
            ),
        ]


class SurveyInvitation(models.Model):
    """A satisfaction survey offered after a closed contact (``event``): listed in the
    citizen's space and reachable without login by a signed link valid
    ``surveys.LINK_MAX_AGE``, usable once (``used_at``)."""

    event = models.OneToOneField(Event, on_delete=models.CASCADE, related_name="survey")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="survey_invitations"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["citizen", "expires_at"],
                name="survey_pending",
                condition=Q(used_at__isnull=True),
            )
        ]


class AuditLog(models.Model):
    """Who (agent or supervisor, and for which service) read a citizen's file, when and why."""

    class Action(models.TextChoices):
        VIEW_CASE = "view_case", _("Consultation d'une demande")
        VIEW_SYNTHESIS = "view_synthesis", _("Consultation de la fiche de synthèse")
        VIEW_ATTACHMENT = "view_attachment", _("Consultation d'une pièce jointe")
        COBROWSE = "cobrowse", _("Aide à distance")
        EXPORT = "export", _("Export")
        RESET_TWO_FACTOR = "reset_2fa", _("Réinitialisation de la double authentification")

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    actor_service = models.ForeignKey(
        Service, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="file_accesses",
    )
    case = models.ForeignKey(Case, on_delete=models.SET_NULL, null=True, blank=True)
    action = models.CharField(max_length=24, choices=Action.choices)
    reason = models.CharField(_("motif"), max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["citizen", "-created_at"], name="audit_citizen_time")]


class ReferenceCounter(models.Model):
    """Per-year counter behind case references like 2026-000123."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)


class LoginEvent(models.Model):
    """One successful login: the role and the time, nothing else (no person, no address).

    Enough to count citizen logins for the "secure messages per 100 logins" indicator while
    keeping no personal data. Written by ``console.kpis.record_login``.
    """

    role = models.CharField(max_length=16, choices=User.Role.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("connexion")
        verbose_name_plural = _("connexions")
        indexes = [models.Index(fields=["created_at", "role"], name="login_event_time")]


class DailyKpi(models.Model):
    """One precomputed, additive figure of one past day for one service, topic and channel.

    Figures are counts and sums (never averages or rates) so that any range and any grouping
    is a SUM; waiting times also keep a histogram (``data``) for percentiles. Rows not tied to
    a service (citizen logins) have ``service`` and ``topic`` empty. Written by
    ``console.kpis.store_day`` (Celery beat), read by the supervisor dashboard.
    """

    day = models.DateField(_("jour"))
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    topic = models.ForeignKey(
        Topic, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=16, blank=True)
    metric = models.CharField(max_length=32)
    value = models.BigIntegerField(default=0)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("indicateur journalier")
        verbose_name_plural = _("indicateurs journaliers")
        indexes = [
            # Every column the range sums read: index-only scans on PostgreSQL.
            models.Index(
                fields=["day", "service", "topic", "channel", "metric", "value"],
                name="daily_kpi_day_sums",
            ),
            models.Index(fields=["metric", "day"], name="daily_kpi_metric_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.metric}={self.value}"


class DailyKpiRun(models.Model):
    """Which days are precomputed, and the claim that keeps two workers off the same day."""

    day = models.DateField(primary_key=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    rows = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("calcul d'indicateurs journaliers")
        verbose_name_plural = _("calculs d'indicateurs journaliers")

    def __str__(self) -> str:
        return f"{self.day} ({self.computed_at or '—'})"


class IdempotencyKey(models.Model):
    """The first result of a creating request, replayed to any request with the same key.

    One row per (user, scope, key): ``scope`` names the view, ``fingerprint`` is a digest of
    what was sent (path, fields, files). Written and read only by ``contactcenter.idempotency``.
    """

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("en cours")
        DONE = "done", _("terminée")

    # The unique constraint's index starts with the user: no separate index on the foreign key.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    scope = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    response = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("clé d'idempotence")
        verbose_name_plural = _("clés d'idempotence")
        constraints = [
            models.UniqueConstraint(fields=["user", "scope", "key"], name="idempotency_key_unique")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_created")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} ({self.status})"
