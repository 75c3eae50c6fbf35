"""Citizens' questions datasets (knowledge/eval/dev.jsonl, test.jsonl) and their report.

One JSON object per line: ``{"q", "expected" (article slug or null), "kind" ("answerable",
"out_of_scope" or "agent"), "style" (optional: ind, sms, typo, noacc, ramble, long, en, asr,
oos, agent)}``.
``dev.jsonl`` is the split the engine is tuned on; ``test.jsonl`` is frozen (never tuned on).

The report gives top-1 (answer given and right) on answerable questions, "je ne sais pas" on
out-of-scope ones, agent-only leaks (an agent-only article answered to a citizen, whatever
the question), the answer latency, per-article recall and the confusions (expected -> got).
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import engine as E
from . import rerank
from . import text as T
from .search import DocSource

EVAL_DIR = Path(__file__).resolve().parent / "eval"
DEV_PATH = EVAL_DIR / "dev.jsonl"
TEST_PATH = EVAL_DIR / "test.jsonl"
# Written after dev and never trained on (the re-ranker learns from dev.jsonl only): how far a
# change generalises to questions nobody tuned on, without touching the frozen test split.
BATCH3_PATH = EVAL_DIR / "batch3.jsonl"
# Written by another author who read only the articles' titles and bodies (never the example
# questions, the lexicon or the other sets), after batch 3 had been read: the unseen measure of
# the rounds after it; never trained on, its misses never read.
BATCH4_PATH = EVAL_DIR / "batch4.jsonl"
# Written the same way by yet another author (200 answerable, 60 out of scope of which 40 near
# the domain, 10 agent-only attempts), scored before the redirections; its misses were then
# read (editors' additions to the lexicon and the redirections): no longer an unseen measure.
BATCH5_PATH = EVAL_DIR / "batch5.jsonl"
# Written the same way by a fourth author after batch 5 had been read, with out-of-scope
# questions on subjects these same administrations handle but the base has no article on;
# scored unseen for the redirections, then its misses were read (editors' additions to the
# redirections): no longer an unseen measure.
BATCH6_PATH = EVAL_DIR / "batch6.jsonl"
# Written the same way by a fifth author after batch 6 had been read (200 answerable over all
# 46 public articles, 60 out of scope: 25 other bodies, 20 our own subjects without an article,
# 15 chit-chat and nonsense; 10 agent-only attempts): scored unseen for the leave-one-out
# re-ranker, then its misses were read (triggers added, answerable misses attached to their
# article in the demo base): no longer an unseen measure.
BATCH7_PATH = EVAL_DIR / "batch7.jsonl"
# Written the same way by a sixth author after batch 7 had been read (same composition; rows
# whose words overlapped an earlier question by half or more rewritten unseen): scored unseen
# for the out-of-scope examples, then its misses were read (an insult answered led to
# ``intents.is_abuse``; answerable misses attached in the demo base): no longer unseen.
BATCH8_PATH = EVAL_DIR / "batch8.jsonl"
# Written the same way by a seventh author from the articles' titles and bodies only, after
# batch 8 had been read (200 answerable over the 46 public articles: 65 indirect, 30 texting,
# 30 English, 25 heavy typos, 25 speech recognition, 25 long; 60 out of scope: 40 near the
# articles' subjects, 10 far, 5 nonsense or insults, 5 English; 10 agent-only attempts):
# scored unseen for the insults, the story triggers and the out-of-scope table, then its
# misses were read (a denied mishap, a story after the question; answerable misses attached
# in the demo base): no longer unseen.
BATCH9_PATH = EVAL_DIR / "batch9.jsonl"
# Written the same way by an eighth author from the articles' titles and bodies only, before
# batch 9 was read (same composition): scored unseen for the rounds after batch 9, then its
# misses were read (texting spellings, verbs of selling, a vehicle sold *to* the citizen,
# everyday words in the default lexicon): no longer unseen.
BATCH10_PATH = EVAL_DIR / "batch10.jsonl"
# Written the same way by a ninth author from the articles' titles and bodies only, before
# batch 10 was read (same composition): never trained on, its misses never read. Its
# aggregates chose between keeping the stored re-ranker and refitting it after the read
# batches were attached to the demo base (docs/knowledge.md): no longer a clean unseen measure.
BATCH11_PATH = EVAL_DIR / "batch11.jsonl"
# Written the same way by a tenth author from the articles' titles and bodies only, after the
# read batches were attached (same composition): scored before and after that change, only
# as aggregates, never used to choose anything, its rows and misses never read: the unseen
# measure.
BATCH12_PATH = EVAL_DIR / "batch12.jsonl"
# The reference knowledge base as shipped (48 articles, their own example questions, no
# lexicon section): what a deployment has right after ``migrate`` and ``import_kb`` of it,
# without the demo's extra example questions, articles and English versions.
REFERENCE_KB_PATH = EVAL_DIR / "reference_kb.json"

# Ablation steps: which understanding components are on (see search.SearchIndex options).
_OFF = {
    "spelling": False,
    "synonyms": False,
    "lexicon": False,
    "vectors": False,
    "hybrid": False,
    "focus": False,
    "situations": False,
    "rerank": False,
    "encoder": False,
    "out_of_scope": False,
    "redirections": False,
}
_NO_REDIRECT = {"redirections": False, "out_of_scope": False}
ABLATION = [
    ("lexical", _OFF),
    ("+ spelling", {**_OFF, "spelling": True}),
    ("+ synonyms", {**_OFF, "spelling": True, "synonyms": True}),
    ("+ editors' lexicon", {**_OFF, "spelling": True, "synonyms": True, "lexicon": True}),
    (
        "+ word vectors",
        {
            **_NO_REDIRECT,
            "spelling": True,
            "synonyms": True,
            "lexicon": True,
            "hybrid": False,
            "focus": False,
            "situations": False,
            "rerank": False,
            "encoder": False,
        },
    ),
    (
        "+ hybrid (sentences)",
        {**_NO_REDIRECT, "focus": False, "situations": False, "rerank": False, "encoder": False},
    ),
    (
        "+ last clause (long)",
        {**_NO_REDIRECT, "situations": False, "rerank": False, "encoder": False},
    ),
    ("+ situations (event, object)", {**_NO_REDIRECT, "rerank": False, "encoder": False}),
    ("+ sentence encoder, learned re-ranker", _NO_REDIRECT),
    ("+ out-of-scope examples", {"redirections": False}),
    ("+ redirections", {}),
]


@dataclass
class Row:
    q: str
    expected: str | None
    kind: str
    style: str = ""


def read_dataset(path: Path | str) -> list[Row]:
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            rows.append(
                Row(
                    data["q"],
                    data.get("expected"),
                    data.get("kind", "answerable"),
                    data.get("style", ""),
                )
            )
    return rows


def pct(value: float) -> str:
    """A share as the commands print it: ``0.906`` → ``90.6 %``."""
    return f"{value * 100:.1f} %"


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


@dataclass
class DatasetReport:
    rows: int = 0
    answerable: int = 0
    correct: int = 0
    out_of_scope: int = 0
    declined: int = 0
    agent: int = 0
    leaks: int = 0
    latencies: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # this thread's CPU time per answer (ms)
    per_article: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    per_style: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    confusions: Counter = field(default_factory=Counter)
    misses: list[tuple[str, str | None, str, float]] = field(default_factory=list)

    @property
    def top1(self) -> float:
        return self.correct / self.answerable if self.answerable else 0.0

    @property
    def dont_know(self) -> float:
        return self.declined / self.out_of_scope if self.out_of_scope else 0.0

    @property
    def p95(self) -> float:
        return percentile(self.latencies, 95)

    @property
    def cpu_p95(self) -> float:
        return percentile(self.cpu, 95)

    def summary(self) -> dict:
        return {
            "answerable": self.answerable,
            "top1": round(self.top1, 4),
            "out_of_scope": self.out_of_scope,
            "dont_know": round(self.dont_know, 4),
            "agent_attempts": self.agent,
            "leaks": self.leaks,
            "p95_ms": round(self.p95, 2),
            "cpu_p95_ms": round(self.cpu_p95, 2),
            "per_style": {s: round(ok / n, 4) for s, (ok, n) in sorted(self.per_style.items())},
        }


def run_dataset(engine: E.KnowledgeEngine, rows: list[Row]) -> DatasetReport:
    report = DatasetReport()
    agent_only = {d.slug for d in engine.docs if d.audience != "public"}
    for row in rows:
        start, cpu_start = time.perf_counter(), time.thread_time()
        reply = engine.answer(row.q, audience="public")
        report.latencies.append((time.perf_counter() - start) * 1000)
        report.cpu.append((time.thread_time() - cpu_start) * 1000)
        got = reply.article_slug
        report.rows += 1
        if got in agent_only:
            report.leaks += 1
        if row.kind == "answerable":
            report.answerable += 1
            ok = got == row.expected
            report.correct += ok
            stats = report.per_article[row.expected or "?"]
            stats[0] += ok
            stats[1] += 1
            style = report.per_style[row.style or "-"]
            style[0] += ok
            style[1] += 1
            if not ok:
                report.confusions[(row.expected, got)] += 1
                report.misses.append((row.q, row.expected, got or "-", reply.confidence))
        elif row.kind == "agent":
            report.agent += 1
        else:
            report.out_of_scope += 1
            declined = reply.kind in ("dont_know", "smalltalk", "handoff", "redirect")
            report.declined += declined
            if not declined:
                report.confusions[(None, got)] += 1
                report.misses.append((row.q, None, got or "-", reply.confidence))
    return report


def engine_for(
    docs: list[DocSource],
    smalltalk: list[tuple[str, list[str], str]],
    lexicon: list[tuple[str, str]] | None = None,
    options: dict[str, bool] | None = None,
    reranker: rerank.Reranker | None = None,
    redirections: list | None = None,
    examples: list[str] | None = None,
) -> E.KnowledgeEngine:
    """``examples``: out-of-scope examples (default: the product's file)."""
    return E.KnowledgeEngine(
        docs,
        smalltalk,
        lexicon=lexicon or [],
        options=options,
        reranker=reranker,
        redirections=redirections or [],
        out_of_scope=examples,
    )


def _same_question(text: str) -> str:
    return " ".join(T.fold(text).split())


def without_questions(docs: list[DocSource], questions: list[str]) -> tuple[list[DocSource], int]:
    """The articles without the example questions that are one of ``questions`` (same words,
    case, accents and spacing aside), and how many were set aside.

    Training on a question the base holds verbatim (a miss the editors attached to its article)
    would teach the re-ranker that an exact example question is always right: each training
    question is described as the base was before it was attached."""
    asked = {_same_question(q) for q in questions}
    kept, removed = [], 0
    for doc in docs:
        own = tuple(q for q in doc.questions if _same_question(q) not in asked)
        removed += len(doc.questions) - len(own)
        kept.append(replace(doc, questions=own) if len(own) != len(doc.questions) else doc)
    return kept, removed


def ablation(
    docs: list[DocSource],
    smalltalk: list[tuple[str, list[str], str]],
    lexicon: list[tuple[str, str]],
    splits: dict[str, list[Row]],
    redirections: list | None = None,
    examples: list[str] | None = None,
) -> list[tuple[str, dict[str, DatasetReport]]]:
    table = []
    for name, options in ABLATION:
        engine = engine_for(
            docs, smalltalk, lexicon, options, redirections=redirections, examples=examples
        )
        engine.answer("préchauffage")
        table.append((name, {split: run_dataset(engine, rows) for split, rows in splits.items()}))
    return table
