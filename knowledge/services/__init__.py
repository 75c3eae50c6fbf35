"""Business logic of the knowledge base (plain functions: validate, then act).

Public contract used by other apps (keep the names and signatures):

- ``search_articles(query, *, topic=None, audience="public", limit=3) -> list[SearchResult]``
- ``record_deflection(*, user, article, query, topic, sufficient)``
- ``handoff_transcript(conversation_id, user) -> str``
- ``guess_topic(text, *, service=None) -> Topic | None`` for the channels opening a case
  from free text (mail), and ``one_index_check()``: a block (a batch of e-mails) in which the
  knowledge base's state is checked once, not at every guess.
- ``propose_article(*, topic, title, body, slug, author, comment) -> Article``: a draft for
  the knowledge team's review (the forum's "thread to article").
- ``handoff_context(conversation_id, user) -> dict | None`` and
  ``attach_conversation_to_case(conversation_id, user, case)`` for the hand-off target apps.

Modules: ``articles`` (versions, visibility, search, deflection, review dates and expiry),
``chatbot`` (answers, ratings, hand-off and its transcript, purge), ``translations`` (the
articles' reviewed English versions) and ``diagnosis`` (guided diagnosis trees). This
package exports their public API.
"""

from __future__ import annotations

from ..engine import one_index_check
from .articles import (
    MAX_QUESTION_CHARS,
    SearchResult,
    alert_review_due,
    answered_otherwise,
    articles_due_for_review,
    attach_questions,
    confirmed_answers,
    effective_owner,
    get_article,
    guess_topic,
    mark_out_of_scope,
    propose_article,
    public_topics,
    record_deflection,
    save_article,
    search_articles,
    snapshot_version,
    still_answered,
    taken_away,
    unpublish_expired,
    visible_articles,
)
from .chatbot import (
    DONT_KNOW_TEXT,
    attach_conversation_to_case,
    chat_is_available,
    get_conversation,
    handoff_context,
    handoff_offer,
    handoff_transcript,
    post_chatbot_message,
    purge_conversations,
    rate_turn,
    record_handoff,
    validate_question,
)
from .diagnosis import (
    DiagnosisStep,
    diagnosis_summary,
    parse_path,
    save_diagnosis,
    walk,
)
from .translations import (
    english_version,
    english_versions,
    indexed_english_text,
    load_translations,
    save_translation,
)

__all__ = [
    "MAX_QUESTION_CHARS",
    "SearchResult",
    "alert_review_due",
    "answered_otherwise",
    "attach_questions",
    "confirmed_answers",
    "articles_due_for_review",
    "effective_owner",
    "mark_out_of_scope",
    "get_article",
    "guess_topic",
    "propose_article",
    "one_index_check",
    "public_topics",
    "record_deflection",
    "save_article",
    "search_articles",
    "snapshot_version",
    "still_answered",
    "taken_away",
    "unpublish_expired",
    "visible_articles",
    "DONT_KNOW_TEXT",
    "attach_conversation_to_case",
    "chat_is_available",
    "get_conversation",
    "handoff_context",
    "handoff_offer",
    "handoff_transcript",
    "post_chatbot_message",
    "purge_conversations",
    "rate_turn",
    "record_handoff",
    "validate_question",
    "english_version",
    "english_versions",
    "indexed_english_text",
    "load_translations",
    "save_translation",
    "DiagnosisStep",
    "diagnosis_summary",
    "parse_path",
    "save_diagnosis",
    "walk",
]
