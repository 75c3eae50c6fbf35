"""The forum's business logic: members, reading, search, suggestions and posting.

Moderation and the experts' actions are in ``community.moderation``. Nothing here ever shows a
person's real name: ``author_label`` is the only way a post's author is displayed (a citizen's
pseudonym, or "Conseiller <service>" for staff).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.exceptions import InvalidState, NotAllowed, NotFound
from contactcenter.models import Topic, User
from contactcenter.permissions import user_service_ids
from knowledge.services import SearchResult, search_articles

from . import personal_data
from .models import Member, Post, Thread

AnyUser = User | AnonymousUser

PSEUDONYM_RE = re.compile(r"^[A-Za-z0-9À-ÿ][A-Za-z0-9À-ÿ_.\-]{2,29}$")
MAX_BODY = 5000
MIN_BODY = 10


class PersonalDataFound(ValidationError):
    """A post with personal data: the author removes it or submits it masked to moderation."""

    def __init__(self, findings: list[personal_data.Finding]):
        self.findings = findings
        super().__init__(
            _(
                "Votre message contient des données personnelles : %(found)s. Retirez-les avant "
                "de publier, ou soumettez votre message à la modération : elles seront masquées."
            )
            % {"found": personal_data.describe(findings)},
            code="personal_data",
        )


class HealthQuestion(ValidationError):
    """A question about the author's own health: not for a public forum."""

    def __init__(self) -> None:
        super().__init__(
            _(
                "Votre message parle de votre état de santé : pour protéger votre vie privée, "
                "ces questions ne sont pas traitées sur le forum. Écrivez-nous par la messagerie "
                "sécurisée : un conseiller examinera votre dossier."
            ),
            code="health",
        )


# --- who may do what --------------------------------------------------------------------------


def is_expert(user: AnyUser, topic: Topic) -> bool:
    """Staff of the topic's service (agents, its supervisors, admins) answer and moderate."""
    if not user.is_authenticated or not user.is_staff_member:
        return False
    assert isinstance(user, User)
    return user.is_admin_role or topic.service_id in user_service_ids(user)


def author_label(post: Post) -> str:
    """How a post's author is shown: never a real name."""
    if post.author.is_staff_member:
        return _("Conseiller — %(service)s") % {"service": post.thread.topic.service.name}
    return pseudonym_of(post.author)


def pseudonym_of(user: User) -> str:
    """A forum author without the post's context: the pseudonym, or "Conseiller" for staff."""
    if user.is_staff_member:
        return _("Conseiller")
    member = getattr(user, "forum_member", None)
    return member.pseudonym if member else _("Membre")


# --- members ----------------------------------------------------------------------------------


def member_of(user: AnyUser) -> Member | None:
    if not user.is_authenticated:
        return None
    return Member.objects.filter(user_id=user.pk).first()


def check_pseudonym(user: User, pseudonym: str) -> str:
    pseudonym = (pseudonym or "").strip()
    if not PSEUDONYM_RE.match(pseudonym):
        raise ValidationError(
            {
                "pseudonym": _(
                    "Choisissez un pseudonyme de 3 à 30 caractères : lettres, chiffres, point, "
                    "tiret ou souligné, sans espace."
                )
            }
        )
    lowered = pseudonym.lower()
    own = [user.first_name, user.last_name, user.email.split("@")[0]]
    parts = {p.lower() for name in own for p in re.split(r"[\s.\-_']+", name or "") if len(p) > 2}
    if any(part in lowered for part in parts):
        raise ValidationError(
            {"pseudonym": _("Votre pseudonyme ne doit pas contenir votre nom ou votre prénom.")}
        )
    if Member.objects.filter(pseudonym__iexact=pseudonym).exists():
        raise ValidationError(
            {"pseudonym": _("Ce pseudonyme est déjà pris : choisissez-en un autre.")}
        )
    return pseudonym


def ensure_member(user: User, pseudonym: str | None) -> Member:
    """The user's member, created with ``pseudonym`` the first time (chosen once, never changed)."""
    member = member_of(user)
    if member is not None:
        return member
    if not pseudonym:
        raise ValidationError({"pseudonym": _("Choisissez un pseudonyme pour publier.")})
    pseudonym = check_pseudonym(user, pseudonym)
    try:
        with transaction.atomic():
            return Member.objects.create(user=user, pseudonym=pseudonym)
    except IntegrityError:
        raise ValidationError(
            {"pseudonym": _("Ce pseudonyme est déjà pris : choisissez-en un autre.")}
        )


# --- reading ----------------------------------------------------------------------------------


def public_threads(
    *, topic: Topic | None = None, resolved: bool | None = None, language: str = ""
) -> QuerySet[Thread]:
    threads = Thread.objects.filter(is_published=True).select_related("topic")
    if topic is not None:
        threads = threads.filter(topic=topic)
    if resolved is not None:
        threads = threads.filter(is_resolved=resolved)
    if language in Thread.Language.values:
        threads = threads.filter(language=language)
    return threads


_WORD = re.compile(r"[\wÀ-ÿ]{3,}")
_STOP = {
    "les",
    "des",
    "une",
    "est",
    "pour",
    "que",
    "qui",
    "dans",
    "sur",
    "avec",
    "mon",
    "mes",
    "comment",
    "quoi",
    "the",
    "and",
    "how",
    "what",
    "pas",
    "par",
    "aux",
    "vous",
    "nous",
}


def search_threads(
    query: str, threads: QuerySet[Thread] | None = None, limit: int = 20
) -> list[Thread]:
    """Published threads matching the query's words, best first (title words count double)."""
    words = [w.lower() for w in _WORD.findall(query or "") if w.lower() not in _STOP][:8]
    if not words:
        return []
    threads = threads if threads is not None else public_threads()
    match = Q()
    for word in words:
        match |= Q(title__icontains=word) | Q(
            posts__body__icontains=word, posts__status=Post.Status.PUBLISHED
        )
    candidates = list(threads.filter(match).distinct()[:200])
    bodies: dict[int, str] = {}
    for thread_id, body in Post.objects.filter(
        thread__in=candidates, status=Post.Status.PUBLISHED
    ).values_list("thread_id", "body"):
        bodies[thread_id] = bodies.get(thread_id, "") + " " + body.lower()

    def score(thread: Thread) -> int:
        title = thread.title.lower()
        body = bodies.get(thread.pk, "")
        return sum(2 * (w in title) + (w in body) for w in words)

    ranked = sorted(candidates, key=lambda t: (-score(t), -t.last_activity_at.timestamp()))
    return ranked[:limit]


@dataclass
class Suggestions:
    threads: list[Thread] = field(default_factory=list)
    articles: list[SearchResult] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.threads or self.articles)


def suggestions(question: str, topic: Topic | None) -> Suggestions:
    """What may already answer a question: similar threads and the knowledge base's articles."""
    threads = public_threads(topic=topic) if topic else None
    return Suggestions(
        threads=search_threads(question, threads, limit=5),
        articles=search_articles(question, topic=topic, audience="public", limit=3),
    )


def get_thread(user: AnyUser, pk: int) -> Thread:
    """A thread this user may read: published, or the author's own, or staff of its topic."""
    thread = Thread.objects.select_related("topic__service").filter(pk=pk).first()
    if thread is None:
        raise NotFound(_("Ce fil de discussion n'existe pas."))
    if thread.is_published or thread.author_id == user.pk or is_expert(user, thread.topic):
        return thread
    raise NotFound(_("Ce fil de discussion n'existe pas."))


def visible_posts(user: AnyUser, thread: Thread) -> list[Post]:
    """Published posts for everyone; the author also sees their own pending posts, experts all.

    Certified answers come first after the question (pinned).
    """
    posts = thread.posts.select_related("author__forum_member", "thread__topic__service")
    if not is_expert(user, thread.topic):
        own = Q(author_id=user.pk, status=Post.Status.PENDING) if user.is_authenticated else Q()
        posts = posts.filter(Q(status=Post.Status.PUBLISHED) | own)
    ordered = list(posts)
    return sorted(ordered, key=lambda p: (not p.is_question, not p.is_certified, p.created_at))


def count_view(thread: Thread) -> None:
    Thread.objects.filter(pk=thread.pk).update(views=F("views") + 1)


# --- posting ----------------------------------------------------------------------------------


def check_rate(user: User) -> None:
    limit = getattr(settings, "COMMUNITY_POSTS_PER_HOUR", 10)
    since = timezone.now() - timedelta(hours=1)
    if Post.objects.filter(author=user, created_at__gte=since).count() >= limit:
        raise NotAllowed(
            _("Vous avez publié beaucoup de messages en peu de temps : réessayez dans une heure.")
        )


def check_body(body: str) -> str:
    body = (body or "").strip()
    if len(body) < MIN_BODY:
        raise ValidationError({"body": _("Votre message est trop court (10 caractères au moins).")})
    if len(body) > MAX_BODY:
        raise ValidationError(
            {"body": _("Votre message est trop long (5 000 caractères au plus).")}
        )
    return body


def screen(text: str, *, to_moderation: bool) -> tuple[str, bool]:
    """Check a text before publication: ``(text to store, masked)``.

    Raises ``HealthQuestion`` for a question about the author's health, ``PersonalDataFound``
    when personal data is found and the author did not choose moderation; with moderation the
    data is masked (the original is never stored).
    """
    if personal_data.is_personal_health_question(text):
        raise HealthQuestion()
    findings = personal_data.find_personal_data(text)
    if not findings:
        return text, False
    if not to_moderation:
        raise PersonalDataFound(findings)
    return personal_data.mask(text, findings), True


@transaction.atomic
def post_question(
    user: User,
    *,
    topic: Topic,
    title: str,
    body: str,
    language: str = Thread.Language.FR,
    pseudonym: str | None = None,
    to_moderation: bool = False,
) -> Thread:
    """A citizen's new thread. Published at once when clean, held for moderation when masked."""
    if not user.is_citizen:
        raise NotAllowed(_("Seuls les usagers posent des questions sur le forum."))
    if not topic.is_active:
        raise ValidationError({"topic": _("Ce thème n'est plus proposé.")})
    title = (title or "").strip()
    if not 8 <= len(title) <= 160:
        raise ValidationError({"title": _("Le titre doit faire entre 8 et 160 caractères.")})
    body = check_body(body)
    if language not in Thread.Language.values:
        raise ValidationError({"language": _("Langue inconnue.")})
    check_rate(user)
    title_text, title_masked = screen(title, to_moderation=to_moderation)
    body_text, body_masked = screen(body, to_moderation=to_moderation)
    ensure_member(user, pseudonym)
    masked = title_masked or body_masked
    thread = Thread.objects.create(
        topic=topic, title=title_text, author=user, language=language, is_published=not masked
    )
    Post.objects.create(
        thread=thread,
        author=user,
        body=body_text,
        is_question=True,
        is_masked=masked,
        status=Post.Status.PENDING if masked else Post.Status.PUBLISHED,
    )
    return thread


@transaction.atomic
def post_reply(
    user: User,
    thread: Thread,
    *,
    body: str,
    pseudonym: str | None = None,
    to_moderation: bool = False,
) -> Post:
    """A reply: by a citizen (under their pseudonym) or by an expert of the thread's topic."""
    thread = Thread.objects.select_for_update().select_related("topic").get(pk=thread.pk)
    expert = is_expert(user, thread.topic)
    if not (user.is_citizen or expert):
        raise NotAllowed(_("Seuls les usagers et les experts du thème répondent sur ce fil."))
    if not thread.is_published and not expert:
        raise InvalidState(_("Ce fil attend la modération."))
    if thread.is_locked:
        raise InvalidState(_("Ce fil est verrouillé : il n'accepte plus de réponses."))
    body = check_body(body)
    check_rate(user)
    text, masked = screen(body, to_moderation=to_moderation)
    if user.is_citizen:
        ensure_member(user, pseudonym)
    post = Post.objects.create(
        thread=thread,
        author=user,
        body=text,
        is_masked=masked,
        status=Post.Status.PENDING if masked else Post.Status.PUBLISHED,
    )
    if not masked:
        Thread.objects.filter(pk=thread.pk).update(last_activity_at=post.created_at)
    return post


@transaction.atomic
def accept_answer(user: AnyUser, post: Post) -> Thread:
    """The question's author marks the thread resolved by one published answer."""
    thread = Thread.objects.select_for_update().get(pk=post.thread_id)
    if not user.is_authenticated or thread.author_id != user.pk:
        raise NotAllowed(_("Seul l'auteur de la question peut choisir la meilleure réponse."))
    if post.is_question or post.status != Post.Status.PUBLISHED:
        raise InvalidState(_("Ce message ne peut pas être retenu comme réponse."))
    Post.objects.filter(thread=thread, is_accepted=True).update(is_accepted=False)
    Post.objects.filter(pk=post.pk).update(is_accepted=True)
    thread.is_resolved = True
    thread.save(update_fields=["is_resolved"])
    return thread


UNANSWERED_HOURS = 72


def unanswered_by_experts(actor: User, now: datetime | None = None) -> QuerySet[Thread]:
    """Published threads of the actor's topics older than 72 hours without a staff answer."""
    if not actor.is_staff_member:
        return Thread.objects.none()
    since = (now or timezone.now()) - timedelta(hours=UNANSWERED_HOURS)
    threads = Thread.objects.filter(is_published=True, created_at__lte=since).exclude(
        posts__author__role__in=[r for r in User.Role.values if r != User.Role.CITIZEN]
    )
    if not actor.is_admin_role:
        threads = threads.filter(topic__service_id__in=user_service_ids(actor))
    return threads.select_related("topic").order_by("created_at")
