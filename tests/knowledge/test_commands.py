import io
import json

import pytest
from django.core.management import CommandError, call_command

from knowledge import evaluation
from knowledge.evalset import EVAL_DIR
from tests.knowledge.conftest import KB_PATH


def answer(lines):
    import sys

    stdin, out = sys.stdin, io.StringIO()
    sys.stdin = io.StringIO("\n".join(lines) + "\n")
    try:
        call_command("chatbot_answer", "--jsonl", stdout=out)
    finally:
        sys.stdin = stdin
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.django_db
def test_chatbot_answer_jsonl_interface(kb):
    rows = answer(
        [
            "j'ai perdu ma carte vitale",
            "bonjour",
            "je voudrais parler à un conseiller",
            "quel temps fera-t-il demain ?",
            "procédure interne : comment escalader un dossier de titre bloqué en ticket niveau 2",
        ]
    )
    assert [set(r) for r in rows] == [{"q", "article", "confidence", "smalltalk"}] * 5
    assert rows[0]["article"] == "carte-vitale-perdue" and rows[0]["smalltalk"] is None
    assert 0.3 <= rows[0]["confidence"] <= 1
    assert rows[1] == {"q": "bonjour", "article": None, "confidence": 1.0, "smalltalk": "bonjour"}
    assert rows[2]["smalltalk"] == "parler-agent" and rows[2]["article"] is None
    assert rows[3]["article"] is None and rows[3]["smalltalk"] is None
    assert rows[3]["confidence"] < 0.3
    # never an agent-only article
    assert rows[4]["article"] != "escalader-dossier-titre-bloque"


@pytest.mark.django_db
def test_chatbot_answer_on_empty_database_says_what_to_do():
    with pytest.raises(CommandError, match="import_kb"):
        call_command("chatbot_answer", "bonjour", stdout=io.StringIO())


@pytest.mark.django_db
# Leave-one-out over one example question in 36 rebuilds the index 58 times (about 30 s on a
# 2-CPU machine; all 2,072, `chatbot_eval` without --loo-every: about 30 min), and the five
# question sets that still measure are answered (about 15 s): over the default 300 s when the
# machine is shared.
@pytest.mark.timeout(900)
# The understanding does not depend on the database: CI measures it once, in the SQLite phase.
@pytest.mark.backend_independent
def test_chatbot_eval_reaches_the_targets(kb):
    out = io.StringIO()
    # The sets that measure (docs/knowledge.md): dev, the frozen test, batch 11 and the unseen
    # batch 12; and batch 10, one of the read batches whose questions are now example
    # questions, as a check that attached questions are answered (batches 3 to 9 are the same
    # check: `chatbot_eval` without --dataset scores them all).
    sets = ["dev", "batch10", "batch11", "batch12", "test"]
    call_command(
        "chatbot_eval",
        "--json",
        "--loo-every",
        "36",
        "--min-top1",
        "0.75",
        "--min-dont-know",
        "0.8",
        *[arg for name in sets for arg in ("--dataset", str(EVAL_DIR / f"{name}.jsonl"))],
        stdout=out,
    )
    summary = json.loads(out.getvalue())
    # 46 public articles: 232 questions naming the procedure, 366 telling the situation, 107
    # attached by the editors from the misses of batches 4 to 8 and 1,350 answerable questions
    # of the read batches 3 to 10 (each held out rebuilds the index over the 2,072: one in 36
    # here): top-1 93.1 % over the 58 held out.
    assert summary["loo_questions"] == 58
    assert summary["loo_top1"] >= 0.9
    assert summary["out_of_scope_questions"] >= 90
    assert summary["out_of_scope_dont_know"] >= 0.8
    assert summary["colloquial_answered_correct"] >= 0.85
    assert summary["smalltalk_correct"] >= 0.9
    assert set(summary["datasets"]) == set(sets)
    # Citizens' own words (knowledge/eval/). Floors just under today's figures with the default
    # lexicon, the learned re-ranker over the sentence encoder, the out-of-scope examples and
    # the default redirections (top-1 dev 96.3 %, batch 10 99.5 % (its questions are example
    # questions of the demo base now), batch 11 94.0 %, the unseen batch 12 95.0 %, test
    # 95.7 %; "je ne sais pas" dev 93.4 %, batch 10 98.3 % (its out-of-scope questions are
    # out-of-scope examples now), batch 11 88.3 %, batch 12 86.7 %, test 96.7 %): a regression
    # fails.
    floors = {  # split: (top-1, "je ne sais pas", per-style top-1, agent-only attempts)
        "dev": (0.96, 0.93, {"en": 0.99, "sms": 0.93, "ind": 0.94, "ramble": 0.97}, 4),
        "batch10": (0.99, 0.98, {"en": 0.99, "sms": 0.99, "ind": 0.98}, 10),
        "batch11": (0.935, 0.88, {"en": 0.99, "sms": 0.96, "ind": 0.9}, 10),
        "batch12": (0.945, 0.86, {"en": 0.99, "sms": 0.99, "ind": 0.95}, 10),
        "test": (0.955, 0.96, {"en": 0.99, "sms": 0.93, "ind": 0.91}, 4),
    }
    for split, (floor, dont_know, styles, attempts) in floors.items():
        dataset = summary["datasets"][split]
        assert dataset["leaks"] == 0
        assert dataset["agent_attempts"] >= attempts
        assert dataset["dont_know"] >= dont_know, split
        assert dataset["top1"] >= floor, split
        for style, style_floor in styles.items():
            assert dataset["per_style"][style] >= style_floor, (split, style)


def test_chatbot_eval_refuses_a_sample_step_below_one():
    with pytest.raises(CommandError, match="--loo-every"):
        call_command("chatbot_eval", "--loo-every", "0")


def test_chatbot_eval_fails_below_a_required_level(tmp_path):
    # Four articles of the demo base (leave-one-out over all of it takes minutes), two of which
    # answer the "out-of-scope" questions given: "je ne sais pas" 0 % fails the command.
    data = json.loads(KB_PATH.read_text(encoding="utf-8"))
    kept = {"carte-vitale-perdue", "mot-de-passe-oublie", "ceam", "creer-compte"}
    data["articles"] = [a for a in data["articles"] if a["slug"] in kept]
    small_kb = tmp_path / "kb.json"
    small_kb.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    oos = tmp_path / "oos.txt"
    oos.write_text("j'ai perdu ma carte vitale\nmot de passe oublié\n", encoding="utf-8")
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        json.dumps({"q": "carte vitale perdue", "expected": "carte-vitale-perdue"}) + "\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    failed = "Objectif non atteint : « je ne sais pas » 0.0 % < 80.0 %"
    with pytest.raises(CommandError, match=failed):
        call_command(
            "chatbot_eval",
            *("--kb", str(small_kb), "--dataset", str(rows), "--out-of-scope", str(oos)),
            *("--min-dont-know", "0.8", "--loo-every", "10"),
            stdout=out,
        )
    assert "Hors champ (2 questions)" in out.getvalue()


def test_out_of_scope_set_is_shipped_and_disjoint_from_the_kb():
    questions = evaluation.read_out_of_scope()
    assert len(questions) >= 90
    kb = json.loads(
        (evaluation.EVAL_DIR.parent.parent / "contactcenter" / "demo_data" / "faq.json").read_text()
    )
    known = {q for a in kb["articles"] for q in a["questions"]}
    assert not known & set(questions)


@pytest.mark.django_db
@pytest.mark.timeout(600)
@pytest.mark.backend_independent
def test_chatbot_answer_right_after_importing_the_reference_kb():
    """What a deployment gets from ``migrate`` + ``import_kb`` of the reference base alone (48
    articles, their own example questions, no lexicon section, no English versions): the
    default lexicon and the re-ranker carry the understanding. Floors just under today's
    figures (docs/knowledge.md, "Evaluation"); a regression fails."""
    from knowledge.evalset import (
        BATCH9_PATH,
        BATCH10_PATH,
        BATCH11_PATH,
        BATCH12_PATH,
        REFERENCE_KB_PATH,
        TEST_PATH,
        read_dataset,
    )

    call_command("import_kb", str(REFERENCE_KB_PATH), verbosity=0)
    kb = json.loads(REFERENCE_KB_PATH.read_text(encoding="utf-8"))
    agent_only = {a["slug"] for a in kb["articles"] if a["audience"] != "public"}
    assert agent_only
    # (top-1, "je ne sais pas"): today test 81.2 % / 100 %, batch 9 83.0 % / 98.3 %, batch 10
    # 80.5 % / 100 %, batch 11 78.5 % / 91.7 %, the unseen batch 12 76.5 % / 98.3 % (the
    # out-of-scope questions of batches 3 to 10 are among the product's out-of-scope
    # examples). Batches 4 to 8 (77.2, 81.5, 83.0, 73.5 and 79.5 % top-1) are left to
    # `chatbot_eval`: the five sets here are a third of the rows, and enough to catch a
    # regression.
    floors = {
        TEST_PATH: (0.80, 0.99),
        BATCH9_PATH: (0.825, 0.975),
        BATCH10_PATH: (0.8, 0.99),
        BATCH11_PATH: (0.78, 0.91),
        BATCH12_PATH: (0.76, 0.975),
    }
    for path, (top1_floor, dont_know_floor) in floors.items():
        rows = read_dataset(path)
        got = answer([r.q for r in rows])
        pairs = list(zip(rows, got, strict=True))
        answerable = [g["article"] == r.expected for r, g in pairs if r.kind == "answerable"]
        declined = [g["article"] is None for r, g in pairs if r.kind == "out_of_scope"]
        top1, dont_know = sum(answerable) / len(answerable), sum(declined) / len(declined)
        assert not [g for g in got if g["article"] in agent_only]
        assert top1 >= top1_floor, (path.name, top1)
        assert dont_know >= dont_know_floor, (path.name, dont_know)


@pytest.mark.parametrize("command", ["chatbot_eval", "chatbot_rerank"])
def test_a_missing_or_malformed_kb_file_is_a_precise_error(command, tmp_path):
    with pytest.raises(CommandError, match="Lecture impossible de .*absent.json"):
        call_command(command, "--kb", str(tmp_path / "absent.json"), stdout=io.StringIO())
    bad = tmp_path / "bad.json"
    bad.write_text('{"articles": 3}', encoding="utf-8")
    with pytest.raises(CommandError, match="n'est pas une base au format import_kb"):
        call_command(command, "--kb", str(bad), stdout=io.StringIO())
