"""Learned re-ranking of the engine's candidate articles, and the answer decision.

The engine gathers a few candidate articles for a question (the lexical engine's first
``LEXICAL_CANDIDATES``, the ``VECTOR_CANDIDATES`` closest by sentence vectors, the article of
a recognised (event, object) situation) and describes each one with signals it already
computes (``FEATURES``): the lexical confidence and its parts, the candidate's lexical rank,
the cosine of the question with the article's nearest phrasing (title, one example question,
keywords) and with the centroid of its phrasings, their gaps to the best article, the
situation match, and how much of the question the title and the keywords cover; plus a few
signals of the question itself (unknown words, best cosine over the base).

Two small logistic regressions (pure numpy):

* the **ranker** gives each candidate the probability of being the right article
  (``RANK_FEATURES``: few signals, which carry over to new questions better than many);
* the **decider** looks at the best candidate (all its features, plus the ranker's
  probability and its margin over the second) and gives the probability that answering it
  is right; the chatbot answers when it reaches the model's threshold, else says "je ne sais
  pas" (out-of-scope questions are its negatives).

Weights and threshold live in ``rerank_weights.json`` (in the repository, like the confidence
weights in engine.py), trained on the dev split and ``out_of_scope.txt`` only with
``manage.py chatbot_rerank --write`` (cross-validated: see docs/knowledge.md).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WEIGHTS_PATH = Path(__file__).resolve().parent / "rerank_weights.json"
LEXICAL_CANDIDATES = 5
VECTOR_CANDIDATES = 2
ENCODER_CANDIDATES = 3

FEATURES = (
    "confidence",  # the lexical engine's confidence for this article (engine.confidence_from)
    "score",
    "bm25",
    "question_sim",
    "coverage",
    "topic_share",
    "lexical_first",  # 1 for the lexical engine's first article
    "lexical_rank",  # 1 / (1 + rank) among the lexical candidates, 0 outside them
    "cosine",  # question vs the article's nearest phrasing
    "cosine_gap",  # cosine minus the best cosine over all articles (<= 0)
    "cosine_first",  # 1 when this article has the best cosine
    "centroid",  # question vs the mean of the article's phrasings
    "centroid_gap",
    "sentence",  # sentence encoder: question vs the article's nearest phrasing
    "sentence_gap",  # ... minus the best over all articles (<= 0)
    "sentence_first",  # 1 when this article is the encoder's nearest
    "sentence_centroid",  # sentence encoder: question vs the mean of the article's phrasings
    "sentence_centroid_gap",
    "situation",  # 1 when the (event, object) situation layer points at this article
    "title_overlap",  # share of the question's known words found in the title
    "keyword_overlap",  # ... in the keywords
    "unknown_share",  # question: share of words the base does not know
    "known_slots",  # question: log(1 + known words)
    "best_cosine",  # question: best cosine over all articles
    "best_sentence",  # question: best sentence-encoder cosine over all articles
    "best_confidence",  # question: best lexical confidence
)


@dataclass
class Candidate:
    """One article considered for a question, with its signals."""

    slug: str
    features: dict[str, float]


# Signals the ranker compares candidates on; the decider reads every feature of the best one.
RANK_FEATURES = ("confidence", "cosine", "sentence", "sentence_centroid", "situation")
DECISION_FEATURES = ("p", "p_margin", *FEATURES)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))


class Logistic:
    """A logistic model over named features (raw scale: no standardisation at run time)."""

    def __init__(self, names: list[str], weights: list[float], bias: float):
        self.names = list(names)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.bias = float(bias)

    def probabilities(self, rows: list[dict[str, float]]) -> list[float]:
        if not rows:
            return []
        x = np.array([[r.get(n, 0.0) for n in self.names] for r in rows], dtype=np.float64)
        return [float(p) for p in _sigmoid(x.reshape(len(rows), -1) @ self.weights + self.bias)]

    def to_dict(self) -> dict:
        return {
            "features": self.names,
            "weights": [round(float(w), 5) for w in self.weights],
            "bias": round(self.bias, 5),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Logistic:
        return cls(data["features"], data["weights"], data["bias"])


def _decision_row(candidates: list[Candidate], probabilities: list[float], best: int) -> dict:
    second = max((p for i, p in enumerate(probabilities) if i != best), default=0.0)
    return {
        **candidates[best].features,
        "p": probabilities[best],
        "p_margin": probabilities[best] - second,
    }


class Reranker:
    """Ranker + decider + answer threshold."""

    def __init__(self, ranker: Logistic, decider: Logistic, threshold: float):
        self.ranker = ranker
        self.decider = decider
        self.threshold = float(threshold)

    def scores(self, candidates: list[Candidate]) -> list[float]:
        """Per candidate, a score whose maximum is the confidence of answering it: the best
        candidate gets the decider's probability, the others that times their ranker
        probability's share of the best one's."""
        probabilities = self.ranker.probabilities([c.features for c in candidates])
        if not probabilities:
            return []
        best = int(np.argmax(probabilities))
        confidence = self.decider.probabilities([_decision_row(candidates, probabilities, best)])[0]
        top = probabilities[best] or 1.0
        return [
            confidence if i == best else confidence * p / top for i, p in enumerate(probabilities)
        ]

    def to_dict(self) -> dict:
        return {
            "ranker": self.ranker.to_dict(),
            "decider": self.decider.to_dict(),
            "threshold": round(self.threshold, 4),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Reranker:
        return cls(
            Logistic.from_dict(data["ranker"]),
            Logistic.from_dict(data["decider"]),
            data["threshold"],
        )


_lock = threading.Lock()
_loaded: dict[Path, Reranker | None] = {}


def load(path: Path = WEIGHTS_PATH) -> Reranker | None:
    """The stored model (read once per process), or None when the file is absent."""
    if path not in _loaded:
        with _lock:
            if path not in _loaded:
                try:
                    data = json.loads(path.read_text(encoding="utf-8"))
                except FileNotFoundError:
                    _loaded[path] = None
                else:
                    _loaded[path] = Reranker.from_dict(data)
    return _loaded[path]


# --- training --------------------------------------------------------------------------------
@dataclass
class Example:
    """A question's candidates and the right article (None: out of scope)."""

    candidates: list[Candidate]
    expected: str | None


def fit_logistic(
    rows: list[dict[str, float]],
    labels: list[float],
    names: list[str],
    *,
    l2: float = 1.0,
    iterations: int = 50,
) -> Logistic:
    """Newton-fitted L2 logistic regression; features are standardised while fitting and
    folded back into raw-scale weights."""
    x = np.array([[r.get(n, 0.0) for n in names] for r in rows], dtype=np.float64)
    x = x.reshape(len(rows), len(names))
    y = np.asarray(labels, dtype=np.float64)
    mean = x.mean(axis=0) if len(x) else np.zeros(len(names))
    std = x.std(axis=0) if len(x) else np.ones(len(names))
    std[std == 0] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / std])
    coef = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[0] = 0.0  # the intercept is not shrunk
    for _ in range(iterations):
        p = _sigmoid(z @ coef)
        gradient = z.T @ (p - y) + penalty * coef
        hessian = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        coef -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    weights = coef[1:] / std
    bias = coef[0] - float((coef[1:] * mean / std).sum())
    return Logistic(names, list(weights), bias)


def fit(
    examples: list[Example],
    rank_names: list[str] | None = None,
    decision_names: list[str] | None = None,
    *,
    l2: float = 1.0,
    threshold: float = 0.5,
) -> Reranker:
    """Ranker on every candidate (1: the right article), then decider on each question's
    best candidate under that ranker (1: it is the right article; out of scope: 0)."""
    rank_names = list(rank_names or RANK_FEATURES)
    decision_names = list(decision_names or DECISION_FEATURES)
    ranker = fit_logistic(
        [c.features for e in examples for c in e.candidates],
        [float(c.slug == e.expected) for e in examples for c in e.candidates],
        rank_names,
        l2=l2,
    )
    rows, labels = [], []
    for e in examples:
        probabilities = ranker.probabilities([c.features for c in e.candidates])
        if probabilities:
            best = int(np.argmax(probabilities))
            rows.append(_decision_row(e.candidates, probabilities, best))
            labels.append(float(e.candidates[best].slug == e.expected))
    decider = fit_logistic(rows, labels, decision_names, l2=l2)
    return Reranker(ranker, decider, threshold)


def decide(model: Reranker, example: Example) -> tuple[str | None, float]:
    """(best candidate, confidence of answering it); the slug is None without candidates."""
    scores = model.scores(example.candidates)
    if not scores:
        return None, 0.0
    best = int(np.argmax(scores))
    return example.candidates[best].slug, scores[best]


def cross_validate(
    examples: list[Example],
    rank_names: list[str] | None = None,
    decision_names: list[str] | None = None,
    *,
    folds: int = 5,
    l2: float = 1.0,
    seed: int = 7,
    groups: list[int] | None = None,
) -> list[tuple[str | None, float]]:
    """Each question decided by a model fitted on the other folds (fixed shuffled folds).

    ``groups`` (one per example) keeps examples of the same group in the same fold: the same
    question asked over two knowledge bases is never both learned from and decided."""
    group_ids = np.asarray(groups if groups is not None else range(len(examples)))
    unique = np.unique(group_ids)
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of_group = np.empty(len(unique), dtype=np.int64)
    fold_of_group[order] = np.arange(len(unique)) % folds
    fold_of = fold_of_group[np.searchsorted(unique, group_ids)]
    decisions: list[tuple[str | None, float]] = [(None, 0.0)] * len(examples)
    for k in range(folds):
        train = [e for e, f in zip(examples, fold_of, strict=True) if f != k]
        model = fit(train, rank_names, decision_names, l2=l2)
        for i in np.flatnonzero(fold_of == k):
            decisions[i] = decide(model, examples[i])
    return decisions


def rates(
    examples: list[Example], decisions: list[tuple[str | None, float]], threshold: float
) -> tuple[float, float]:
    """(top-1 answered and right on answerable questions, "je ne sais pas" on the others)."""
    right = answerable = declined = others = 0
    for example, (slug, p) in zip(examples, decisions, strict=True):
        if example.expected is None:
            others += 1
            declined += p < threshold
        else:
            answerable += 1
            right += p >= threshold and slug == example.expected
    return (right / answerable if answerable else 0.0, declined / others if others else 1.0)


def choose_threshold(
    examples: list[Example], decisions: list[tuple[str | None, float]], min_dont_know: float
) -> float:
    """The lowest threshold (most answers) keeping "je ne sais pas" >= ``min_dont_know``."""
    for step in range(5, 96):
        threshold = step / 100
        if rates(examples, decisions, threshold)[1] >= min_dont_know - 1e-9:
            return threshold
    return 0.95
