"""Benchmark of the chatbot's tolerance to heavy typos, against the same questions well typed.

Takes the answerable questions of the question sets whose misses have been read
(knowledge/eval/dev.jsonl, batch3, batch5, batch6 and batch7; not the English or speech
recognition ones, shorter than 160 characters) and misspells about half of their words of four
letters or more the way French is mistyped (``misspell``: sounds written another way, "qu" →
"k", "é" → "er", "au" → "o", doubled or single consonants, a silent ending dropped, two letters
swapped, a letter dropped), accents removed from most of them. The seed is fixed: every run
asks the same questions.

For the demo base and the reference base as shipped (as ``import_kb`` of each file gives
them), it answers the questions well typed (the baseline) and misspelt, and prints top-1
(answered and right) and the answer p95 of each, with the ratios misspelt / well typed. The
unseen batch is never used: these are not a measure of understanding, only of spelling.

    .venv/bin/python bench/knowledge_typos.py [--seed 11] [--share 0.5]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from knowledge.text import strip_accents  # noqa: E402  (the engine's own: "œ" becomes "oe")

READ_SETS = ("dev", "batch3", "batch5", "batch6", "batch7")
# Common French typing errors: (written, typed instead).
SOUNDS = [
    ("qu", "k"), ("ph", "f"), ("eau", "o"), ("au", "o"), ("ai", "é"), ("ain", "in"),
    ("ein", "in"), ("mm", "m"), ("tt", "t"), ("ll", "l"), ("nn", "n"), ("rr", "r"),
    ("ss", "s"), ("pp", "p"), ("ff", "f"), ("é", "er"), ("é", "ez"), ("er", "é"),
    ("ez", "é"), ("ais", "é"), ("ait", "é"), ("an", "en"), ("en", "an"), ("c", "k"),
    ("s", "z"), ("ç", "ss"), ("x", "s"), ("tion", "sion"), ("ou", "ous"), ("o", "au"),
    ("in", "ain"), ("t", "tt"), ("l", "ll"), ("m", "mm"),
]  # fmt: skip


def misspell_word(word: str, rng: random.Random) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    draw = rng.random()
    if draw < 0.6:
        options = [(a, b) for a, b in SOUNDS if a in word]
        if options:
            written, typed = rng.choice(options)
            at = rng.choice([m.start() for m in re.finditer(re.escape(written), word)])
            return word[:at] + typed + word[at + len(written) :]
    if draw < 0.75 and word[-1] in "stdxe":
        return word[:-1]
    if draw < 0.85:
        at = rng.randrange(1, len(word) - 1)
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    at = rng.randrange(1, len(word))
    return word[:at] + word[at + 1 :]


def misspell(question: str, rng: random.Random, share: float) -> str:
    parts = re.findall(r"\w+|\W+", question.lower())
    typed = "".join(misspell_word(p, rng) if rng.random() < share else p for p in parts)
    return strip_accents(typed) if rng.random() < 0.7 else typed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--share", type=float, default=0.5, help="share of words misspelt")
    options = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
    import django

    django.setup()
    from knowledge import evalset, evaluation, rerank

    rng = random.Random(options.seed)
    well_typed = [
        row
        for name in READ_SETS
        for row in evalset.read_dataset(evalset.EVAL_DIR / f"{name}.jsonl")
        if row.kind == "answerable" and row.style not in ("en", "asr") and len(row.q) < 160
    ]
    misspelt = [
        evalset.Row(misspell(row.q, rng, options.share), row.expected, row.kind, row.style)
        for row in well_typed
    ]
    changed = sum(a.q.lower() != b.q for a, b in zip(well_typed, misspelt, strict=True))
    print(
        f"{len(well_typed)} questions of {', '.join(READ_SETS)}, {changed} misspelt "
        f"(seed {options.seed}, share {options.share})"
    )
    print("| Base | top-1 well typed | top-1 misspelt | ratio | p95 well typed | p95 misspelt |")
    print("| --- | --- | --- | --- | --- | --- |")
    bases = {
        "demo": ROOT / "contactcenter" / "demo_data" / "faq.json",
        "reference": evalset.REFERENCE_KB_PATH,
    }
    model = rerank.load()
    for name, path in bases.items():
        docs, smalltalk, lexicon, redirections = evaluation.base_from_file(path)
        engine = evalset.engine_for(docs, smalltalk, lexicon, None, model, redirections)
        # Warm-up on other misspellings of the same questions: the lazy tables (phonetic
        # keys, stems) are built, without caching the measured texts.
        warm = random.Random(options.seed + 1)
        for row in well_typed:
            engine.answer(misspell(row.q, warm, options.share))
        base = evalset.run_dataset(engine, well_typed)
        typo = evalset.run_dataset(engine, misspelt)
        print(
            f"| {name} | {evalset.pct(base.top1)} | {evalset.pct(typo.top1)} | "
            f"{typo.top1 / base.top1:.2f} | {base.p95:.2f} ms | {typo.p95:.2f} ms "
            f"(×{typo.p95 / base.p95:.2f}) |"
        )


if __name__ == "__main__":
    main()
