"""Business logic of the knowledge base (plain functions: validate, then act).

Public contract used by other apps (keep the names and signatures):

- ``search_articles(query, *, topic=None, audience="public", limit=3) -> list[SearchResult]``
- ``record_deflection(*, user, article, query, topic, sufficient)``
- ``handoff_transcript(conversation_id, user) -> str``
- ``handoff_context(conversation_id, user) -> dict | None`` and
  ``attach_conversation_to_case(conversation_id, user, case)`` for the hand-off target apps.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, F, Max, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contactcenter.exceptions import NotFound
from contactcenter.models import Case, Event, Service, Topic, User
from contactcenter.services import add_event

from .. import engine as E
from ..models import (
    Article,
    ArticleVersion,
    Conversation,
    DeflectionEvent,
    DiagnosisChoice,
    DiagnosisNode,
    DiagnosisTree,
    Turn,
)
from ..rendering import excerpt, plain_text

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
FAILURES_BEFORE_HANDOFF = 2
CONVERSATION_IDLE_MINUTES = 30
DEFLECTION_DEDUP_MINUTES = 30

# Hand-off targets in the other apps (the chat app may not be installed yet: plain paths).
CHAT_URL = "/tchat/nouveau/"
MESSAGE_URL = "/espace/demandes/nouvelle/"
CALLBACK_URL = "/rappel/nouveau/"

# A request's user (anonymous on public pages) and a conversation id as received (a form's text
# or a number; anything else is "not found"). The chatbot itself is for signed-in users.
AnyUser = User | AnonymousUser
ConversationId = int | str

_routing_chat_available: Callable[[Topic | str], bool] | None
try:  # routing owns agent availability; knowledge may import routing (allowed direction).
    from routing import chat_available as _routing_chat_available
except ImportError:  # pragma: no cover - exercised only while routing is being written
    _routing_chat_available = None
    logger.warning("routing.chat_available is missing: the chatbot will not offer live chat.")


# --- articles -------------------------------------------------------------------------------------
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
    same version number.
    """
    if article.pk:
        current = Article.objects.select_for_update().get(pk=article.pk)
        changed = any(getattr(current, f) != getattr(article, f) for f in CONTENT_FIELDS)
        article.version = current.version + (1 if changed else 0)
    else:
        changed = True
    if article.status == Article.Status.PUBLISHED and article.published_at is None:
        article.published_at = timezone.now()
    article.save()
    if changed or not article.versions.exists():
        snapshot_version(article, author=author, comment=comment)
    return article


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


# --- chatbot --------------------------------------------------------------------------------------
def validate_question(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError(_("Écrivez votre question avant de l'envoyer."), code="required")
    if len(text) > MAX_QUESTION_CHARS:
        raise ValidationError(
            _("Votre question fait %(length)s caractères ; %(max)s au maximum.")
            % {"length": len(text), "max": MAX_QUESTION_CHARS},
            code="max_length",
        )
    return text


def get_conversation(user: User, conversation_id: ConversationId | None) -> Conversation:
    """The user's own conversation (anything else: 404, existence not disclosed)."""
    if conversation_id is None:
        raise NotFound(_("Conversation introuvable"))
    try:
        return Conversation.objects.select_related("topic").get(pk=int(conversation_id), user=user)
    except (Conversation.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("Conversation introuvable"))


def chat_is_available(topic: Topic | None) -> bool:
    """Whether routing says an agent could take a live chat now (False if routing says no)."""
    if _routing_chat_available is None:
        return False
    try:
        if topic is not None:
            return bool(_routing_chat_available(topic))
        return any(_routing_chat_available(t) for t in Topic.objects.filter(is_active=True)[:20])
    except Exception:  # availability must never break the conversation
        logger.exception("routing.chat_available failed")
        return False


def handoff_url(kind: str, conversation: Conversation) -> str:
    """Target URL in the other app for a hand-off ("chat", "message" or "callback")."""
    params: dict[str, str] = {}
    if conversation.topic is not None:
        params["topic"] = conversation.topic.slug
    if kind in ("chat", "message"):
        params["chatbot"] = str(conversation.pk)
    if conversation.fragile:
        params["fragile"] = "1"
    base = {"chat": CHAT_URL, "message": MESSAGE_URL, "callback": CALLBACK_URL}[kind]
    return base + ("?" + urlencode(params) if params else "")


def handoff_offer(conversation: Conversation, reason: str) -> dict[str, Any]:
    """The options shown to the citizen: live chat when an agent is free, else message/callback."""
    live = chat_is_available(conversation.topic)
    options = []
    if live:
        options.append(
            {
                "kind": "chat",
                "label": _("Discuter maintenant avec un conseiller"),
                "url": reverse("knowledge:handoff", args=[conversation.pk, "chat"]),
            }
        )
    options.append(
        {
            "kind": "message",
            "label": _("Écrire un message sécurisé (votre conversation y sera jointe)"),
            "url": reverse("knowledge:handoff", args=[conversation.pk, "message"]),
        }
    )
    options.append(
        {
            "kind": "callback",
            "label": _("Être rappelé par un conseiller"),
            "url": reverse("knowledge:handoff", args=[conversation.pk, "callback"]),
        }
    )
    messages = {
        "request": _("Je vous mets en relation avec un conseiller."),
        "failures": _("Je n'arrive pas à vous répondre. Un conseiller peut prendre le relais."),
        "distress": _(
            "Je comprends que la situation est difficile. Un conseiller peut vous aider "
            "personnellement."
        ),
        "escalate": _("Pour cette situation, un conseiller peut examiner votre dossier."),
    }
    if not live:
        extra = _("Aucun conseiller n'est disponible en direct pour le moment.")
    else:
        extra = _("Un conseiller est disponible en direct.")
    return {
        "reason": reason,
        "message": messages.get(reason, messages["request"]) + " " + extra,
        "chat_available": live,
        "fragile": conversation.fragile,
        "options": options,
    }


def _article_payload(article: Article, confidence: float) -> dict[str, Any]:
    return {
        "slug": article.slug,
        "title": article.title,
        "summary": excerpt(article.body, 320),
        "url": article.get_absolute_url(),
        "topic": article.topic.slug,
        "escalate": article.escalate,
        "confidence": round(confidence, 3),
    }


DONT_KNOW_TEXT = gettext_lazy(
    "Je ne suis pas sûr de comprendre votre question. Pouvez-vous la reformuler avec d'autres "
    "mots (par exemple « carte Vitale perdue », « changer d'adresse aux impôts ») ?"
)


def post_chatbot_message(
    user: User, text: str, conversation_id: ConversationId | None = None
) -> dict[str, Any]:
    """Answer a citizen's question in a conversation and decide whether to offer a human.

    Validates the text (1-1000 characters), continues the user's conversation (or starts one;
    also after 30 minutes of silence),
    answers from the public knowledge base, and offers a hand-off on request, on distress, on
    an "escalate" article, or after two failed answers in a row. Runs in one transaction with
    the conversation row locked (two quick messages keep their order and failure count).
    """
    text = validate_question(text)
    reply = E.get_engine().answer(text, audience="public")
    now = timezone.now()
    with transaction.atomic():
        conversation = None
        if conversation_id is not None and conversation_id != "":
            try:
                conversation = Conversation.objects.select_for_update().get(
                    pk=int(conversation_id), user=user
                )
            except (Conversation.DoesNotExist, TypeError, ValueError):
                raise NotFound(_("Conversation introuvable"))
            idle_since = now - dt.timedelta(minutes=CONVERSATION_IDLE_MINUTES)
            if conversation.last_activity_at < idle_since:
                conversation = None  # a new visit: a new conversation (fresh failure count)
        if conversation is None:
            conversation = Conversation.objects.create(user=user, started_at=now)
        article = None
        if reply.hit is not None:
            article = Article.objects.select_related("topic").filter(pk=reply.hit.doc.id).first()
        if reply.topic_id and (conversation.topic_id is None or reply.kind == "answer"):
            if article is not None and article.topic_id == reply.topic_id:
                conversation.topic = article.topic
            elif conversation.topic_id != reply.topic_id:
                conversation.topic = Topic.objects.filter(pk=reply.topic_id).first()
        handoff_reason = None
        if reply.distress:
            conversation.fragile = True
            handoff_reason = "distress"
        if reply.kind == "handoff":
            outcome = Turn.Outcome.HANDOFF
            handoff_reason = handoff_reason or "request"
            answer_text = (reply.smalltalk.answer if reply.smalltalk else "") or _(
                "Bien sûr, je vous propose d'échanger avec un conseiller."
            )
        elif reply.kind == "answer" and article is not None:
            outcome = Turn.Outcome.ANSWERED
            conversation.failures_in_row = 0
            answer_text = article.title
            if article.escalate:
                handoff_reason = handoff_reason or "escalate"
        elif reply.kind == "smalltalk" and reply.smalltalk is not None:
            outcome = Turn.Outcome.SMALLTALK
            answer_text = reply.smalltalk.answer
        else:
            outcome = Turn.Outcome.DONT_KNOW
            conversation.failures_in_row += 1
            answer_text = str(DONT_KNOW_TEXT)
            if conversation.failures_in_row >= FAILURES_BEFORE_HANDOFF:
                handoff_reason = handoff_reason or "failures"
        seq = (conversation.turns.aggregate(m=Max("seq"))["m"] or 0) + 1
        if handoff_reason:
            conversation.handoff_offered = True
        conversation.last_activity_at = now
        conversation.save()
        turn = Turn.objects.create(
            conversation=conversation,
            seq=seq,
            question=text,
            answer=answer_text,
            outcome=outcome,
            article=article if outcome == Turn.Outcome.ANSWERED else None,
            smalltalk=reply.smalltalk.slug if reply.smalltalk else "",
            confidence=round(reply.confidence, 4),
            distress=reply.distress,
            handoff_offered=bool(handoff_reason),
            created_at=now,
        )
    payload: dict[str, Any] = {
        "conversation": conversation.pk,
        "turn": turn.pk,
        "outcome": outcome,
        "text": answer_text,
        "article": None,
        "suggestions": [],
        "topics": [],
        "handoff": handoff_offer(conversation, handoff_reason) if handoff_reason else None,
        "can_rate": outcome == Turn.Outcome.ANSWERED,
    }
    if outcome == Turn.Outcome.ANSWERED and article is not None:
        payload["article"] = _article_payload(article, reply.confidence)
        payload["text"] = _("Voici ce que j'ai trouvé :")
    if outcome in (Turn.Outcome.ANSWERED, Turn.Outcome.DONT_KNOW):
        suggested = Article.objects.select_related("topic").in_bulk(
            [h.doc.id for h in reply.suggestions]
        )
        payload["suggestions"] = [
            {"slug": a.slug, "title": a.title, "url": a.get_absolute_url()}
            for a in (suggested.get(h.doc.id) for h in reply.suggestions)
            if a is not None and a.is_public and a.is_published
        ]
    if outcome == Turn.Outcome.DONT_KNOW:
        payload["topics"] = [
            {"slug": t.slug, "title": t.title, "url": reverse("knowledge:faq_topic", args=[t.slug])}
            for t in Topic.objects.filter(
                is_active=True,
                articles__status=Article.Status.PUBLISHED,
                articles__audience=Article.Audience.PUBLIC,
            ).distinct()
        ]
    return payload


def rate_turn(user: User, turn_id: int | str, value: int | str) -> dict[str, Any]:
    """Thumbs up (1) / down (-1) on an answer. A thumbs-down counts as a failed answer.

    Locks the conversation row (failure counter). Rating again replaces the previous rating;
    only the first thumbs-down of a turn counts as a failure.
    """
    try:
        value = int(value)
    except (TypeError, ValueError):
        value = 0
    if value not in (1, -1):
        raise ValidationError(_("La note doit valoir 1 (utile) ou -1 (pas utile)."), code="value")
    with transaction.atomic():
        try:
            turn = Turn.objects.select_related("conversation").get(
                pk=int(turn_id), conversation__user=user
            )
        except (Turn.DoesNotExist, TypeError, ValueError):
            raise NotFound(_("Réponse introuvable"))
        if turn.outcome != Turn.Outcome.ANSWERED:
            raise ValidationError(_("Seules les réponses de l'assistant peuvent être notées."))
        conversation = Conversation.objects.select_for_update().get(pk=turn.conversation_id)
        first_down = value == -1 and turn.rating != -1
        turn.rating = value
        turn.rated_at = timezone.now()
        turn.save(update_fields=["rating", "rated_at"])
        handoff = None
        if first_down:
            conversation.failures_in_row += 1
            if conversation.failures_in_row >= FAILURES_BEFORE_HANDOFF:
                conversation.handoff_offered = True
                handoff = "failures"
            conversation.save(update_fields=["failures_in_row", "handoff_offered"])
    return {
        "turn": turn.pk,
        "rating": value,
        "handoff": handoff_offer(conversation, handoff) if handoff else None,
    }


def record_handoff(user: User, conversation_id: ConversationId | None, kind: str) -> str:
    """The citizen chose a hand-off option: remember it (first choice wins) and return the URL."""
    if kind not in ("chat", "message", "callback"):
        raise NotFound(_("Relais inconnu"))
    conversation = get_conversation(user, conversation_id)
    Conversation.objects.filter(pk=conversation.pk, handed_off_at__isnull=True).update(
        handoff_kind=kind, handed_off_at=timezone.now(), handoff_offered=True
    )
    return handoff_url(kind, conversation)


def handoff_transcript(conversation_id: ConversationId | None, user: AnyUser | None) -> str:
    """The chatbot conversation so far as plain text, for its owner only ("" otherwise).

    Used by chat and messaging to prefill a hand-off (the agent sees what was already said).
    """
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated:
        return ""
    try:
        conversation = get_conversation(user, conversation_id)
    except NotFound:
        return ""
    lines = [
        _("Échange avec l'assistant virtuel du %(date)s :")
        % {"date": date_format(timezone.localtime(conversation.started_at), "DATETIME_FORMAT")}
    ]
    for turn in conversation.turns.select_related("article").order_by("seq"):
        lines.append(_("Usager : %(text)s") % {"text": turn.question})
        if turn.outcome == Turn.Outcome.ANSWERED and turn.article is not None:
            answer = _("Article proposé « %(title)s »") % {"title": turn.article.title}
            if turn.rating == -1:
                answer += " " + _("(jugé pas utile)")
            elif turn.rating == 1:
                answer += " " + _("(jugé utile)")
        else:
            answer = plain_text(turn.answer)
        lines.append(_("Assistant : %(text)s") % {"text": answer})
    return "\n".join(lines)


def handoff_context(conversation_id: ConversationId | None, user: User) -> dict[str, Any] | None:
    """What a hand-off target needs: topic slug, fragility and the transcript (owner only)."""
    try:
        conversation = get_conversation(user, conversation_id)
    except NotFound:
        return None
    return {
        "conversation": conversation.pk,
        "topic": conversation.topic.slug if conversation.topic is not None else None,
        "fragile": conversation.fragile,
        "transcript": handoff_transcript(conversation_id, user),
    }


def attach_conversation_to_case(
    conversation_id: ConversationId | None, user: User, case: Case
) -> Event | None:
    """Put the chatbot conversation on the case timeline (once) and mark it handed off.

    For the chat and messaging apps, after they created the case from a hand-off. The case
    must belong to the conversation's owner; returns None when there is nothing to attach.
    """
    if case.citizen_id != getattr(user, "pk", None):
        return None
    transcript = handoff_transcript(conversation_id, user)
    if not transcript:
        return None
    conversation = get_conversation(user, conversation_id)
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if case.events.filter(type=Event.Type.CHATBOT, payload__conversation=locked.pk).exists():
            return None
        if locked.fragile and not case.fragile:
            Case.objects.filter(pk=case.pk).update(fragile=True)
            case.fragile = True
        if locked.handed_off_at is None:
            locked.handed_off_at = timezone.now()
            locked.handoff_kind = locked.handoff_kind or (
                Conversation.Handoff.CHAT
                if case.channel == "chat"
                else Conversation.Handoff.MESSAGE
            )
            locked.save(update_fields=["handed_off_at", "handoff_kind"])
        return add_event(
            case,
            Event.Type.CHATBOT,
            actor=user,
            channel="chatbot",
            body=transcript,
            payload={"conversation": locked.pk, "fragile": locked.fragile},
        )


# --- lifecycle ------------------------------------------------------------------------------------
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


def purge_conversations(now: dt.datetime | None = None, batch: int = 500) -> int:
    """Delete chatbot conversations idle for longer than the retention period. Idempotent."""
    days = int(getattr(settings, "KNOWLEDGE_CONVERSATION_RETENTION_DAYS", 180))
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    total = 0
    while True:
        ids = list(
            Conversation.objects.filter(last_activity_at__lt=cutoff).values_list("id", flat=True)[
                :batch
            ]
        )
        if not ids:
            return total
        deleted, _detail = Conversation.objects.filter(
            id__in=ids, last_activity_at__lt=cutoff
        ).delete()
        total += len(ids) if deleted else 0


# --- guided diagnosis -----------------------------------------------------------------------------
@dataclass
class DiagnosisStep:
    node: DiagnosisNode
    choice: DiagnosisChoice | None  # the answer chosen at this node (None for the current one)


def walk(tree: DiagnosisTree, choice_ids: list[int]) -> list[DiagnosisStep]:
    """Replay a path of choice ids from the root; raise ValidationError if it leaves the tree."""
    if tree.root_id is None:
        raise ValidationError(_("Cet arbre n'a pas de première question."))
    nodes = {n.pk: n for n in tree.nodes.select_related("article", "service")}
    choices = {
        c.pk: c for c in DiagnosisChoice.objects.filter(node__tree=tree).order_by("position", "id")
    }
    node = nodes.get(tree.root_id)
    steps: list[DiagnosisStep] = []
    for choice_id in choice_ids:
        choice = choices.get(choice_id)
        if node is None or choice is None or choice.node_id != node.pk:
            raise ValidationError(_("Ce parcours ne correspond pas à l'arbre de diagnostic."))
        steps.append(DiagnosisStep(node, choice))
        node = nodes.get(choice.next_node_id)
        if len(steps) > len(nodes):
            raise ValidationError(_("Ce parcours boucle sur lui-même."))
    if node is None:
        raise ValidationError(_("Ce parcours ne correspond pas à l'arbre de diagnostic."))
    steps.append(DiagnosisStep(node, None))
    return steps


def parse_path(raw: str | None) -> list[int]:
    if not raw:
        return []
    try:
        return [int(part) for part in str(raw).split(",") if part.strip()]
    except ValueError:
        raise ValidationError(_("Parcours illisible."))


def diagnosis_summary(
    tree: DiagnosisTree, steps: list[DiagnosisStep]
) -> tuple[str, dict[str, Any]]:
    outcome = steps[-1].node
    lines = [_("Diagnostic guidé « %(title)s »") % {"title": tree.title}]
    path = []
    for step in steps[:-1]:
        choice = step.choice
        assert choice is not None  # walk() gives every step but the last its answer
        lines.append(f"- {step.node.text} → {choice.label}")
        path.append({"question": step.node.text, "answer": choice.label, "choice": choice.pk})
    result: dict[str, Any] = {"kind": outcome.kind, "text": outcome.text}
    lines.append(_("Issue : %(text)s") % {"text": outcome.text})
    if outcome.kind == DiagnosisNode.Kind.ARTICLE and outcome.article is not None:
        result["article"] = outcome.article.slug
        lines.append(_("Article : %(title)s") % {"title": outcome.article.title})
    elif outcome.kind == DiagnosisNode.Kind.DOCUMENTS:
        result["documents"] = outcome.documents
        lines += [f"  • {doc}" for doc in outcome.documents]
    elif outcome.kind == DiagnosisNode.Kind.TRANSFER and outcome.service is not None:
        result["service"] = outcome.service.code
        lines.append(_("Service : %(name)s") % {"name": outcome.service.name})
    return "\n".join(lines), {"tree": tree.slug, "path": path, "outcome": result}


def save_diagnosis(*, case: Case, agent: User, tree: DiagnosisTree, choice_ids: list[int]) -> Event:
    """Save the path an agent walked as a "diagnosis" event on the case timeline (internal).

    The caller has checked the agent may act on the case. The path must end on an outcome.
    """
    if not agent.is_staff_member:
        raise ValidationError(_("Seuls les agents peuvent enregistrer un diagnostic."))
    steps = walk(tree, choice_ids)
    if not steps[-1].node.is_outcome:
        raise ValidationError(
            _("Le diagnostic n'est pas terminé : répondez à la question « %(q)s ».")
            % {"q": steps[-1].node.text}
        )
    body, payload = diagnosis_summary(tree, steps)
    return add_event(
        case, Event.Type.DIAGNOSIS, actor=agent, internal=True, body=body, payload=payload
    )
