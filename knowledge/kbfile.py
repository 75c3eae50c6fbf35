"""Knowledge-base file format (``shared/kb/faq.json``): validation, import and export.

Format (version 1)::

    {"version": 1, "language": "fr",
     "topics": [{"slug": "impots", "title": "Impôts des particuliers"}, ...],
     "articles": [{"slug", "topic", "title", "body", "audience": "public"|"agent",
                   "questions": [...], "keywords": [...], "escalate": bool,
                   # optional, written back by export_kb:
                   "status", "owner" (service code), "review_date", "expiry_date" (YYYY-MM-DD),
                   "related": [slugs]}, ...],
     "smalltalk": [{"slug", "questions": [...], "answer"}, ...],
     # optional: the editors' lexicon (knowledge.Synonym), upserted by term
     "synonyms": [{"term": "bb", "replacement": "bébé", "note": ""}, ...],
     # optional: subjects the base does not cover (knowledge.Redirection), upserted by slug
     "redirections": [{"slug", "title", "organisation", "triggers": [...], "message",
                       "message_en", "url", "kind": "external"|"handoff"}, ...]}

The whole file is validated before anything is written; the import itself runs in one
transaction, so a bad file leaves the database untouched. Errors name the line and the slug.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction

from contactcenter.models import Service, Topic

from .encoder import install_default_out_of_scope
from .lexicon import install_default_lexicon
from .models import Article, OutOfScopeExample, Redirection, SmallTalk, Synonym
from .redirections import FIELDS as REDIRECTION_FIELDS
from .redirections import install_default_redirections

FORMAT_VERSION = 1
DEFAULT_SERVICE_CODE = "accueil"
DEFAULT_SERVICE_NAME = "Accueil général"

ARTICLE_REQUIRED = ("slug", "topic", "title", "body")
SMALLTALK_REQUIRED = ("slug", "questions", "answer")


class KBFileError(Exception):
    """The file cannot be imported; ``errors`` lists every problem found (French, with lines)."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass
class ImportReport:
    topics_created: int = 0
    topics_updated: int = 0
    articles_created: int = 0
    articles_updated: int = 0
    articles_unchanged: int = 0
    smalltalk_created: int = 0
    smalltalk_updated: int = 0
    synonyms: int = 0
    redirections: int = 0
    created_service: str | None = None
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"{self.articles_created} article(s) créé(s)",
            f"{self.articles_updated} mis à jour",
            f"{self.articles_unchanged} inchangé(s)",
            f"{self.topics_created} thème(s) créé(s)",
            f"{self.smalltalk_created + self.smalltalk_updated} échange(s) courant(s)",
        ]
        return ", ".join(parts) + "."


def _line_finder(text: str) -> Callable[[str], int | None]:
    """Return ``line_of(kind, slug)``: the 1-based line where ``"slug": "<slug>"`` appears.

    Entries are located in file order, so two entries with the same slug get their own lines.
    """
    positions: dict[str, list[int]] = {}
    for match in re.finditer(r'"slug"\s*:\s*"((?:[^"\\]|\\.)*)"', text):
        try:
            slug = json.loads(f'"{match.group(1)}"')
        except ValueError:
            continue
        positions.setdefault(slug, []).append(text.count("\n", 0, match.start()) + 1)
    used: dict[str, int] = {}

    def line_of(slug: str) -> int | None:
        lines = positions.get(slug)
        if not lines:
            return None
        index = used.get(slug, 0)
        used[slug] = index + 1
        return lines[min(index, len(lines) - 1)]

    return line_of


def _where(kind: str, index: int, slug: Any, line: int | None) -> str:
    label = f"{kind} n° {index + 1}"
    if isinstance(slug, str) and slug:
        label += f" « {slug} »"
    if line:
        label = f"ligne {line}, {label}"
    return label


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


def _parse_date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError
    return dt.date.fromisoformat(value)


def load_file(path: str | Path) -> tuple[dict, str]:
    """Read and JSON-decode the file; raise KBFileError with the line of a syntax error."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KBFileError([f"Fichier introuvable : {path}"])
    except (OSError, UnicodeDecodeError) as exc:
        raise KBFileError([f"Lecture impossible de {path} : {exc}"])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KBFileError([f"ligne {exc.lineno}, colonne {exc.colno} : JSON invalide ({exc.msg})."])
    return data, text


def validate(data: Any, text: str = "") -> dict:
    """Check the whole structure; return the cleaned entries or raise KBFileError (all errors)."""
    errors: list[str] = []
    if not isinstance(data, dict):
        raise KBFileError(["Le fichier doit contenir un objet JSON (topics, articles, smalltalk)."])
    version = data.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        errors.append(f"Version de format {version!r} non prise en charge (attendu : 1).")
    line_of = _line_finder(text) if text else (lambda slug: None)

    topics: dict[str, dict] = {}
    raw_topics = data.get("topics", [])
    if not isinstance(raw_topics, list):
        errors.append("« topics » doit être une liste.")
        raw_topics = []
    for i, item in enumerate(raw_topics):
        slug = item.get("slug") if isinstance(item, dict) else None
        where = _where("thème", i, slug, line_of(slug) if isinstance(slug, str) else None)
        if not isinstance(item, dict):
            errors.append(f"{where} : un objet est attendu.")
            continue
        for name in ("slug", "title"):
            if not isinstance(item.get(name), str) or not item[name].strip():
                errors.append(f"{where} : champ obligatoire « {name} » manquant ou vide.")
        if not isinstance(slug, str) or not slug:
            continue
        try:
            validate_slug(slug)
        except ValidationError:
            errors.append(f"{where} : identifiant invalide (lettres, chiffres, tirets).")
        if slug in topics:
            errors.append(f"{where} : thème en double.")
        topics[slug] = {"slug": slug, "title": str(item.get("title", "")).strip()[:200]}

    known_topics = set(topics) | set(Topic.objects.values_list("slug", flat=True))
    services = set(Service.objects.values_list("code", flat=True))
    articles: list[dict] = []
    seen: set[str] = set()
    raw_articles = data.get("articles")
    if not isinstance(raw_articles, list):
        errors.append("« articles » est obligatoire et doit être une liste.")
        raw_articles = []
    for i, item in enumerate(raw_articles):
        slug = item.get("slug") if isinstance(item, dict) else None
        where = _where("article", i, slug, line_of(slug) if isinstance(slug, str) else None)
        if not isinstance(item, dict):
            errors.append(f"{where} : un objet est attendu.")
            continue
        problems: list[str] = []
        for name in ARTICLE_REQUIRED:
            if not isinstance(item.get(name), str) or not item[name].strip():
                problems.append(f"champ obligatoire « {name} » manquant ou vide")
        if isinstance(slug, str) and slug:
            try:
                validate_slug(slug)
            except ValidationError:
                problems.append("identifiant invalide (lettres, chiffres, tirets)")
            if len(slug) > 100:
                problems.append("identifiant trop long (100 caractères au plus)")
            if slug in seen:
                problems.append("article en double dans le fichier")
            seen.add(slug)
        topic = item.get("topic")
        if isinstance(topic, str) and topic and topic not in known_topics:
            problems.append(f"thème inconnu « {topic} » (absent de « topics » et de la base)")
        if isinstance(item.get("title"), str) and len(item["title"]) > 200:
            problems.append("titre trop long (200 caractères au plus)")
        audience = item.get("audience", Article.Audience.PUBLIC)
        if audience not in Article.Audience.values:
            problems.append(f"« audience » doit valoir public ou agent (reçu : {audience!r})")
        status = item.get("status", Article.Status.PUBLISHED)
        if status not in Article.Status.values:
            problems.append(
                f"« status » doit valoir draft, published ou archived (reçu : {status!r})"
            )
        for name in ("questions", "keywords", "related"):
            if name in item and not _str_list(item[name]):
                problems.append(f"« {name} » doit être une liste de textes non vides")
        if "escalate" in item and not isinstance(item["escalate"], bool):
            problems.append("« escalate » doit valoir true ou false")
        owner = item.get("owner")
        if owner not in (None, "") and owner not in services:
            problems.append(f"service propriétaire inconnu « {owner} »")
        dates = {}
        for name in ("review_date", "expiry_date"):
            try:
                dates[name] = _parse_date(item.get(name))
            except ValueError:
                problems.append(f"« {name} » doit être une date AAAA-MM-JJ")
        if problems:
            errors.extend(f"{where} : {p}." for p in problems)
            continue
        articles.append(
            {
                "slug": slug,
                "topic": topic,
                "title": item["title"].strip(),
                "body": item["body"].strip(),
                "audience": audience,
                "status": item.get("status"),
                "questions": [q.strip() for q in item.get("questions", [])],
                "keywords": [k.strip() for k in item.get("keywords", [])],
                "escalate": bool(item.get("escalate", False)),
                "owner": owner or None,
                "related": item.get("related"),
                **dates,
                "_has": {k for k in ("review_date", "expiry_date", "owner") if k in item},
            }
        )
    all_slugs = seen | set(Article.objects.values_list("slug", flat=True))
    for i, art in enumerate(articles):
        for rel in art["related"] or []:
            if rel not in all_slugs:
                errors.append(
                    f"{_where('article', i, art['slug'], None)} : article lié inconnu « {rel} »."
                )

    smalltalk: list[dict] = []
    raw_small = data.get("smalltalk", [])
    if not isinstance(raw_small, list):
        errors.append("« smalltalk » doit être une liste.")
        raw_small = []
    seen_small: set[str] = set()
    for i, item in enumerate(raw_small):
        slug = item.get("slug") if isinstance(item, dict) else None
        where = _where("échange courant", i, slug, line_of(slug) if isinstance(slug, str) else None)
        if not isinstance(item, dict):
            errors.append(f"{where} : un objet est attendu.")
            continue
        problems = []
        for name in ("slug", "answer"):
            if not isinstance(item.get(name), str) or not item[name].strip():
                problems.append(f"champ obligatoire « {name} » manquant ou vide")
        if not _str_list(item.get("questions")) or not item.get("questions"):
            problems.append("« questions » doit être une liste non vide de textes")
        if isinstance(slug, str) and slug:
            if slug in seen_small:
                problems.append("échange en double dans le fichier")
            seen_small.add(slug)
        if problems:
            errors.extend(f"{where} : {p}." for p in problems)
            continue
        smalltalk.append(
            {"slug": slug, "questions": item["questions"], "answer": item["answer"].strip()}
        )

    synonyms = _clean_synonyms(data.get("synonyms", []), errors)
    redirections = _clean_redirections(data.get("redirections", []), errors)
    if errors:
        raise KBFileError(errors)
    return {
        "topics": list(topics.values()),
        "articles": articles,
        "smalltalk": smalltalk,
        "synonyms": synonyms,
        "redirections": redirections,
    }


def _clean_redirections(raw: Any, errors: list[str]) -> list[dict]:
    if not isinstance(raw, list):
        errors.append("« redirections » doit être une liste.")
        return []
    clean, seen = [], set()
    for i, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            errors.append(f"réorientation n° {i} : un objet est attendu.")
            continue
        slug = item.get("slug")
        where = (
            f"réorientation « {slug} »"
            if isinstance(slug, str) and slug
            else f"réorientation n° {i}"
        )
        problems = []
        for name in ("slug", "title", "message"):
            if not isinstance(item.get(name), str) or not item[name].strip():
                problems.append(f"champ obligatoire « {name} » manquant ou vide")
        for name in ("organisation", "message_en", "url"):
            if not isinstance(item.get(name, ""), str):
                problems.append(f"« {name} » doit être un texte")
        if not _str_list(item.get("triggers")) or not item.get("triggers"):
            problems.append("« triggers » doit être une liste non vide de textes")
        if item.get("kind", "external") not in ("external", "handoff"):
            problems.append("« kind » doit valoir « external » ou « handoff »")
        url = item.get("url") or ""
        if isinstance(url, str) and url and not url.startswith("https://"):
            problems.append("« url » doit commencer par https://")
        if isinstance(slug, str) and slug:
            try:
                validate_slug(slug)
            except ValidationError:
                problems.append("identifiant invalide (lettres, chiffres, tirets)")
            if slug in seen:
                problems.append("en double dans le fichier")
            seen.add(slug)
        if problems:
            errors.extend(f"{where} : {p}." for p in problems)
            continue
        clean.append(
            {
                "slug": slug,
                "title": item["title"].strip()[:200],
                "organisation": (item.get("organisation") or "").strip()[:200],
                "kind": item.get("kind", "external"),
                "triggers": [t.strip() for t in item["triggers"] if t.strip()],
                "message": item["message"].strip(),
                "message_en": (item.get("message_en") or "").strip(),
                "url": url.strip(),
            }
        )
    return clean


def _clean_synonyms(raw: Any, errors: list[str]) -> list[dict]:
    if not isinstance(raw, list):
        errors.append("« synonyms » doit être une liste.")
        return []
    clean, seen = [], set()
    for i, item in enumerate(raw, 1):
        term = item.get("term") if isinstance(item, dict) else None
        replacement = item.get("replacement") if isinstance(item, dict) else None
        if not (isinstance(term, str) and term.strip() and isinstance(replacement, str)):
            errors.append(f"synonyme n° {i} : « term » et « replacement » sont obligatoires.")
            continue
        if len(term) > 100 or len(replacement) > 200:
            errors.append(f"synonyme « {term} » : trop long (100 / 200 caractères au plus).")
            continue
        if term.strip().lower() in seen:
            errors.append(f"synonyme « {term} » en double dans le fichier.")
            continue
        seen.add(term.strip().lower())
        note = item.get("note", "")
        clean.append(
            {
                "term": term.strip(),
                "replacement": replacement.strip(),
                "note": note.strip()[:200] if isinstance(note, str) else "",
            }
        )
    return clean


def _topic_service(service_code: str | None, report: ImportReport) -> Service:
    """The service a new topic is attached to (--service, else first active, else a default)."""
    if service_code:
        try:
            return Service.objects.get(code=service_code)
        except Service.DoesNotExist:
            raise KBFileError([f"Service « {service_code} » introuvable (option --service)."])
    service = Service.objects.filter(is_active=True).order_by("id").first()
    if service is None:
        service, created = Service.objects.get_or_create(
            code=DEFAULT_SERVICE_CODE, defaults={"name": DEFAULT_SERVICE_NAME}
        )
        if created:
            report.created_service = service.code
    return service


def import_data(
    data: Any,
    text: str = "",
    *,
    service_code: str | None = None,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> ImportReport:
    """Validate then import a KB document. Runs in one transaction (nothing half-imported).

    Idempotent: entries are matched by slug and updated; content changes bump the article's
    version and write an ArticleVersion snapshot; an unchanged article is left alone.
    """
    from .services import snapshot_version

    clean = validate(data, text)
    report = ImportReport()
    progress = progress or (lambda it: it)
    with transaction.atomic():
        if service_code and not Service.objects.filter(code=service_code).exists():
            raise KBFileError([f"Service « {service_code} » introuvable (option --service)."])
        topics = {t.slug: t for t in Topic.objects.all()}
        new_topic_service = None
        for position, entry in enumerate(clean["topics"]):
            topic = topics.get(entry["slug"])
            if topic is None:
                if new_topic_service is None:
                    new_topic_service = _topic_service(service_code, report)
                topic = Topic.objects.create(
                    slug=entry["slug"],
                    title=entry["title"],
                    service=new_topic_service,
                    position=position,
                )
                topics[topic.slug] = topic
                report.topics_created += 1
            elif topic.title != entry["title"]:
                topic.title = entry["title"]
                topic.save(update_fields=["title"])
                report.topics_updated += 1

        owners = {s.code: s for s in Service.objects.all()}
        existing = {a.slug: a for a in Article.objects.all()}
        content_fields = ("title", "body", "keywords", "questions")
        for entry in progress(clean["articles"]):
            article = existing.get(entry["slug"])
            values = {
                "topic": topics[entry["topic"]],
                "title": entry["title"],
                "body": entry["body"],
                "audience": entry["audience"],
                "questions": entry["questions"],
                "keywords": entry["keywords"],
                "escalate": entry["escalate"],
            }
            for name in ("review_date", "expiry_date"):
                if name in entry["_has"]:
                    values[name] = entry[name]
            if "owner" in entry["_has"]:
                values["owner"] = owners.get(entry["owner"]) if entry["owner"] else None
            if entry["status"]:
                values["status"] = entry["status"]
            if article is None:
                values.setdefault("status", Article.Status.PUBLISHED)
                article = Article(slug=entry["slug"], **values)
                article.save()
                existing[article.slug] = article
                snapshot_version(article, comment="Import")
                report.articles_created += 1
                continue
            changed = [
                name
                for name, value in values.items()
                if (
                    getattr(article, name + "_id")
                    if name in ("topic", "owner")
                    else getattr(article, name)
                )
                != (getattr(value, "pk", value))
            ]
            if not changed:
                report.articles_unchanged += 1
                continue
            for name, value in values.items():
                setattr(article, name, value)
            content_changed = any(name in content_fields for name in changed)
            if content_changed:
                article.version += 1
            article.save()
            if content_changed:
                snapshot_version(article, comment="Import")
            report.articles_updated += 1

        for entry in clean["articles"]:
            if entry["related"] is not None:
                existing[entry["slug"]].related.set(
                    [existing[s] for s in entry["related"] if s in existing]
                )

        for entry in clean["smalltalk"]:
            _, created = SmallTalk.objects.update_or_create(
                slug=entry["slug"],
                defaults={"questions": entry["questions"], "answer": entry["answer"]},
            )
            if created:
                report.smalltalk_created += 1
            else:
                report.smalltalk_updated += 1

        if not Synonym.objects.exists():
            install_default_lexicon(Synonym)
        for entry in clean["synonyms"]:
            Synonym.objects.update_or_create(
                term=entry["term"],
                defaults={"replacement": entry["replacement"], "note": entry["note"]},
            )
            report.synonyms += 1

        if not Redirection.objects.exists():
            install_default_redirections(Redirection)
        if not OutOfScopeExample.objects.exists():
            install_default_out_of_scope(OutOfScopeExample)
        for entry in clean["redirections"]:
            Redirection.objects.update_or_create(
                slug=entry["slug"], defaults={k: v for k, v in entry.items() if k != "slug"}
            )
            report.redirections += 1
    return report


def import_path(path: str | Path, **kwargs) -> ImportReport:
    data, text = load_file(path)
    return import_data(data, text, **kwargs)


def export_data() -> dict:
    """The whole knowledge base in the import format (round-trips through import_data)."""
    used_topics = (
        Topic.objects.filter(articles__isnull=False).distinct().order_by("position", "title")
    )
    articles = []
    for article in (
        Article.objects.select_related("topic", "owner")
        .prefetch_related("related")
        .order_by("topic__position", "topic__slug", "id")
    ):
        item = {
            "slug": article.slug,
            "topic": article.topic.slug,
            "title": article.title,
            "audience": article.audience,
            "body": article.body,
            "questions": list(article.questions),
            "keywords": list(article.keywords),
            "escalate": article.escalate,
            "status": article.status,
        }
        if article.owner is not None:
            item["owner"] = article.owner.code
        if article.review_date:
            item["review_date"] = article.review_date.isoformat()
        if article.expiry_date:
            item["expiry_date"] = article.expiry_date.isoformat()
        related = sorted(a.slug for a in article.related.all())
        if related:
            item["related"] = related
        articles.append(item)
    return {
        "version": FORMAT_VERSION,
        "language": "fr",
        "topics": [{"slug": t.slug, "title": t.title} for t in used_topics],
        "articles": articles,
        "smalltalk": [
            {"slug": s.slug, "questions": list(s.questions), "answer": s.answer}
            for s in SmallTalk.objects.order_by("id")
        ],
        "synonyms": [
            {"term": s.term, "replacement": s.replacement, "note": s.note}
            for s in Synonym.objects.filter(is_active=True).order_by("term")
        ],
        "redirections": list(
            Redirection.objects.filter(is_active=True)
            .order_by("slug")
            .values("slug", *REDIRECTION_FIELDS)
        ),
    }


def export_path(path: str | Path) -> int:
    data = export_data()
    Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return len(data["articles"])
