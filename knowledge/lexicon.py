"""The editors' lexicon and per-message language detection.

The lexicon is the table the knowledge team maintains in the admin (``knowledge.Synonym``):
a word or expression people write ("bb", "piqué", "on part en Grèce", "lost") and the words
the articles use ("bébé", "volé", "carte européenne d'assurance maladie", "perdu"). Before a
question is analysed, every entry found in it (whole words, accents and case ignored, longest
entries first) is replaced by its standard wording. English words are entries like the
others, so the same French articles answer English questions.

The product ships a default lexicon (``knowledge/default_lexicon.json``: texting, slang,
everyday situations, European countries, car makes, English words), written into the table
by a migration so that a fresh database understands people before any KB file is imported;
from then on it is the editors' to change (the migration adds an entry only where the term is
new). ``import_kb`` writes it too when the table is empty (a database emptied by ``flush``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from . import text as T
from .situations import without_denied_mishaps

_TOKEN_RE = re.compile(r"[a-z0-9]+")
DEFAULT_LEXICON_PATH = Path(__file__).resolve().parent / "default_lexicon.json"


def default_entries() -> list[dict[str, str]]:
    """The default lexicon's entries ``{"term", "replacement", "note"}``."""
    data = json.loads(DEFAULT_LEXICON_PATH.read_text(encoding="utf-8"))
    return list(data["synonyms"])


def install_default_lexicon(synonym_model, terms: Iterable[str] | None = None) -> int:
    """Write the default entries whose term the table does not hold yet (an editor's entry is
    never changed), or only those of ``terms`` (a migration adding new defaults to a
    deployment, whose editors may have deleted older ones); returns how many were added.
    ``synonym_model`` is ``knowledge.Synonym`` or, in a migration, its historical model."""
    wanted = None if terms is None else set(terms)
    added = synonym_model.objects.bulk_create(
        [
            synonym_model(term=e["term"], replacement=e["replacement"], note=e.get("note", ""))
            for e in missing_default_entries(synonym_model)
            if wanted is None or e["term"] in wanted
        ]
    )
    return len(added)


def missing_default_entries(synonym_model) -> list[dict[str, str]]:
    """The default entries whose term the table does not hold: those shipped after the
    deployment was installed, and those its editors deleted (the editors' page "entrées par
    défaut absentes" lists them to add)."""
    existing = set(synonym_model.objects.values_list("term", flat=True))
    return [e for e in default_entries() if e["term"] not in existing]


@lru_cache(maxsize=16384)
def normalise(text: str) -> str:
    """Accent-free, lower-case words separated by one space, texting spellings written out
    (the lexicon's matching form: "g zappé" and "j'ai zappé" meet the same entries)."""
    return " ".join(T.expand_sms(" ".join(_TOKEN_RE.findall(T.fold(text)))).split())


class Lexicon:
    """Compiled ``term -> replacement`` rewriting (immutable, shared by every request)."""

    def __init__(self, entries: Iterable[tuple[str, str]] = ()):
        table: dict[str, str] = {}
        for term, replacement in entries:
            key = normalise(term)
            if key:
                table[key] = normalise(replacement)
        self.table = table
        self.size = len(table)
        if table:
            alternation = "|".join(re.escape(k) for k in sorted(table, key=lambda k: (-len(k), k)))
            self._re: re.Pattern[str] | None = re.compile(
                rf"(?<![a-z0-9])(?:{alternation})(?![a-z0-9])"
            )
        else:
            self._re = None
        self.rewrite = lru_cache(maxsize=8192)(self._rewrite)

    def _rewrite(self, text: str) -> str:
        folded = normalise(without_denied_mishaps(T.fold(text)))
        if self._re is None:
            return folded
        return self._re.sub(lambda m: self.table[m.group(0)], folded)


# --- language of a message -------------------------------------------------------------------
# Function words that are English and not French (nor common French SMS spellings).
ENGLISH_WORDS = T.words(
    """
    the my i im i m how do does did what where when why which who is are was were am be been
    can could should would will have has had you your we our they their it its this that
    to of for with from about please need want get got lost stolen forgot yet any an and or
    not don doesn didn haven ve ll
    """
)
FRENCH_WORDS = T.words(
    """
    le la les de des du un une je j mon ma mes est et pour comment que qui quoi ou dans sur
    pas ne au aux avec il elle on nous vous ai suis c ce cette jai cest quel quelle faire
    """
)


def detect_language(text: str) -> str:
    """ "en" when the message reads as English, else "fr" (a few words are enough)."""
    tokens = _TOKEN_RE.findall(T.fold(text))
    if not tokens:
        return "fr"
    english = sum(1 for t in tokens if t in ENGLISH_WORDS)
    french = sum(1 for t in tokens if t in FRENCH_WORDS)
    return "en" if english >= 2 and english > french else "fr"
