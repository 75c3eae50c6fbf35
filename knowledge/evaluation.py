"""Quality evaluation of the chatbot (``manage.py chatbot_eval``) and confidence fitting.

* Leave-one-out: for every example question of a public article, the engine is rebuilt without
  that question and must rank its article first (and, for "answered correctly", be confident).
* Out of scope: questions the knowledge base does not cover must get "je ne sais pas".
* Colloquial set: unseen questions typed the way people type, with the expected article.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import engine as E
from .search import DocSource

EVAL_DIR = Path(__file__).resolve().parent / "eval"
OUT_OF_SCOPE_PATH = EVAL_DIR / "out_of_scope.txt"
COLLOQUIAL_PATH = EVAL_DIR / "colloquial.tsv"


@dataclass
class Case:
    kind: str  # loo | colloquial | out_of_scope | smalltalk
    question: str
    expected: str | None  # article slug, "smalltalk:<slug>" or None (out of scope)
    reply: E.Reply | None = None
    top1: str | None = None  # best article whatever the confidence
    feats: dict | None = None

    @property
    def answered(self) -> str | None:
        return self.reply.article_slug if self.reply else None

    @property
    def ok(self) -> bool:
        if self.expected is None:
            return self.reply is not None and self.reply.kind in (
                "dont_know",
                "smalltalk",
                "redirect",
            )
        if self.expected.startswith("smalltalk:"):
            return bool(
                self.reply
                and self.reply.smalltalk
                and self.reply.smalltalk.slug == self.expected[10:]
            )
        return self.answered == self.expected


@dataclass
class Report:
    articles: int
    public_articles: int
    cases: list[Case] = field(default_factory=list)

    def of(self, kind: str) -> list[Case]:
        return [c for c in self.cases if c.kind == kind]

    @staticmethod
    def rate(cases: list[Case], predicate) -> float:
        return sum(1 for c in cases if predicate(c)) / len(cases) if cases else 0.0

    def summary(self) -> dict:
        loo, oos = self.of("loo"), self.of("out_of_scope")
        coll = [c for c in self.of("colloquial") if not (c.expected or "").startswith("smalltalk")]
        small = [c for c in self.of("colloquial") if (c.expected or "").startswith("smalltalk")]
        return {
            "articles": self.articles,
            "public_articles": self.public_articles,
            "loo_questions": len(loo),
            "loo_top1": self.rate(loo, lambda c: c.top1 == c.expected),
            "loo_answered_correct": self.rate(loo, lambda c: c.ok),
            "out_of_scope_questions": len(oos),
            "out_of_scope_dont_know": self.rate(oos, lambda c: c.ok),
            "colloquial_questions": len(coll),
            "colloquial_top1": self.rate(coll, lambda c: c.top1 == c.expected),
            "colloquial_answered_correct": self.rate(coll, lambda c: c.ok),
            "smalltalk_questions": len(small),
            "smalltalk_correct": self.rate(small, lambda c: c.ok),
        }


def read_out_of_scope(path: Path = OUT_OF_SCOPE_PATH) -> list[str]:
    from .encoder import read_questions

    return read_questions(path)


def read_colloquial(path: Path = COLLOQUIAL_PATH) -> list[tuple[str | None, str]]:
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        expected, question = line.split("\t", 1)
        rows.append((None if expected == "-" else expected, question.strip()))
    return rows


def _run(engine: E.KnowledgeEngine, case: Case) -> Case:
    case.reply = engine.answer(case.question, audience="public")
    aq = engine.index.analyze(case.question)
    hits = engine.index.search(aq, limit=1)
    case.top1 = hits[0].doc.slug if hits else None
    if hits:
        unknown_share, known = engine._unknown_share(aq)
        case.feats = E.features(hits[0], unknown_share, known)
    return case


def evaluate(
    docs: list[DocSource],
    smalltalk: list[tuple[str, list[str], str]],
    *,
    out_of_scope: list[str] | None = None,
    colloquial: list[tuple[str | None, str]] | None = None,
    loo: bool = True,
    loo_every: int = 1,
    lexicon: list[tuple[str, str]] | None = None,
    redirections: list | None = None,
    examples: list[str] | None = None,
) -> Report:
    """Run the whole evaluation on a snapshot of the knowledge base (no database needed).
    ``examples``: the engine's out-of-scope examples (default: the product's file).
    ``loo_every``: hold out one example question in that many (in the base's order; each one
    rebuilds the index), for a quicker leave-one-out over a fixed sample."""
    public = [d for d in docs if d.audience == "public"]
    report = Report(articles=len(docs), public_articles=len(public))
    if loo:
        rank = 0
        for doc in public:
            for i, question in enumerate(doc.questions):
                rank += 1
                if (rank - 1) % loo_every:
                    continue
                held_out = replace(doc, questions=doc.questions[:i] + doc.questions[i + 1 :])
                others = [held_out if d is doc else d for d in docs]
                engine = E.KnowledgeEngine(
                    others,
                    smalltalk,
                    lexicon=lexicon or [],
                    redirections=redirections or [],
                    out_of_scope=examples,
                )
                report.cases.append(_run(engine, Case("loo", question, doc.slug)))
    full = E.KnowledgeEngine(
        docs,
        smalltalk,
        lexicon=lexicon or [],
        redirections=redirections or [],
        out_of_scope=examples,
    )
    for question in out_of_scope or []:
        report.cases.append(_run(full, Case("out_of_scope", question, None)))
    for expected, question in colloquial or []:
        report.cases.append(_run(full, Case("colloquial", question, expected)))
    return report


def docs_from_database() -> tuple[list[DocSource], list[tuple[str, list[str], str]]]:
    from .models import SmallTalk

    built = E.build_engine()
    smalltalk = [(s.slug, list(s.questions), s.answer) for s in SmallTalk.objects.order_by("id")]
    return built.docs, smalltalk


# --- fitting the confidence model ------------------------------------------------------------
def fit_confidence(report: Report, *, l2: float = 0.003, epochs: int = 4000, seed: int = 7):
    """Logistic regression: in-scope questions whose first hit is right (1) vs out of scope (0).

    Features are standardised for the descent, then folded back into raw weights. Returns
    (weights, threshold, stats); pure Python (a few hundred samples).
    """
    samples: list[tuple[dict, int, float]] = []
    for case in report.cases:
        if case.feats is None:
            continue
        if case.kind == "out_of_scope":
            samples.append((case.feats, 0, 1.0))
        elif case.kind in ("loo", "colloquial") and not (case.expected or "").startswith("small"):
            if case.top1 == case.expected:
                samples.append((case.feats, 1, 1.0))
            else:
                samples.append((case.feats, 0, 0.3))  # a wrong answer is worse than none
    names = [n for n in E.CONFIDENCE_WEIGHTS if n != "bias"]
    if not samples:
        return dict(E.CONFIDENCE_WEIGHTS), E.THRESHOLD, {"samples": 0}
    mean = {n: sum(f.get(n, 0.0) for f, _, _ in samples) / len(samples) for n in names}
    std = {
        n: math.sqrt(sum((f.get(n, 0.0) - mean[n]) ** 2 for f, _, _ in samples) / len(samples))
        or 1.0
        for n in names
    }
    rows = [([(f.get(n, 0.0) - mean[n]) / std[n] for n in names], y, w) for f, y, w in samples]
    positives = sum(w for _, y, w in rows if y == 1) or 1.0
    negatives = sum(w for _, y, w in rows if y == 0) or 1.0
    balance = {1: 0.5 / positives, 0: 0.5 / negatives}
    coef = [0.0] * len(names)
    bias = 0.0
    rate = 1.0
    del seed  # deterministic full-batch descent
    for _ in range(epochs):
        grad = [0.0] * len(names)
        grad_bias = 0.0
        for x, y, w in rows:
            z = max(-30.0, min(30.0, bias + sum(c * v for c, v in zip(coef, x, strict=True))))
            g = (1.0 / (1.0 + math.exp(-z)) - y) * w * balance[y]
            grad_bias += g
            for i, v in enumerate(x):
                grad[i] += g * v
        bias -= rate * grad_bias
        coef = [c - rate * (g + l2 * c) for c, g in zip(coef, grad, strict=True)]
    weights = {"bias": bias - sum(c * mean[n] / std[n] for c, n in zip(coef, names, strict=True))}
    weights.update({n: c / std[n] for c, n in zip(coef, names, strict=True)})
    # Threshold: answer as many in-scope questions right as possible while declining at least
    # TARGET_DONT_KNOW of the out-of-scope ones.
    best = None
    for step in range(10, 91):
        threshold = step / 100
        pos = [E.confidence_from(f, weights) >= threshold for f, y, w in samples if y == 1]
        neg = [
            E.confidence_from(f, weights) < threshold for f, y, w in samples if y == 0 and w == 1.0
        ]
        pos_rate = sum(pos) / len(pos) if pos else 0.0
        neg_rate = sum(neg) / len(neg) if neg else 1.0
        key = (neg_rate >= TARGET_DONT_KNOW, pos_rate + neg_rate)
        if best is None or key > best[0]:
            best = (key, threshold, pos_rate, neg_rate)
    assert best is not None  # range(10, 91) is never empty
    rounded = {name: round(value, 4) for name, value in weights.items()}
    return (
        rounded,
        best[1],
        {"samples": len(samples), "answered": round(best[2], 4), "declined": round(best[3], 4)},
    )


TARGET_DONT_KNOW = 0.88


def logloss(report: Report, weights: dict) -> float:
    total, n = 0.0, 0
    for case in report.cases:
        if case.feats is None or (case.expected or "").startswith("small"):
            continue
        y = 0 if case.kind == "out_of_scope" or case.top1 != case.expected else 1
        p = min(max(E.confidence_from(case.feats, weights), 1e-9), 1 - 1e-9)
        total -= math.log(p if y else 1 - p)
        n += 1
    return total / n if n else 0.0


def docs_from_file(path) -> tuple[list[DocSource], list[tuple[str, list[str], str]]]:
    """Snapshot of a KB file (import format), for evaluating without a database."""
    import json

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    topics = {t["slug"]: (i, t["title"]) for i, t in enumerate(data.get("topics", []), 1)}
    docs = [
        DocSource(
            id=i,
            slug=a["slug"],
            title=a["title"],
            body=a["body"],
            topic_id=topics.get(a["topic"], (None, ""))[0],
            topic_slug=a["topic"],
            topic_title=topics.get(a["topic"], (None, ""))[1],
            audience=a.get("audience", "public"),
            keywords=tuple(a.get("keywords", ())),
            questions=tuple(a.get("questions", ())),
            escalate=bool(a.get("escalate", False)),
        )
        for i, a in enumerate(data["articles"], 1)
        if a.get("status", "published") == "published"
    ]
    smalltalk = [(s["slug"], list(s["questions"]), s["answer"]) for s in data.get("smalltalk", [])]
    return docs, smalltalk


def lexicon_from_file(path) -> list[tuple[str, str]]:
    """The lexicon a database would hold after ``migrate`` and ``import_kb`` of the file: the
    default lexicon, then the file's optional "synonyms" section (same term: the file wins)."""
    import json

    from .lexicon import default_entries

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    table = {s["term"]: s["replacement"] for s in default_entries()}
    table.update((s["term"], s["replacement"]) for s in data.get("synonyms", []))
    return list(table.items())


def redirections_from_file(path) -> list:
    """The redirections a database would hold after ``migrate`` and ``import_kb`` of the file:
    the default ones, then the file's optional "redirections" section (same slug: the file
    wins)."""
    import json

    from .redirections import default_entries, redirection_entries

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    table = {r["slug"]: r for r in default_entries()}
    table.update((r["slug"], r) for r in data.get("redirections", []))
    return redirection_entries(table.values())


Base = tuple[list[DocSource], list, list[tuple[str, str]], list]


def base_from_file(path) -> Base:
    """(docs, small talk, lexicon, redirections) of a KB file, as a database would hold them
    after ``migrate`` and ``import_kb`` of it. A file that cannot be read or is not a KB:
    ``ValueError`` with the reason, for the commands to print."""
    import json

    try:
        docs, smalltalk = docs_from_file(path)
        return docs, smalltalk, lexicon_from_file(path), redirections_from_file(path)
    except OSError as exc:
        raise ValueError(f"Lecture impossible de « {path} » : {exc.strerror or exc}.") from exc
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"« {path} » n'est pas une base au format import_kb : {exc}.") from exc


def base_from_database() -> Base:
    """(docs, small talk, lexicon, redirections) of the knowledge base in the database."""
    from .redirections import active_entries

    docs, smalltalk = docs_from_database()
    return docs, smalltalk, lexicon_from_database(), active_entries()


def lexicon_from_database() -> list[tuple[str, str]]:
    from .models import Synonym

    return list(Synonym.objects.filter(is_active=True).values_list("term", "replacement"))
