"""Articles: versions and saving, what a user may read, search, deflection, review dates."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from contactcenter.exceptions import NotFound
from contactcenter.models import Service, Topic, User

from .. import engine as E
from ..models import Article, ArticleVersion, DeflectionEvent
from ..rendering import excerpt
from .translations import outdate_translations

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
DEFLECTION_DEDUP_MINUTES = 30

# A request's user (anonymous on public pages).
AnyUser = User | AnonymousUser


def snapshot_version(
    article: Article, *, author: User | None = None, comment: str = ""
) -> ArticleVersion:
    """Record the article's current content as version ``article.version`` (idempotent)."""
    version, _created = ArticleVersion.objects.update_or_create(
        article=article,
        number=article.version,
        defaults={
            "title": article.title,
            "body": article.body,
            "keywords": list(article.keywords),
            "questions": list(article.questions),
            "status": article.status,
            "author": author,
            "comment": comment[:200],
        },
    )
    return version


CONTENT_FIELDS = ("title", "body", "keywords", "questions")


@transaction.atomic
def save_article(article: Article, *, author: User | None = None, comment: str = "") -> Article:
    """Save an edited article; a content change bumps the version and snapshots it.

    Runs in a transaction and locks the article row so that two editors never produce the
    same version number. A new French title or body sends the translations back to review.
    """
    retranslate = False
    if article.pk:
        current = Article.objects.select_for_update().get(pk=article.pk)
        changed = any(getattr(current, f) != getattr(article, f) for f in CONTENT_FIELDS)
        article.version = current.version + (1 if changed else 0)
        retranslate = (current.title, current.body) != (article.title, article.body)
    else:
        changed = True
    if article.status == Article.Status.PUBLISHED and article.published_at is None:
        article.published_at = timezone.now()
    article.save()
    if changed or not article.versions.exists():
        snapshot_version(article, author=author, comment=comment)
    if retranslate:
        outdate_translations(article)
    return article


def propose_article(
    *, topic: Topic, title: str, body: str, slug: str, author: User, comment: str
) -> Article:
    """A draft article proposed from outside the knowledge team (a forum thread): public, of
    ``topic``, owned by its service and due for review today, so it is in the team's "à revoir"
    list to be edited and published. ``slug`` must be new."""
    article = Article(
        slug=slug[:100],
        topic=topic,
        title=title[:200],
        body=body,
        audience=Article.Audience.PUBLIC,
        status=Article.Status.DRAFT,
        owner=topic.service,
        review_date=timezone.localdate(),
        questions=[title[:MAX_QUESTION_CHARS]],
    )
    return save_article(article, author=author, comment=comment)


def attach_questions(article: Article, questions: list[str], *, author: User | None = None) -> int:
    """Add citizens' questions to an article's example questions ("rattacher à l'article…").

    Questions already there (same words once accents and case are ignored) are skipped; the
    change is a new version of the article like any edit. Returns how many were added.
    """
    from ..lexicon import normalise

    with transaction.atomic():
        article = Article.objects.select_for_update().get(pk=article.pk)
        known = {normalise(q) for q in article.questions or []}
        added = []
        for question in questions:
            question = " ".join(question.split())[:MAX_QUESTION_CHARS]
            if question and normalise(question) not in known:
                known.add(normalise(question))
                added.append(question)
        if added:
            article.questions = [*(article.questions or []), *added]
            save_article(article, author=author, comment=_("Questions sans réponse rattachées"))
    return len(added)


def answered_otherwise(article: Article, questions: list[str]) -> list[tuple[str, str]]:
    """The questions that the assistant, asked as a citizen would, still does not answer with
    ``article`` (once attached to it): [(question, what it does instead)]. An attached question
    can stay unanswered: a redirection trigger in it sends it to another body, or another
    article or the lack of confidence still wins. Only for a published public article (the
    assistant answers citizens with no other)."""
    if article.status != Article.Status.PUBLISHED or article.audience != Article.Audience.PUBLIC:
        return []
    engine = E.get_engine()
    found = []
    for question in questions:
        reply = engine.answer(question, audience="public")
        if reply.article_slug == article.slug:
            continue
        if reply.kind == "redirect" and reply.redirection is not None:
            instead = _("redirigée : « %(title)s »") % {"title": reply.redirection.title}
        elif reply.kind == "answer" and reply.hit is not None:
            instead = _("autre article : « %(title)s »") % {"title": reply.hit.doc.title}
        else:
            instead = _("toujours « je ne sais pas »")
        found.append((question, instead))
    return found


# Answers citizens rated helpful replayed around "rattacher à l'article…" (about 10 ms each, twice).
CONFIRMED_SAMPLE = 100


def confirmed_answers(limit: int = CONFIRMED_SAMPLE) -> list[tuple[str, str, str]]:
    """(question, article slug, article title) of the latest distinct questions whose answer
    citizens rated helpful: what the assistant is known to answer right (partial index
    ``turn_confirmed_time``)."""
    from ..lexicon import normalise
    from ..models import Turn

    rows = (
        Turn.objects.filter(outcome=Turn.Outcome.ANSWERED, rating=1, article__isnull=False)
        .order_by("-created_at")
        .values_list("question", "article__slug", "article__title")[: limit * 2]
    )
    seen: set[str] = set()
    found = []
    for question, slug, title in rows:
        key = normalise(question)
        if key not in seen:
            seen.add(key)
            found.append((question, slug, title))
    return found[:limit]


def still_answered(confirmed: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The ``confirmed`` answers the assistant gives with the same article now."""
    engine = E.get_engine()
    return [
        (question, slug, title)
        for question, slug, title in confirmed
        if engine.answer(question, audience="public").article_slug == slug
    ]


def taken_away(before: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Of the answers given right before a change (``still_answered`` then), those the
    assistant gives otherwise now: [(question, article it had, what it does instead)]. An
    example question added to an article can pull its neighbours away from theirs."""
    engine = E.get_engine()
    found = []
    for question, slug, title in before:
        reply = engine.answer(question, audience="public")
        if reply.article_slug == slug:
            continue
        if reply.kind == "answer" and reply.hit is not None:
            instead = _("l'article « %(title)s »") % {"title": reply.hit.doc.title}
        else:
            instead = _("plus de réponse")
        found.append((question, title, instead))
    return found


def mark_out_of_scope(questions: list[str]) -> tuple[int, list[tuple[str, str]]]:
    """Make citizens' questions out-of-scope examples ("marquer hors champ"): the assistant
    then declines them and the questions near them. Questions already there (same words once
    accents and case are ignored) are skipped. Returns how many were added and the questions
    the assistant still answers, with the article (an article phrasing as close as the
    example: the editor rewords that article's example question or attaches the question
    elsewhere)."""
    from ..lexicon import normalise
    from ..models import OutOfScopeExample

    limit = OutOfScopeExample.MAX_CHARS
    with transaction.atomic():
        known = {normalise(q) for q in OutOfScopeExample.objects.values_list("question", flat=True)}
        added = []
        for question in questions:
            question = " ".join(question.split())[:limit]
            if question and normalise(question) not in known:
                known.add(normalise(question))
                added.append(OutOfScopeExample(question=question))
        # Two editors marking the same question at once: the second insert is a no-op.
        OutOfScopeExample.objects.bulk_create(added, ignore_conflicts=True)
    engine = E.get_engine()
    answered = []
    for question in questions:
        reply = engine.answer(question, audience="public")
        if reply.kind == "answer" and reply.hit is not None:
            answered.append((question, reply.hit.doc.title))
    return len(added), answered


def public_topics() -> QuerySet[Topic]:
    """Active topics with at least one published public article, each with ``n_articles``
    (the FAQ's themes, also listed on the public home)."""
    return (
        Topic.objects.filter(is_active=True)
        .annotate(
            n_articles=Count(
                "articles",
                filter=Q(
                    articles__status=Article.Status.PUBLISHED,
                    articles__audience=Article.Audience.PUBLIC,
                ),
            )
        )
        .filter(n_articles__gt=0)
        .order_by("position", "title")
    )


def visible_articles(user: AnyUser | None = None, audience: str = "public") -> QuerySet[Article]:
    """Published articles a user may read: citizens and anonymous never see agent-only ones."""
    qs = Article.objects.filter(status=Article.Status.PUBLISHED, topic__is_active=True)
    if audience != "agent" or user is None or not user.is_authenticated or not user.is_staff_member:
        qs = qs.filter(audience=Article.Audience.PUBLIC)
    return qs.select_related("topic")


def get_article(slug: str, user: AnyUser | None = None) -> Article:
    """The article at ``slug`` if ``user`` may read it (``NotFound`` otherwise)."""
    audience = (
        "agent" if user is not None and user.is_authenticated and user.is_staff_member else "public"
    )
    try:
        return visible_articles(user, audience).get(slug=slug)
    except Article.DoesNotExist:
        raise NotFound(_("Article introuvable"))


def articles_due_for_review(user: User, today: dt.date | None = None) -> QuerySet[Article]:
    """The "à revoir" list: articles of the user's services past their review date."""
    from contactcenter.permissions import user_service_ids

    today = today or timezone.localdate()
    qs = Article.objects.exclude(status=Article.Status.ARCHIVED).filter(review_date__lte=today)
    if not user.is_admin_role:
        ids = user_service_ids(user)
        qs = qs.filter(Q(owner_id__in=ids) | Q(owner__isnull=True, topic__service_id__in=ids))
    return qs.select_related("topic", "owner").order_by("review_date", "title")


def effective_owner(article: Article) -> Service:
    return article.owner or article.topic.service


# --- search ---------------------------------------------------------------------------------------
@dataclass
class SearchResult:
    article: Article
    score: float  # confidence that this article answers the query (0..1)
    excerpt: str = ""
    # Filled by the views for their templates (not part of the result's identity).
    sufficient_vals: str = field(default="", compare=False, repr=False)
    insert_text: str = field(default="", compare=False, repr=False)
    body_html: str = field(default="", compare=False, repr=False)


def _resolve_topic(topic: Topic | str | None) -> Topic | None:
    if topic is None or topic == "":
        return None
    if isinstance(topic, Topic):
        return topic
    return Topic.objects.filter(slug=str(topic)).first()


def search_articles(
    query: str, *, topic: Topic | str | None = None, audience: str = "public", limit: int = 3
) -> list[SearchResult]:
    """Best published articles for a query, best first.

    ``topic``: a Topic, a topic slug or None. ``audience``: "public" never returns agent-only
    articles; "agent" returns both. An unknown topic slug restricts to nothing (empty list).
    """
    query = (query or "").strip()[:MAX_QUESTION_CHARS]
    if not query or limit <= 0:
        return []
    resolved = _resolve_topic(topic)
    if topic not in (None, "") and resolved is None:
        return []
    engine = E.get_engine()
    hits = engine.search(
        query,
        audience="agent" if audience == "agent" else "public",
        topic_id=resolved.pk if resolved else None,
        limit=limit,
    )
    articles = Article.objects.select_related("topic").in_bulk([h.doc.id for h, _c in hits])
    results = []
    for hit, confidence in hits:
        article = articles.get(hit.doc.id)
        if article is None or not article.is_published:
            continue
        if audience != "agent" and not article.is_public:
            continue  # defence in depth: the engine already filtered
        results.append(SearchResult(article, round(confidence, 4), excerpt(article.body)))
    return results


def guess_topic(text: str, *, service: Service | None = None) -> Topic | None:
    """The topic a free text is about (an e-mail's subject and first lines), or None.

    For the channels that open a case without a form (e-mail): the engine's best article over
    every published one (agents' index: the text is not shown to anybody), kept when the text
    points at that article's topic (``topic_share`` >= 0.5, the chatbot's rule) and the topic is
    active and, with ``service``, one of that service's. None when the engine cannot tell.
    """
    text = " ".join((text or "").split())[:MAX_QUESTION_CHARS]
    if not text:
        return None
    hits = E.get_engine().search(text, audience="agent", limit=5)
    topic_ids = [hit.doc.topic_id for hit, _c in hits if hit.topic_share >= 0.5]
    if not topic_ids:
        return None
    topics = Topic.objects.filter(pk__in=topic_ids, is_active=True)
    if service is not None:
        topics = topics.filter(service=service)
    found = {t.pk: t for t in topics}
    return next((found[i] for i in topic_ids if i in found), None)


# --- deflection -----------------------------------------------------------------------------------
def record_deflection(
    *,
    user: AnyUser | None,
    article: Article | str | None,
    query: str | None,
    topic: Topic | str | None,
    sufficient: bool,
) -> DeflectionEvent | None:
    """Record that an article was shown on the contact form, or judged sufficient.

    ``article``: an Article or a slug; ``topic``: a Topic, a slug or None. "Shown" events are
    deduplicated per user and article for 30 minutes (the form refreshes suggestions as the
    citizen types). Returns the event, or None when nothing was recorded.
    """
    if not isinstance(article, Article):
        article = Article.objects.filter(slug=str(article or "")).first()
    if article is None or not article.is_public or not article.is_published:
        raise ValidationError(_("Cet article n'existe pas ou n'est pas publié."), code="article")
    topic_obj = _resolve_topic(topic)
    user = user if user is not None and user.is_authenticated else None
    kind = DeflectionEvent.Kind.SUFFICIENT if sufficient else DeflectionEvent.Kind.SHOWN
    query = (query or "").strip()[:MAX_QUESTION_CHARS]
    if kind == DeflectionEvent.Kind.SHOWN and user is not None:
        since = timezone.now() - dt.timedelta(minutes=DEFLECTION_DEDUP_MINUTES)
        if DeflectionEvent.objects.filter(
            kind=kind, user=user, article=article, created_at__gte=since
        ).exists():
            return None
    return DeflectionEvent.objects.create(
        kind=kind, user=user, article=article, topic=topic_obj, query=query
    )


# --- review dates and expiry -------------------------------------------------------------------


def unpublish_expired(today: dt.date | None = None) -> list[int]:
    """Archive published articles whose expiry date has come. Idempotent (conditional update)."""
    today = today or timezone.localdate()
    ids = list(
        Article.objects.filter(
            status=Article.Status.PUBLISHED, expiry_date__isnull=False, expiry_date__lte=today
        ).values_list("id", flat=True)
    )
    done = []
    for pk in ids:
        updated = Article.objects.filter(
            pk=pk, status=Article.Status.PUBLISHED, expiry_date__lte=today
        ).update(status=Article.Status.ARCHIVED, updated_at=timezone.now())
        if updated == 1:  # another worker may have got there first
            done.append(pk)
    if done:
        logger.info("knowledge: %s expired article(s) unpublished", len(done))
    return done


def _service_recipients(service: Service) -> list[str]:
    supervisors = User.objects.filter(
        is_active=True, role=User.Role.SUPERVISOR, agent_profile__services=service
    )
    emails = sorted({u.email for u in supervisors if u.email})
    if not emails:
        admins = User.objects.filter(is_active=True, role=User.Role.ADMIN)
        emails = sorted({u.email for u in admins if u.email})
    return emails


def alert_review_due(today: dt.date | None = None) -> int:
    """E-mail each owner service's supervisors the articles due for review (once per date).

    Claims each article with a conditional update on ``review_alerted_for`` so that a second
    run (or a concurrent worker) never sends the same alert twice. Returns the number of
    articles alerted.
    """
    today = today or timezone.localdate()
    due = (
        Article.objects.exclude(status=Article.Status.ARCHIVED)
        .filter(review_date__isnull=False, review_date__lte=today)
        .exclude(review_alerted_for=F("review_date"))
        .select_related("topic__service", "owner")
    )
    by_service: dict[int, tuple[Service, list[Article]]] = {}
    for article in due:
        claimed = (
            Article.objects.filter(pk=article.pk)
            .exclude(review_alerted_for=F("review_date"))
            .update(review_alerted_for=F("review_date"))
        )
        if claimed != 1:
            continue
        service = effective_owner(article)
        by_service.setdefault(service.pk, (service, []))[1].append(article)
    count = 0
    site = getattr(settings, "SITE_URL", "").rstrip("/")
    for service, articles in by_service.values():
        recipients = _service_recipients(service)
        if not recipients:
            continue
        lines = [
            _("Bonjour,"),
            "",
            _("Les articles suivants de la base de connaissances (%(service)s) sont à revoir :")
            % {"service": service.name},
            "",
        ]
        for article in articles:
            assert article.review_date is not None  # selected on review_date__lte
            lines.append(
                f"- {article.title} ({_('révision prévue le')} "
                f"{date_format(article.review_date, 'SHORT_DATE_FORMAT')})"
            )
        lines += [
            "",
            _("Liste « à revoir » : %(url)s") % {"url": site + reverse("knowledge:review")},
        ]
        send_mail(
            _("Base de connaissances : %(n)s article(s) à revoir") % {"n": len(articles)},
            "\n".join(lines),
            None,
            recipients,
        )
        count += len(articles)
    return count
