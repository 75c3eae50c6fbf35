"""Knowledge-base indicators for the supervisor dashboard.

Every function takes a half-open period ``[start, end)`` of aware datetimes and only reads.
Rates are floats in 0..1, or None when there is nothing to measure (the dashboard shows "—").

- recognition_rate: share of the assistant's answers to real questions that found an article.
- dont_know_rate: share of those questions answered "je ne sais pas".
- handoff_rate: share of conversations that ended with the citizen going to a human
  (``handoff_offer_rate``: share where a human was offered).
- article_ratings: thumbs up / down per article.
- top_unanswered: the questions most often left without answer (to write new content).
- top_redirections: the subjects the base does not cover that were asked most (redirected to
  another organisation; a frequent one may deserve an article).
- deflection_rate: share of contact-form displays of suggestions after which the citizen
  clicked "Cette réponse me suffit" (no request created).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

from django.db.models import Count, Max, Q

from .models import Conversation, DeflectionEvent, Turn
from .text import fold

QUESTION_OUTCOMES = (Turn.Outcome.ANSWERED, Turn.Outcome.DONT_KNOW)


def _turns(start: dt.datetime, end: dt.datetime):
    return Turn.objects.filter(created_at__gte=start, created_at__lt=end)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def question_counts(start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    counts = _turns(start, end).aggregate(
        answered=Count("id", filter=Q(outcome=Turn.Outcome.ANSWERED)),
        dont_know=Count("id", filter=Q(outcome=Turn.Outcome.DONT_KNOW)),
        smalltalk=Count("id", filter=Q(outcome=Turn.Outcome.SMALLTALK)),
        handoff=Count("id", filter=Q(outcome=Turn.Outcome.HANDOFF)),
        redirected=Count("id", filter=Q(outcome=Turn.Outcome.REDIRECTED)),
    )
    return counts


def recognition_rate(start: dt.datetime, end: dt.datetime) -> float | None:
    c = question_counts(start, end)
    return _rate(c["answered"], c["answered"] + c["dont_know"])


def dont_know_rate(start: dt.datetime, end: dt.datetime) -> float | None:
    c = question_counts(start, end)
    return _rate(c["dont_know"], c["answered"] + c["dont_know"])


def _conversations(start: dt.datetime, end: dt.datetime):
    return Conversation.objects.filter(started_at__gte=start, started_at__lt=end)


def handoff_rate(start: dt.datetime, end: dt.datetime) -> float | None:
    counts = _conversations(start, end).aggregate(
        total=Count("id"), handed=Count("id", filter=Q(handed_off_at__isnull=False))
    )
    return _rate(counts["handed"], counts["total"])


def handoff_offer_rate(start: dt.datetime, end: dt.datetime) -> float | None:
    counts = _conversations(start, end).aggregate(
        total=Count("id"), offered=Count("id", filter=Q(handoff_offered=True))
    )
    return _rate(counts["offered"], counts["total"])


def article_ratings(start: dt.datetime, end: dt.datetime, limit: int | None = None) -> list[dict]:
    """[{slug, title, up, down, total, satisfaction}] most rated first."""
    rows = (
        _turns(start, end)
        .filter(rating__isnull=False, article__isnull=False)
        .values("article__slug", "article__title")
        .annotate(up=Count("id", filter=Q(rating=1)), down=Count("id", filter=Q(rating=-1)))
        .order_by()
    )
    result = [
        {
            "slug": row["article__slug"],
            "title": row["article__title"],
            "up": row["up"],
            "down": row["down"],
            "total": row["up"] + row["down"],
            "satisfaction": _rate(row["up"], row["up"] + row["down"]),
        }
        for row in rows
    ]
    result.sort(key=lambda r: (-r["total"], -r["down"], r["title"]))
    return result[:limit] if limit else result


_PUNCT = re.compile(r"[^a-z0-9]+")


def _normalise(question: str) -> str:
    return _PUNCT.sub(" ", fold(question)).strip()


def top_redirections(start: dt.datetime, end: dt.datetime, limit: int = 10) -> list[dict]:
    """[{title, organisation, count}]: the redirected subjects, most asked first."""
    rows = (
        _turns(start, end)
        .filter(outcome=Turn.Outcome.REDIRECTED, redirection__isnull=False)
        .values("redirection__title", "redirection__organisation")
        .annotate(count=Count("id"))
        .order_by("-count", "redirection__title")[:limit]
    )
    return [
        {
            "title": row["redirection__title"],
            "organisation": row["redirection__organisation"],
            "count": row["count"],
        }
        for row in rows
    ]


def top_unanswered(start: dt.datetime, end: dt.datetime, limit: int = 10) -> list[dict]:
    """[{question, count, last_asked}]: "je ne sais pas" questions grouped by their wording
    (case, accents and punctuation ignored), most frequent first."""
    counter: Counter[str] = Counter()
    example: dict[str, str] = {}
    last: dict[str, dt.datetime] = {}
    rows = (
        _turns(start, end)
        .filter(outcome=Turn.Outcome.DONT_KNOW)
        .values_list("question", "created_at")
        .order_by("created_at")
        .iterator()
    )
    for question, created_at in rows:
        key = _normalise(question)
        if not key:
            continue
        counter[key] += 1
        example[key] = question.strip()
        last[key] = created_at
    return [
        {"question": example[key], "count": count, "last_asked": last[key]}
        for key, count in sorted(
            counter.items(), key=lambda kv: (-kv[1], -last[kv[0]].timestamp())
        )[:limit]
    ]


def deflection_counts(start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    events = DeflectionEvent.objects.filter(created_at__gte=start, created_at__lt=end)
    shown = events.filter(kind=DeflectionEvent.Kind.SHOWN)
    # One display = suggestions shown to one person for one query (up to three articles).
    displays = shown.values("user_id", "query", "topic_id").distinct().count()
    sufficient = events.filter(kind=DeflectionEvent.Kind.SUFFICIENT).count()
    return {"displays": displays, "articles_shown": shown.count(), "sufficient": sufficient}


def deflection_rate(start: dt.datetime, end: dt.datetime) -> float | None:
    counts = deflection_counts(start, end)
    return _rate(min(counts["sufficient"], counts["displays"]), counts["displays"])


def summary(start: dt.datetime, end: dt.datetime) -> dict:
    """Everything above in one dict (one call for the dashboard)."""
    counts = question_counts(start, end)
    questions = counts["answered"] + counts["dont_know"]
    conversations = _conversations(start, end).aggregate(
        total=Count("id"),
        offered=Count("id", filter=Q(handoff_offered=True)),
        handed=Count("id", filter=Q(handed_off_at__isnull=False)),
        fragile=Count("id", filter=Q(fragile=True)),
        last=Max("last_activity_at"),
    )
    return {
        "questions": questions,
        "answered": counts["answered"],
        "dont_know": counts["dont_know"],
        "smalltalk": counts["smalltalk"],
        "redirected": counts["redirected"],
        "recognition_rate": _rate(counts["answered"], questions),
        "dont_know_rate": _rate(counts["dont_know"], questions),
        "conversations": conversations["total"],
        "handoff_offered": conversations["offered"],
        "handoff_rate": _rate(conversations["handed"], conversations["total"]),
        "handoff_offer_rate": _rate(conversations["offered"], conversations["total"]),
        "fragile_conversations": conversations["fragile"],
        "article_ratings": article_ratings(start, end, limit=20),
        "top_unanswered": top_unanswered(start, end),
        "top_redirections": top_redirections(start, end),
        "deflection": deflection_counts(start, end),
        "deflection_rate": deflection_rate(start, end),
    }
