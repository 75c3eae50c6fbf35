"""Articles' English versions: review, what is shown, and the demo's reviewed translations.

A translation is edited on its article's editor page (same owner service, same permissions).
It is shown only once an editor has marked it reviewed, and only while the French text it was
reviewed against is unchanged: editing the French title or body sends it back to review.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from contactcenter.models import User

from ..models import Article, ArticleTranslation

ENGLISH = ArticleTranslation.Language.ENGLISH


def _touch_article(article_id: int) -> None:
    """What the search index reads changed: the article's ``updated_at`` moves the index
    signature, so every process rebuilds its index at the next search."""
    Article.objects.filter(pk=article_id).update(updated_at=timezone.now())


@transaction.atomic
def save_translation(
    translation: ArticleTranslation, *, author: User | None = None
) -> ArticleTranslation:
    """Save an edited translation. Marking it reviewed (or editing a reviewed one) records who
    reviewed it, when, and against which version of the French article."""
    previous = None
    if translation.pk:
        previous = ArticleTranslation.objects.select_for_update().filter(pk=translation.pk).first()
    content_changed = previous is None or (previous.title, previous.body, previous.status) != (
        translation.title,
        translation.body,
        translation.status,
    )
    if translation.is_reviewed and content_changed:
        translation.reviewed_by = author
        translation.reviewed_at = timezone.now()
        translation.source_version = translation.article.version
    translation.save()
    if content_changed and (translation.is_reviewed or (previous and previous.is_reviewed)):
        _touch_article(translation.article_id)
    return translation


def outdate_translations(article: Article) -> int:
    """The French title or body changed: its reviewed translations go back to review."""
    return ArticleTranslation.objects.filter(
        article=article, status=ArticleTranslation.Status.REVIEWED
    ).update(status=ArticleTranslation.Status.DRAFT, updated_at=timezone.now())


def english_versions(article_ids: Iterable[int | None]) -> dict[int, ArticleTranslation]:
    """Reviewed English versions of these articles, by article id (one query)."""
    ids = [i for i in article_ids if i is not None]
    if not ids:
        return {}
    found = ArticleTranslation.objects.filter(
        article_id__in=ids, language=ENGLISH, status=ArticleTranslation.Status.REVIEWED
    )
    return {t.article_id: t for t in found}


def english_version(article: Article) -> ArticleTranslation | None:
    return english_versions([article.pk]).get(article.pk)


def indexed_english_text(article_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """What the search index adds to an article's example questions from its reviewed English
    version: the title and the first paragraph (the summary), so that English questions also
    match the English wording. The whole body is left out: on the dev set it made the
    assistant answer more out-of-scope questions (docs/knowledge.md, "English versions")."""
    return {
        i: (t.title, t.body.strip().split("\n\n", 1)[0])
        for i, t in english_versions(article_ids).items()
    }


def load_translations(path: str | Path) -> int:
    """Load reviewed English versions from a file ``{"articles": {slug: {title, body}}}``.

    For the demo data: the file's translations were reviewed against the reference articles,
    so they are stored reviewed against each article's current version. Idempotent (matched
    on article and language). Returns how many articles have one.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    entries = data["articles"]
    articles = Article.objects.in_bulk(list(entries), field_name="slug")
    now = timezone.now()
    loaded = 0
    with transaction.atomic():
        for slug, entry in entries.items():
            article = articles.get(slug)
            if article is None:
                continue
            ArticleTranslation.objects.update_or_create(
                article=article,
                language=ENGLISH,
                defaults={
                    "title": entry["title"],
                    "body": entry["body"],
                    "status": ArticleTranslation.Status.REVIEWED,
                    "source_version": article.version,
                    "reviewed_at": now,
                },
            )
            loaded += 1
        Article.objects.filter(slug__in=list(articles)).update(updated_at=now)
    return loaded
