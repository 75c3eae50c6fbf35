"""Subjects the knowledge base does not cover, and where to send people instead.

Citizens ask a tax office about housing benefits, a health insurance fund about a birth
certificate: subjects near the base's own that another administration handles. Without a
word on them the nearest article answers, wrongly ("aide au logement" meets the student housing
article). A redirection (``knowledge.Redirection``, owned by the knowledge team in the admin)
names such a subject: trigger phrases people write ("apl", "aide au logement", "housing
benefit") and a short message naming the organisation to turn to, with its address.

A trigger matches whole consecutive words, accents, case and punctuation ignored, texting
spellings written out (the lexicon's matching form, ``lexicon.normalise``). The longest
trigger found wins. The engine answers with the redirection instead of an article, except when
the subject is only the question's context (``in_context``: "la CAF me demande mon avis
d'impôt", "pour mon dossier HLM…", "depuis mon congé parental…", or a story told before
or after the question: ``told_beside_a_question``) and an article answers with confidence.

A subject our own services handle but the base has no article on is a redirection too, of kind
``handoff``: its message says an adviser can answer, and the assistant offers one at once.

The product ships default redirections (``knowledge/default_redirections.json``, other
administrations; ``knowledge/default_own_subjects.json``, our own subjects without an article),
written into the table by migrations and by ``import_kb`` when the table is empty, like the
default lexicon;
from then on they are the editors' to change or switch off (a deployment whose base covers one
of those subjects switches its redirection off).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from . import text as T
from .lexicon import detect_language, normalise

DEFAULT_REDIRECTIONS_PATH = Path(__file__).resolve().parent / "default_redirections.json"
# Subjects our own services handle without an article: an adviser answers (kind "handoff").
DEFAULT_OWN_SUBJECTS_PATH = Path(__file__).resolve().parent / "default_own_subjects.json"

FIELDS = ("title", "organisation", "kind", "triggers", "message", "message_en", "url")
EXTERNAL, HANDOFF = "external", "handoff"


def default_entries() -> list[dict]:
    """The default redirections ``{"slug", "title", "organisation", "kind", "triggers",
    "message", "message_en", "url"}``: other administrations' subjects, then our own subjects
    without an article."""
    entries = []
    for path in (DEFAULT_REDIRECTIONS_PATH, DEFAULT_OWN_SUBJECTS_PATH):
        data = json.loads(path.read_text(encoding="utf-8"))
        entries += [{"kind": EXTERNAL, **e} for e in data["redirections"]]
    return entries


def install_default_redirections(redirection_model, slugs: Iterable[str] | None = None) -> int:
    """Write the default redirections whose slug the table does not hold yet (an editor's entry
    is never changed), or only those of ``slugs`` (a migration adding new defaults to a
    deployment); returns how many were added. ``redirection_model`` is
    ``knowledge.Redirection`` or, in a migration, its historical model (only the fields it has
    are written)."""
    wanted = None if slugs is None else set(slugs)
    names = {field.name for field in redirection_model._meta.get_fields()}
    existing = set(redirection_model.objects.values_list("slug", flat=True))
    added = redirection_model.objects.bulk_create(
        [
            redirection_model(slug=e["slug"], **{n: e.get(n, "") for n in FIELDS if n in names})
            for e in default_entries()
            # A model without kinds yet (migration 0009) holds other administrations' only.
            if e["slug"] not in existing
            and (wanted is None or e["slug"] in wanted)
            and ("kind" in names or e["kind"] == EXTERNAL)
        ]
    )
    return len(added)


@dataclass(frozen=True)
class Redirect:
    """What the assistant says about a subject the base does not cover."""

    slug: str
    title: str
    organisation: str
    message: str
    message_en: str = ""
    url: str = ""
    id: int | None = None  # the ``Redirection`` row, when read from the database
    kind: str = EXTERNAL  # or HANDOFF: ours, but only an adviser can answer

    @property
    def handoff(self) -> bool:
        return self.kind == HANDOFF

    def message_for(self, language: str) -> tuple[str, str]:
        """(message, its language): the English one for an English question when there is one."""
        if language == "en" and self.message_en:
            return self.message_en, "en"
        return self.message, "fr"


def redirection_entries(redirections: Iterable[Mapping]) -> list[tuple[Redirect, list[str]]]:
    """(Redirect, triggers) of redirections given as dicts (a KB file's entries, or rows read
    with ``values()``)."""
    return [
        (
            Redirect(
                slug=r["slug"],
                title=r["title"],
                organisation=r.get("organisation") or "",
                message=r["message"],
                message_en=r.get("message_en") or "",
                url=r.get("url") or "",
                id=r.get("id"),
                kind=r.get("kind") or EXTERNAL,
            ),
            list(r.get("triggers") or ()),
        )
        for r in redirections
    ]


def active_entries() -> list[tuple[Redirect, list[str]]]:
    """(Redirect, triggers) of the redirections switched on in the database."""
    from .models import Redirection

    return redirection_entries(
        Redirection.objects.filter(is_active=True).values("id", "slug", *FIELDS)
    )


# A trigger of two words or more also matches when its words come in the same order, each at
# most this many other words after the previous one, with other endings ("calcul de mes
# allocations" in "comment est calculé le montant de mon allocation").
MAX_GAP = 2
# Only these words of a trigger may be left out or changed ("remboursement des lunettes" in
# "remboursement de mes lunettes"): articles, prepositions and possessives. French questions
# only: the stems are French, and an English trigger's words taken apart say little ("paid
# leave" in "get paid during my sick leave").
_LINK_WORDS = T.words(
    """
    le la les l un une des de du d au aux a en mon ma mes ton ta tes son sa ses notre nos
    votre vos leur leurs
    """
)


def _loose_words(key: str) -> tuple[str, ...]:
    return tuple(T.stem(word) for word in key.split() if word not in _LINK_WORDS)


class Match(NamedTuple):
    """A trigger found in a question."""

    redirect: Redirect
    trigger: str
    context: bool  # the subject is only the question's context (``in_context``)
    loose: bool = False  # found with other endings or words between its words


class RedirectionTable:
    """Compiled triggers -> redirection (immutable, shared by every request)."""

    def __init__(self, entries: Iterable[tuple[Redirect, Iterable[str]]] = ()):
        table: dict[str, Redirect] = {}
        for redirect, triggers in entries:
            for trigger in triggers:
                key = normalise(trigger)
                if key and key not in table:  # two entries sharing a trigger: the first keeps it
                    table[key] = redirect
        self.table = table
        self.size = len({r.slug for r in table.values()})
        self._re: re.Pattern[str] | None = None
        if table:
            alternation = "|".join(re.escape(k) for k in sorted(table, key=lambda k: (-len(k), k)))
            # A lookahead so that overlapping triggers are all seen; the longest one wins.
            self._re = re.compile(rf"(?<![a-z0-9])(?=((?:{alternation}))(?![a-z0-9]))")
        # Loose form of the triggers of two words or more (link words aside), by their first stem.
        loose: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for key in table:
            stems = _loose_words(key)
            if len(stems) >= 2:
                loose.setdefault(stems[0], []).append((stems, key))
        self.loose = loose

    def match(self, text: str) -> Match | None:
        """The redirection whose longest trigger occurs in ``text``. Without a trigger written
        as such, in a French question, the trigger whose words come in order with other endings
        and a few words between them (the most words, then the longest): a loose match."""
        if self._re is None:
            return None
        folded = normalise(text)
        found = [(m.group(1), m.start()) for m in self._re.finditer(folded)]
        if found:
            trigger, start = max(found, key=lambda f: len(f[0]))
        else:
            loose = self._match_loose(folded) if detect_language(text) == "fr" else None
            if loose is None:
                return None
            trigger, start = loose
        context = in_context(folded, start) or told_beside_a_question(text, start)
        return Match(self.table[trigger], trigger, context, loose=not found)

    def _match_loose(self, folded: str) -> tuple[str, int] | None:
        # (stem, offset) of each word but the link words, which neither match nor count as gap.
        kept, offset = [], 0
        for word in folded.split():
            if word not in _LINK_WORDS:
                kept.append((T.stem(word), offset))
            offset += len(word) + 1
        stems = [stem for stem, _ in kept]
        best: tuple[int, int, str, int] | None = None
        for i, first in enumerate(stems):
            for trigger_stems, key in self.loose.get(first, ()):
                position, ok = i, True
                for wanted in trigger_stems[1:]:
                    window = stems[position + 1 : position + 2 + MAX_GAP]
                    if wanted not in window:
                        ok = False
                        break
                    position += 1 + window.index(wanted)
                candidate = (len(trigger_stems), len(key), key, kept[i][1])
                if ok and (best is None or candidate[:2] > best[:2]):
                    best = candidate
        return None if best is None else (best[2], best[3])


# "La CAF me demande mon avis d'impôt", "pour mon dossier HLM on me réclame…": the other
# administration's subject is why the person asks, and what they ask for may well be ours.
_REQUEST_RE = re.compile(
    r"\b(?:me|nous|m) (?:demande|demandent|reclame|reclament|exige|exigent|redemande)\b"
    r"|\bon me (?:demande|reclame|dit)\b|\bil me faut\b|\bjustificatif\b|\battestation\b"
)
_PURPOSE_RE = re.compile(
    r"\bpour(?: (?:un|une|le|la|les|l|mon|ma|mes|notre|nos|leur))?"
    r"(?: (?:dossier|demande|inscription)(?: (?:de|d|pour))?)?(?: (?:un|une|le|la|l|mon|ma))?$"
)


# "Depuis mon congé parental je gagne moins…", "après notre mariage, comment déclarer…": the
# event is the cause, the question is about what follows (which may well be ours).
_CAUSE_RE = re.compile(
    r"\b(?:depuis|suite a|apres|a cause de|avec|since|after)"
    r"(?: (?:mon|ma|mes|le|la|les|l|notre|nos|un|une|my|our|the))?$"
)


# "Faut-il leur transmettre le livret de famille ?", "on doit envoyer son acte de naissance ?":
# a document the person hands over as a piece of a procedure, not one they ask how to obtain.
_HANDED_RE = re.compile(
    r"\b(?:envoyer|envoie|envoyez|renvoyer|transmettre|transmets|transmettez|fournir|fournis"
    r"|fournissez|joindre|joins|joignez|send|provide|attach|submit)"
    r"(?: (?:leur|lui|vous|nous|aussi|encore|bien|also|them|you|us))?"
    r"(?: (?:le|la|les|l|un|une|des|son|sa|ses|mon|ma|mes|notre|nos|votre|vos|leur|leurs"
    r"|the|a|an|my|our|his|her|their|your))?"
    r"(?: (?:copie|copy|photocopie|scan)(?: (?:de|d|du|of))?(?: (?:l|la|le|un|une|the|a|an))?)?$"
)


_SENTENCE_END_RE = re.compile(r"(?<=[.!?…])\s+")
# A question that says little ("Who do I complain to?", "Par où je commence ?") is about the
# story told before it, triggers included.
QUESTION_MIN_WORDS = 3


def told_beside_a_question(text: str, start: int) -> bool:
    """Whether the words at ``start`` of the normalised message are in a sentence that tells
    (no "?") while another one asks with words of its own: the story around the question ("une
    voisine l'aidait mais elle est partie en maison de retraite. Est-ce qu'elle peut encore
    remplir sa déclaration sur papier ?", "How do I pay at the university canteen? I've got my
    student card."). A single sentence, a trigger in a question, or questions of fewer than
    ``QUESTION_MIN_WORDS`` content words, is not."""
    sentences = [s for s in _SENTENCE_END_RE.split(text.strip()) if normalise(s)]
    end = -1
    for i, sentence in enumerate(sentences):
        end += len(normalise(sentence)) + 1
        if start < end:
            asked = [other for other in sentences[:i] + sentences[i + 1 :] if "?" in other]
            return (
                "?" not in sentence
                and sum(len(T.content_tokens(a)) for a in asked) >= QUESTION_MIN_WORDS
            )
    return False


def in_context(folded: str, start: int) -> bool:
    """Whether the trigger at ``start`` of the normalised question is only its context: the
    question says another body asks the person for something, names the subject as a purpose
    ("pour mon dossier de logement social"), as the event that led to the question ("depuis mon
    congé parental") or as a document the person hands over ("faut-il leur transmettre le
    livret de famille ?")."""
    before = folded[:start].rstrip()
    return bool(
        _REQUEST_RE.search(folded)
        or _PURPOSE_RE.search(before)
        or _CAUSE_RE.search(before)
        or _HANDED_RE.search(before)
    )


def trigger_conflicts(
    triggers: Iterable[str], articles: Iterable[tuple[str, Iterable[str]]]
) -> list[tuple[str, str]]:
    """(trigger, article title) for each trigger found, as whole words, in the texts of an
    article (``articles``: (title, texts)): the redirection would take that article's
    questions away from it."""
    keys = [(t, normalise(t)) for t in triggers]
    clashes: list[tuple[str, str]] = []
    for title, texts in articles:
        padded = [f" {normalise(text)} " for text in texts]
        clashes.extend(
            (trigger, title)
            for trigger, key in keys
            if key and any(f" {key} " in p for p in padded)
        )
    return clashes


def published_article_texts() -> list[tuple[str, list[str]]]:
    """(title, [title, keywords..., example questions...]) of every published article."""
    from .models import Article

    return [
        (title, [title, *(keywords or ()), *(questions or ())])
        for title, keywords, questions in Article.objects.filter(
            status=Article.Status.PUBLISHED
        ).values_list("title", "keywords", "questions")
    ]
