"""The chatbot: answering questions, ratings, the hand-off to a human and its transcript.

``handoff_transcript``, ``handoff_context`` and ``attach_conversation_to_case`` are the narrow
interface the chat and messaging apps use (through ``knowledge.services``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from contactcenter.directory import booking_offer
from contactcenter.exceptions import NotFound
from contactcenter.models import Case, Event, Topic, User
from contactcenter.services import add_event

from .. import engine as E
from ..models import Article, ArticleTranslation, Conversation, Turn
from ..rendering import excerpt, plain_text
from .articles import MAX_QUESTION_CHARS, AnyUser
from .translations import english_versions

logger = logging.getLogger(__name__)

FAILURES_BEFORE_HANDOFF = 2
CONVERSATION_IDLE_MINUTES = 30

# Hand-off targets in the other apps (the chat app may not be installed yet: plain paths).
CHAT_URL = "/tchat/nouveau/"
MESSAGE_URL = "/espace/demandes/nouvelle/"
CALLBACK_URL = "/rappel/nouveau/"

# A conversation id as received (a form's text or a number; anything else is "not found").
# The chatbot itself is for signed-in users.
ConversationId = int | str


_routing_chat_available: Callable[[Topic | str], bool] | None
try:  # routing owns agent availability; knowledge may import routing (allowed direction).
    from routing import chat_available as _routing_chat_available
except ImportError:  # pragma: no cover - exercised only while routing is being written
    _routing_chat_available = None
    logger.warning("routing.chat_available is missing: the chatbot will not offer live chat.")


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


HANDOFF_KINDS = ("chat", "message", "callback", "booking")


def handoff_url(kind: str, conversation: Conversation) -> str:
    """Target URL in the other app for a hand-off ("chat", "message", "callback", or
    "booking": the booking page of the appointments app, prefilled with the conversation's
    topic, asked through the core's ``directory.booking_offer``)."""
    if kind == "booking":
        offer = booking_offer(conversation.topic)
        if offer is None:
            raise NotFound(_("Relais inconnu"))
        return str(offer["url"])
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
    if booking_offer(conversation.topic) is not None:
        options.append(
            {
                "kind": "booking",
                "label": _(
                    "Prendre rendez-vous avec un conseiller (sur place, par téléphone ou en visio)"
                ),
                "url": reverse("knowledge:handoff", args=[conversation.pk, "booking"]),
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
        "subject": _("Un conseiller peut vous répondre sur ce sujet."),
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


def _article_payload(
    article: Article, confidence: float, english: ArticleTranslation | None = None
) -> dict[str, Any]:
    """The answer's article; ``english``: its reviewed English version, given for an English
    question (``lang`` says which language the title and summary are in)."""
    url = article.get_absolute_url()
    return {
        "slug": article.slug,
        "title": english.title if english else article.title,
        "summary": excerpt(english.body if english else article.body, 320),
        "url": url + "?lang=en" if english else url,
        "lang": "en" if english else "fr",
        "topic": article.topic.slug,
        "escalate": article.escalate,
        "confidence": round(confidence, 3),
    }


# Shown in English whatever the interface language: the question was asked in English.
ENGLISH_FOUND = "Here is what I found:"
ENGLISH_NOTE = (
    "Here is what I found. This answer is only available in French; your browser's "
    "translation feature can help you read it."
)

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
            answer_text = (reply.smalltalk.answer if reply.smalltalk else "") or (
                _(
                    "Je suis désolé de ne pas avoir su vous aider. "
                    "Je vous propose d'échanger avec un conseiller."
                )
                if reply.smalltalk and reply.smalltalk.slug == E.ABUSE_SMALLTALK
                else _("Bien sûr, je vous propose d'échanger avec un conseiller.")
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
        elif reply.kind == "redirect" and reply.redirection is not None:
            # Another administration's subject: an answer, not a failure (no hand-off count).
            # Our own subject without an article: an adviser is offered at once.
            outcome = Turn.Outcome.REDIRECTED
            answer_text = reply.redirection.message_for(reply.language)[0]
            if reply.redirection.handoff:
                handoff_reason = handoff_reason or "subject"
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
            redirection_id=reply.redirection.id
            if outcome == Turn.Outcome.REDIRECTED and reply.redirection
            else None,
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
    payload["language"] = reply.language
    payload["text_lang"] = get_language() or "fr"
    if outcome == Turn.Outcome.REDIRECTED and reply.redirection is not None:
        payload["text_lang"] = reply.redirection.message_for(reply.language)[1]
        payload["redirection"] = {
            "slug": reply.redirection.slug,
            "title": reply.redirection.title,
            "organisation": reply.redirection.organisation,
            "url": reply.redirection.url,
            "kind": reply.redirection.kind,
        }
    english = {}
    if reply.language == "en" and outcome in (Turn.Outcome.ANSWERED, Turn.Outcome.DONT_KNOW):
        english = english_versions(
            [article.pk if article else None, *(h.doc.id for h in reply.suggestions)]
        )
    if outcome == Turn.Outcome.ANSWERED and article is not None:
        translation = english.get(article.pk)
        payload["article"] = _article_payload(article, reply.confidence, translation)
        payload["text"] = _("Voici ce que j'ai trouvé :")
        if reply.language == "en":
            # An English question: the English version, else the French one with a note.
            payload["text"] = ENGLISH_FOUND if translation else ENGLISH_NOTE
            payload["text_lang"] = "en"
    if outcome in (Turn.Outcome.ANSWERED, Turn.Outcome.DONT_KNOW):
        suggested = Article.objects.select_related("topic").in_bulk(
            [h.doc.id for h in reply.suggestions]
        )
        payload["suggestions"] = [
            _suggestion(a, english.get(a.pk))
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


def _suggestion(article: Article, english: ArticleTranslation | None) -> dict[str, str]:
    if english is not None:
        return {
            "slug": article.slug,
            "title": english.title,
            "url": article.get_absolute_url() + "?lang=en",
            "lang": "en",
        }
    return {
        "slug": article.slug,
        "title": article.title,
        "url": article.get_absolute_url(),
        "lang": "fr",
    }


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
    if kind not in HANDOFF_KINDS:
        raise NotFound(_("Relais inconnu"))
    conversation = get_conversation(user, conversation_id)
    url = handoff_url(kind, conversation)
    Conversation.objects.filter(pk=conversation.pk, handed_off_at__isnull=True).update(
        handoff_kind=kind, handed_off_at=timezone.now(), handoff_offered=True
    )
    return url


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
