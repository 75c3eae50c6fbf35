"""The knowledge base's search engine: one in-memory index for the FAQ, deflection, chatbot
and agents (see docs/knowledge.md for the choice).

Scoring combines two signals, both over French stems (``knowledge.text``):

* **BM25F** over an article's fields (title, keywords, example questions, body, topic), with
  adjacent-word pairs ("carte vitale", "mot passe") indexed as extra terms so phrases beat
  scattered words. Keywords are the article's synonyms: they are indexed with a high weight.
* **Nearest example question**: an IDF-weighted overlap between the query and each example
  question (and the title), so a paraphrase of a known question is recognised even when it
  shares few words with the body.

Typos are absorbed at query time: a word unknown to the index is replaced by its closest
vocabulary words (Damerau-Levenshtein distance 1, or 2 for long words, found through a
SymSpell-style deletion index), or split in two known words ("cartevitale").

The index is pure Python, built from the database in a few milliseconds per hundred articles,
and cached per process; it is rebuilt when the articles' signature (count + last update)
changes, so every worker sees the same content without any shared state.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

from . import text as T
from .lexicon import Lexicon
from .vectors import NeighbourTable, WordVectors

# Field weights (BM25F) and length normalisation.
FIELD_WEIGHTS = {"title": 6.0, "keywords": 1.9, "questions": 1.2, "topic": 1.0, "body": 1.0}
FIELD_B = {"title": 1.0, "keywords": 0.75, "questions": 0.75, "topic": 0.25, "body": 0.25}
K1 = 1.2
BIGRAM_WEIGHT = 1.2
FUZZY_WEIGHT = {1: 0.8, 2: 0.55}
SPLIT_WEIGHT = 0.8
PHONETIC_WEIGHT = 0.7
# How many different index words a misspelt word may stand for.
TYPO_ALTERNATIVES = 2
SYNONYM_WEIGHT = 0.6
# Word-vector neighbours of a word the articles never use (knowledge/vectors.py): how many,
# from which cosine, and their weight (times the cosine).
VECTOR_NEIGHBOURS = 1
VECTOR_MIN_COSINE = 0.7
VECTOR_WEIGHT = 0.6
COVERAGE_SAT = 0.7
# Units compared one by one with the query ("nearest example question"), and their weight.
UNIT_WEIGHTS = {"title": 1.0, "questions": 1.0, "keywords": 1.0}
UNIT_MIN_TERMS = {"title": 1, "questions": 1, "keywords": 1, "body": 3}
# How the three relevance signals are mixed for ranking.
SCORE_WEIGHTS = {"bm25": 0.1, "question": 0.2, "topic": 0.4, "coverage": 0.3}


@dataclass(frozen=True)
class DocSource:
    """What the index needs from an article (built from the ORM or from the KB file)."""

    id: int
    slug: str
    title: str
    body: str
    topic_id: int | None = None
    topic_slug: str = ""
    topic_title: str = ""
    audience: str = "public"
    keywords: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    escalate: bool = False


@dataclass
class Slot:
    """One content word of the query and the index terms it may match: [(stem, weight)]."""

    surface: str
    alternatives: list[tuple[str, float]]
    kind: str  # exact | fuzzy | split | unknown

    @property
    def primary(self) -> str:
        return self.alternatives[0][0] if self.alternatives else ""


@dataclass
class AnalyzedQuery:
    text: str
    slots: list[Slot]
    bigrams: list[str]

    @property
    def known(self) -> list[Slot]:
        return [s for s in self.slots if s.alternatives]

    @property
    def unknown_count(self) -> int:
        return sum(1 for s in self.slots if not s.alternatives)


@dataclass
class Hit:
    doc: DocSource
    score: float  # relevance used for ranking
    bm25: float  # relative BM25F (0..1: share of the best reachable score)
    question_sim: float  # similarity to the nearest example question (0..1)
    coverage: float  # IDF share of the query's words (unknown words included) found here
    topic_share: float  # how much the query points at this article's topic (0..1)
    matched_mass: float  # IDF mass of the query words found in the article
    margin: float = 0.0  # score gap with the next article (filled for the first hit)
    matched: list[str] = field(default_factory=list)


_MD_RE = re.compile(r"[*_`#>\[\]()!|]")


def plain_text(markdown_text: str) -> str:
    """Markdown -> rough plain text for indexing (links keep their label)."""
    text = re.sub(r"\]\([^)]*\)", "]", markdown_text)
    return _MD_RE.sub(" ", text)


_SENTENCE_RE = re.compile(r"(?<=[.!?:;])\s+|\n+")


def _sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_RE.split(text) if part.strip()]


def _bigrams(stems: list[str]) -> list[str]:
    return [f"{a}_{b}" for a, b in zip(stems, stems[1:], strict=False) if a != b]


class SearchIndex:
    """Immutable BM25F + nearest-question index over a list of articles."""

    def __init__(
        self,
        docs: Iterable[DocSource],
        *,
        lexicon: Lexicon | None = None,
        spelling: bool = True,
        synonyms: bool = True,
        vectors: WordVectors | None = None,
    ):
        """``lexicon``: the editors' table (query rewriting); ``spelling`` and ``synonyms``
        switch the typo and synonym-group components (on in production; off for ablation);
        ``vectors``: word vectors giving an unknown word its nearest index words."""
        self.docs: list[DocSource] = list(docs)
        self.lexicon = lexicon
        self.spelling = spelling
        self.synonyms = synonyms
        self.vectors = vectors
        n = len(self.docs)
        # term -> {doc index: weighted, length-normalised term frequency}
        self.postings: dict[str, dict[int, float]] = defaultdict(dict)
        # units: example questions and titles, each a {stem: count} bag, for question similarity
        self.unit_doc: list[int] = []
        self.unit_terms: list[frozenset[str]] = []
        self.unit_weight: list[float] = []
        self.unit_postings: dict[str, list[int]] = defaultdict(list)
        self.surface_vocab: dict[str, str] = {}  # accent-free word -> stem
        self.stem_df: dict[str, int] = {}
        field_tokens: list[dict[str, list[str]]] = []
        lengths: dict[str, list[int]] = {f: [] for f in FIELD_WEIGHTS}
        for i, doc in enumerate(self.docs):
            fields_text = {
                "title": [doc.title],
                "keywords": list(doc.keywords),
                "questions": list(doc.questions),
                "topic": [doc.topic_title],
                "body": _sentences(plain_text(doc.body)),
            }
            per_field: dict[str, list[str]] = {}
            for name, units in fields_text.items():
                terms: list[str] = []
                for unit in units:
                    words = [w.split("|", 1)[0] for w in T.content_tokens(unit)]
                    stems = [T.stem(w) for w in words]
                    for w, s in zip(words, stems, strict=True):
                        self.surface_vocab.setdefault(w, s)
                    terms.extend(stems)
                    terms.extend(_bigrams(stems))
                    if name in UNIT_WEIGHTS and len(stems) >= UNIT_MIN_TERMS[name]:
                        unit_id = len(self.unit_doc)
                        self.unit_doc.append(i)
                        self.unit_weight.append(UNIT_WEIGHTS[name])
                        bag = frozenset(stems) | frozenset(_bigrams(stems))
                        self.unit_terms.append(bag)
                        for term in bag:
                            self.unit_postings[term].append(unit_id)
                per_field[name] = terms
                lengths[name].append(len(terms))
            field_tokens.append(per_field)
        avg = {f: (sum(v) / len(v) if v and sum(v) else 1.0) for f, v in lengths.items()}
        df: dict[str, int] = defaultdict(int)
        for i, per_field in enumerate(field_tokens):
            weighted: dict[str, float] = defaultdict(float)
            for name, terms in per_field.items():
                if not terms:
                    continue
                norm = 1 - FIELD_B[name] + FIELD_B[name] * len(terms) / avg[name]
                counts: dict[str, int] = defaultdict(int)
                for term in terms:
                    counts[term] += 1
                for term, count in counts.items():
                    weight = FIELD_WEIGHTS[name] * count / norm
                    if "_" in term:
                        weight *= BIGRAM_WEIGHT
                    weighted[term] += weight
            for term, weight in weighted.items():
                self.postings[term][i] = weight
                df[term] += 1
        self.idf: dict[str, float] = {
            term: math.log(1 + (n - count + 0.5) / (count + 0.5)) for term, count in df.items()
        }
        self.stem_df = dict(df)
        # Unknown words get the IDF of a term seen once: they are probably specific.
        self.max_idf = math.log(1 + (n - 0.5) / 1.5) if n else 1.0
        self._deletes: dict[str, list[str]] = defaultdict(list)
        for word in self.surface_vocab:
            if len(word) >= 4:
                for d in T.deletes(word):
                    self._deletes[d].append(word)
        self.by_slug = {doc.slug: i for i, doc in enumerate(self.docs)}
        self._stem_deletes: dict[str, list[str]] | None = None
        self.unit_mass = [
            sum(self.idf.get(t, 0.0) * (BIGRAM_WEIGHT if "_" in t else 1.0) for t in bag)
            for bag in self.unit_terms
        ]
        # Words seen nowhere count like the rarest words: they are probably specific.
        self.unknown_idf = self.max_idf
        # Topic evidence: how each unigram spreads over topics (weighted frequencies).
        topic_tf: dict[str, dict[int | None, float]] = defaultdict(lambda: defaultdict(float))
        for term, doc_weights in self.postings.items():
            if "_" in term:
                continue
            for doc_index, wtf in doc_weights.items():
                topic_tf[term][self.docs[doc_index].topic_id] += wtf
        n_topics = len({doc.topic_id for doc in self.docs}) or 1
        self.topic_dist: dict[str, dict[int | None, float]] = {}
        self.topic_idf: dict[str, float] = {}
        for term, per_topic in topic_tf.items():
            total = sum(per_topic.values())
            self.topic_dist[term] = {t: v / total for t, v in per_topic.items()}
            self.topic_idf[term] = math.log(1 + n_topics / len(per_topic))
        self._neighbours = (
            NeighbourTable(vectors, self.surface_vocab) if vectors is not None else None
        )

    # --- query analysis ------------------------------------------------------------------
    def _fuzzy(self, word: str) -> list[tuple[str, int]]:
        """Closest vocabulary words to an unknown word: [(word, distance)], best first."""
        if len(word) < 4:
            return []
        limit = 1 if len(word) < 7 else 2
        candidates: set[str] = set()
        for probe in {word} | T.deletes(word):
            candidates.update(self._deletes.get(probe, ()))
            if probe in self.surface_vocab:
                candidates.add(probe)
        if limit == 2 and self.vectors is not None and self.vectors.row(word) < 0:
            # Two letters left out ("renouver" for "renouveler"): out of the one-deletion
            # neighbourhood's reach; the words two letters longer with the same start. Only
            # for a word the language does not have ("électrique" is not a mistyped
            # "électronique").
            candidates.update(w for w in self.by_start.get(word[:3], ()) if len(w) == len(word) + 2)
        scored = []
        for cand in candidates:
            distance = T.damerau_levenshtein(word, cand, limit)
            # Two typos in one word are only believed when the first letter is right.
            if distance == 1 or (distance == 2 and cand[0] == word[0]):
                scored.append((cand, distance))
        if not scored:
            return []
        best = min(d for _, d in scored)
        return sorted(
            [(c, d) for c, d in scored if d == best],
            key=lambda cd: (-self.stem_df.get(self.surface_vocab[cd[0]], 0), cd[0]),
        )

    def _fuzzy_stem(self, word: str) -> list[tuple[str, float]]:
        """Index stems one typo away from the word's stem, for a misspelling of a form the
        articles never use ("imosable": the articles say "imposé", which stems like "imposable"
        to "impos"): [(stem, weight)], most frequent first."""
        stem = T.stem(word)
        if len(stem) < 4:
            return []
        table = self._stem_deletes
        if table is None:  # built on first need, like the phonetic keys
            table = defaultdict(list)
            for term in self.stem_df:
                if "_" not in term and len(term) >= 4:
                    for d in T.deletes(term) | {term}:
                        table[d].append(term)
            self._stem_deletes = table = dict(table)
        found = {
            cand
            for probe in T.deletes(stem) | {stem}
            for cand in table.get(probe, ())
            if T.damerau_levenshtein(stem, cand, 1) == 1
        }
        return self._first_stems(
            (c, FUZZY_WEIGHT[1]) for c in sorted(found, key=lambda c: (-self.stem_df[c], c))
        )

    @staticmethod
    def _first_stems(candidates: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
        """The first two different stems of candidates [(stem, weight)], best first. Several
        spellings of one stem ("bloquee", "bloquees") count once, so that a second stem
        ("bloque" beside "bloqu") still gets its chance."""
        alts: list[tuple[str, float]] = []
        for stem, weight in candidates:
            if all(stem != a for a, _ in alts):
                alts.append((stem, weight))
                if len(alts) == TYPO_ALTERNATIVES:
                    break
        return alts

    def _split(self, word: str) -> list[str] | None:
        if len(word) < 7:
            return None
        for i in range(3, len(word) - 2):
            left, right = word[:i], word[i:]
            if left in self.surface_vocab and right in self.surface_vocab:
                return [left, right]
        return None

    def _with_synonyms(self, alternatives: list[tuple[str, float]]) -> list[tuple[str, float]]:
        if not self.synonyms:
            return alternatives
        seen = {s for s, _ in alternatives}
        extra = []
        for s, w in alternatives:
            for syn in sorted(T.SYNONYMS.get(s, ())):
                if syn not in seen and syn in self.idf:
                    seen.add(syn)
                    extra.append((syn, w * SYNONYM_WEIGHT))
        return alternatives + extra

    def _vocabulary_by(self, key: Callable[[str], str], min_key: int = 0, min_word: int = 0):
        """Key -> the vocabulary words with that key (a lookup table built on first need)."""
        table: dict[str, list[str]] = defaultdict(list)
        for word in self.surface_vocab:
            if len(word) >= min_word and len(k := key(word)) >= min_key:
                table[k].append(word)
        return dict(table)

    @cached_property
    def by_start(self) -> dict[str, list[str]]:
        """First three letters -> vocabulary words of 9 letters or more."""
        return self._vocabulary_by(lambda word: word[:3], min_word=9)

    @cached_property
    def phonetic_index(self) -> dict[str, list[str]]:
        """Phonetic key -> vocabulary words (most queries never ask)."""
        return self._vocabulary_by(T.phonetic, min_key=3)

    def _phonetic_matches(self, word: str) -> list[tuple[str, float]]:
        """Vocabulary words that sound like ``word`` (same key, or keys one edit apart)."""
        key = T.phonetic(word)
        if len(key) < 3 or len(word) < 4:
            return []
        table = self.phonetic_index
        words = table.get(key)
        if words:
            return [(w, PHONETIC_WEIGHT) for w in words]
        if len(key) < 5:
            return []
        found: list[tuple[str, float]] = []
        for other, others in table.items():
            if (
                abs(len(other) - len(key)) <= 1
                and other[0] == key[0]
                and T.damerau_levenshtein(key, other, 1) <= 1
            ):
                found.extend((w, PHONETIC_WEIGHT * 0.85) for w in others)
        return found

    def _known_stem(self, word: str) -> str | None:
        if word in self.surface_vocab:
            return self.surface_vocab[word]
        return next((v for v in T.stem_variants(word) if v in self.idf), None)

    def _resolve(self, word: str) -> tuple[str, list[tuple[str, float]]] | None:
        """How a query word matches the index: (kind, [(stem, weight)]), or None to drop it."""
        stem = self._known_stem(word)
        if stem is not None:
            return "exact", [(stem, 1.0)]
        # A missing apostrophe: "dimposition", "sactualiser", "lattestation".
        if len(word) >= 5 and word[0] in "dljmnst":
            rest = T.raw_tokens(word[1:])
            if len(rest) == 1 and T.is_content(rest[0]):
                stem = self._known_stem(rest[0].split("|", 1)[0])
                if stem is not None:
                    return "exact", [(stem, 0.9)]
                # ... and a typo in the word itself ("dimpo", "ladresse" mistyped).
                fuzzy = self._fuzzy(rest[0]) if self.spelling and "|" not in rest[0] else []
                if len(fuzzy) == 1:
                    cand, distance = fuzzy[0]
                    return "fuzzy", [(self.surface_vocab[cand], FUZZY_WEIGHT[distance] * 0.9)]
        if not self.spelling:
            return "unknown", []
        fuzzy = self._fuzzy(word)
        # A misspelt small word ("coment", "pourkoi", "komen") is still a small word, unless
        # a word of the articles is one typo away and sounds the same: "demmande" sounds like
        # "demain" but is "demande" (the keys are rough).
        key = T.phonetic(word)
        if (
            len(word) >= 4
            and key in T.STOPWORD_SOUNDS
            and not any(d == 1 and T.phonetic(cand) == key for cand, d in fuzzy)
        ):
            return None
        if fuzzy:
            return "fuzzy", self._first_stems(
                (self.surface_vocab[cand], FUZZY_WEIGHT[distance]) for cand, distance in fuzzy
            )
        near = self._fuzzy_stem(word)
        if near:
            return "fuzzy", near
        sounds = self._phonetic_matches(word)
        if sounds:
            return "phonetic", self._first_stems(
                (self.surface_vocab[cand], weight)
                for cand, weight in sorted(
                    sounds,
                    key=lambda cw: (-cw[1], -self.stem_df.get(self.surface_vocab[cw[0]], 0)),
                )
            )
        if len(word) == 3:  # "avi" (avis), "impo" handled above; a dropped final letter
            for ending in ("s", "e", "t"):
                stem = self._known_stem(word + ending)
                if stem is not None:
                    return "fuzzy", [(stem, FUZZY_WEIGHT[1])]
        return "unknown", []

    def analyze(self, query: str) -> AnalyzedQuery:
        slots: list[Slot] = []
        seen: set[str] = set()
        rewritten = self.lexicon.rewrite(query) if self.lexicon is not None else query
        analyzed: set[str] = set()
        for word in T.content_tokens(rewritten):
            if word in analyzed:
                continue  # a repeated word counts once (its analysis would give the same slot)
            analyzed.add(word)
            if "|" in word:  # an abbreviation with alternatives ("appart" -> appartement|logement)
                alts: list[tuple[str, float]] = []
                for i, part in enumerate(word.split("|")):
                    part_stem = self.surface_vocab.get(part, T.stem(part))
                    if part_stem in self.idf and all(part_stem != a for a, _ in alts):
                        alts.append((part_stem, 1.0 if i == 0 else 0.9))
                slot = Slot(word, alts, "exact" if alts else "unknown")
            else:
                resolved = self._resolve(word)
                if resolved is None:
                    continue
                kind, alts = resolved
                if kind == "unknown":
                    parts = self._split(word) if self.spelling else None
                    if parts:
                        for part in parts:
                            s = self.surface_vocab[part]
                            if s not in seen:
                                seen.add(s)
                                slots.append(Slot(part, [(s, SPLIT_WEIGHT)], "split"))
                        continue
                    if word.isdigit():
                        continue  # amounts, dates, numbers: no topic in them
                    # A word the articles never use may still have a synonym they use.
                    alts = [
                        (s, SYNONYM_WEIGHT)
                        for s in sorted(T.SYNONYMS.get(T.stem(word), ()))
                        if s in self.idf and self.synonyms
                    ]
                    kind = "synonym" if alts else "unknown"
                    if not alts and self._neighbours is not None:
                        alts = [
                            (s, VECTOR_WEIGHT * cosine)
                            for s, cosine in self._neighbours.nearest(
                                word, VECTOR_NEIGHBOURS, VECTOR_MIN_COSINE
                            )
                            if s in self.idf
                        ]
                        kind = "vector" if alts else "unknown"
                slot = Slot(word, alts, kind)
            key = slot.primary or "?" + word
            if key in seen:
                continue  # a repeated word counts once
            seen.add(key)
            slot.alternatives = self._with_synonyms(slot.alternatives)
            slots.append(slot)
        chain = [s.primary for s in slots]
        bigrams = sorted(
            {
                f"{a}_{b}"
                for a, b in zip(chain, chain[1:], strict=False)
                if a and b and f"{a}_{b}" in self.idf
            }
        )
        return AnalyzedQuery(query, slots, bigrams)

    # --- scoring -------------------------------------------------------------------------
    def _slot_idf(self, slot: Slot) -> float:
        if not slot.alternatives:
            return self.unknown_idf
        return max(w * self.idf.get(s, 0.0) for s, w in slot.alternatives)

    def _topic_scores(self, aq: AnalyzedQuery) -> dict[int | None, float]:
        """Share of the query's evidence pointing at each topic (sums to <= 1)."""
        scores: dict[int | None, float] = defaultdict(float)
        total = 0.0
        for slot in aq.known:
            best: dict[int | None, float] = {}
            for s, w in slot.alternatives:
                dist = self.topic_dist.get(s)
                if not dist:
                    continue
                for topic, p in dist.items():
                    value = w * p * self.topic_idf.get(s, 0.0)
                    if value > best.get(topic, 0.0):
                        best[topic] = value
            for topic, value in best.items():
                scores[topic] += value
            total += max(best.values(), default=0.0)
        if total <= 0:
            return {}
        return {topic: value / total for topic, value in scores.items()}

    def search(
        self,
        query: str | AnalyzedQuery,
        *,
        allowed: set[int] | None = None,
        limit: int = 3,
    ) -> list[Hit]:
        """Best articles for a query; ``allowed`` restricts to these document indexes."""
        aq = query if isinstance(query, AnalyzedQuery) else self.analyze(query)
        known = aq.known
        if not known:
            return []
        # Per slot and document: the best contribution among the slot's alternatives.
        bm25: dict[int, float] = defaultdict(float)
        slot_mass: dict[int, float] = defaultdict(float)
        matched: dict[int, list[str]] = defaultdict(list)
        max_possible = 0.0
        for slot in known:
            slot_idf = self._slot_idf(slot)
            max_possible += slot_idf
            best_score: dict[int, float] = {}
            best_mass: dict[int, float] = {}
            for term, weight in slot.alternatives:
                idf = self.idf.get(term)
                if idf is None:
                    continue
                for doc, wtf in self.postings[term].items():
                    if allowed is not None and doc not in allowed:
                        continue
                    saturation = wtf / (wtf + K1)
                    value = weight * idf * saturation * (K1 + 1)
                    if value > best_score.get(doc, 0.0):
                        best_score[doc] = value
                        # A word found only in passing (body) covers the query less.
                        best_mass[doc] = weight * idf * min(1.0, saturation / COVERAGE_SAT)
            for doc, value in best_score.items():
                bm25[doc] += value
                slot_mass[doc] += best_mass[doc]
                matched[doc].append(slot.surface)
        for bigram in aq.bigrams:
            idf = self.idf[bigram]
            max_possible += idf * BIGRAM_WEIGHT
            for doc, wtf in self.postings[bigram].items():
                if allowed is not None and doc not in allowed:
                    continue
                bm25[doc] += BIGRAM_WEIGHT * idf * wtf * (K1 + 1) / (wtf + K1)
        if not bm25:
            return []
        total_mass = sum(self._slot_idf(s) for s in aq.slots) or 1.0
        # Nearest example question: IDF-weighted Dice between the query and each unit.
        unit_overlap: dict[int, float] = defaultdict(float)
        for slot in known:
            best_unit: dict[int, float] = {}
            for term, weight in slot.alternatives:
                value = weight * self.idf.get(term, 0.0)
                for unit in self.unit_postings.get(term, ()):
                    if value > best_unit.get(unit, 0.0):
                        best_unit[unit] = value
            for unit, value in best_unit.items():
                unit_overlap[unit] += value
        for bigram in aq.bigrams:
            for unit in self.unit_postings.get(bigram, ()):
                unit_overlap[unit] += self.idf[bigram] * BIGRAM_WEIGHT
        bigram_mass = sum(self.idf[b] * BIGRAM_WEIGHT for b in aq.bigrams)
        question_sim: dict[int, float] = defaultdict(float)
        for unit, overlap in unit_overlap.items():
            doc = self.unit_doc[unit]
            if allowed is not None and doc not in allowed:
                continue
            sim = (
                self.unit_weight[unit]
                * 2
                * overlap
                / (total_mass + bigram_mass + self.unit_mass[unit])
            )
            if sim > question_sim[doc]:
                question_sim[doc] = sim
        topics = self._topic_scores(aq)
        w_bm25, w_question = SCORE_WEIGHTS["bm25"], SCORE_WEIGHTS["question"]
        w_topic, w_coverage = SCORE_WEIGHTS["topic"], SCORE_WEIGHTS["coverage"]
        scale = 1.0 / ((K1 + 1) * max_possible) if max_possible else 0.0
        docs = self.docs
        scores: list[tuple[float, str, int]] = []
        for doc, raw in bm25.items():
            score = (
                w_bm25 * min(1.0, raw * scale)
                + w_question * min(1.0, question_sim.get(doc, 0.0))
                + w_topic * topics.get(docs[doc].topic_id, 0.0)
                + w_coverage * min(1.0, slot_mass[doc] / total_mass)
            )
            scores.append((score, docs[doc].slug, doc))
        # Only the best few become Hit objects (thousands of articles may match a word).
        best = heapq.nsmallest(max(limit, 2), scores, key=lambda s: (-s[0], s[1]))
        hits = [
            Hit(
                doc=docs[doc],
                score=score,
                bm25=min(1.0, bm25[doc] * scale),
                question_sim=min(1.0, question_sim.get(doc, 0.0)),
                coverage=min(1.0, slot_mass[doc] / total_mass),
                topic_share=topics.get(docs[doc].topic_id, 0.0),
                matched_mass=slot_mass[doc],
                matched=matched[doc],
            )
            for score, _slug, doc in best
        ]
        if hits:
            nxt = hits[1].score if len(hits) > 1 else 0.0
            hits[0].margin = (hits[0].score - nxt) / hits[0].score if hits[0].score else 0.0
        return hits[:limit]
