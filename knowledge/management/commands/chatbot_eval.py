"""``manage.py chatbot_eval``: quality of the chatbot on the knowledge base in the database.

Reports top-1 accuracy with leave-one-out over the articles' example questions, the rate of
"je ne sais pas" on out-of-scope questions (knowledge/eval/out_of_scope.txt), the results
on colloquial questions (knowledge/eval/colloquial.tsv) and, for each citizens' questions set
(knowledge/eval/dev.jsonl, batch3.jsonl to batch12.jsonl and test.jsonl by default, see
knowledge/evalset.py): top-1, "je ne sais pas", agent-only leaks, p95 latency,
recall per article and the confusion list (which articles attract other articles' questions).
``--ablation`` reruns the sets with the understanding components switched on one by one.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from knowledge import engine as E
from knowledge import evalset, evaluation
from knowledge.evalset import pct


class Command(BaseCommand):
    help = (
        "Évalue l'assistant : précision top-1 en leave-one-out sur les questions types, taux "
        "de « je ne sais pas » sur des questions hors champ, questions familières."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--kb",
            metavar="PATH",
            help="Évaluer un fichier de base (format import_kb) au lieu de la base de données.",
        )
        parser.add_argument(
            "--out-of-scope", metavar="PATH", default=str(evaluation.OUT_OF_SCOPE_PATH)
        )
        parser.add_argument("--colloquial", metavar="PATH", default=str(evaluation.COLLOQUIAL_PATH))
        parser.add_argument(
            "--dataset",
            metavar="PATH",
            action="append",
            help=(
                "Jeu de questions d'usagers (JSONL, répétable ; défaut : dev, batch3, batch4, "
                "batch5, batch6, batch7, batch8, batch9, batch10, batch11, batch12, test)."
            ),
        )
        parser.add_argument(
            "--ablation",
            action="store_true",
            help="Mesurer chaque composant (lexical, orthographe, synonymes, lexique éditeurs).",
        )
        parser.add_argument(
            "--loo-every",
            type=int,
            default=1,
            metavar="N",
            help=(
                "Validation croisée sur une question d'exemple sur N seulement (plus rapide ; "
                "défaut : toutes)."
            ),
        )
        parser.add_argument("--json", action="store_true", help="Sortie JSON.")
        parser.add_argument("--details", action="store_true", help="Lister les erreurs.")
        parser.add_argument(
            "--min-top1", type=float, default=None, help="Échoue sous ce taux (0..1)."
        )
        parser.add_argument(
            "--min-dont-know", type=float, default=None, help="Échoue sous ce taux (0..1)."
        )
        parser.add_argument(
            "--fit",
            action="store_true",
            help="Réajuster le modèle de confiance et afficher les coefficients (maintenance).",
        )

    def handle(self, *args, **options):
        if options["loo_every"] < 1:
            raise CommandError("--loo-every doit être un entier supérieur ou égal à 1.")
        try:
            docs, smalltalk, lexicon, redirections = (
                evaluation.base_from_file(options["kb"])
                if options["kb"]
                else evaluation.base_from_database()
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        # The database's out-of-scope examples (editors' "hors champ"); a file: the product's.
        examples = None if options["kb"] else E.active_out_of_scope()
        if not docs:
            raise CommandError(
                "La base de connaissances est vide : lancez d'abord « manage.py import_kb »."
            )
        paths = options["dataset"] or [
            str(evalset.DEV_PATH),
            str(evalset.BATCH3_PATH),
            str(evalset.BATCH4_PATH),
            str(evalset.BATCH5_PATH),
            str(evalset.BATCH6_PATH),
            str(evalset.BATCH7_PATH),
            str(evalset.BATCH8_PATH),
            str(evalset.BATCH9_PATH),
            str(evalset.BATCH10_PATH),
            str(evalset.BATCH11_PATH),
            str(evalset.BATCH12_PATH),
            str(evalset.TEST_PATH),
        ]
        try:
            out_of_scope = evaluation.read_out_of_scope(options["out_of_scope"])
            colloquial = evaluation.read_colloquial(options["colloquial"])
            splits = {Path(p).stem: evalset.read_dataset(p) for p in paths}
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(f"Lecture impossible : {exc}")
        report = evaluation.evaluate(
            docs,
            smalltalk,
            loo_every=options["loo_every"],
            out_of_scope=out_of_scope,
            colloquial=colloquial,
            lexicon=lexicon,
            redirections=redirections,
            examples=examples,
        )
        summary = report.summary()
        engine = evalset.engine_for(
            docs, smalltalk, lexicon, redirections=redirections, examples=examples
        )
        datasets = {name: evalset.run_dataset(engine, rows) for name, rows in splits.items()}
        summary["datasets"] = {name: r.summary() for name, r in datasets.items()}
        ablation = []
        if options["ablation"]:
            ablation = evalset.ablation(docs, smalltalk, lexicon, splits, redirections, examples)
            summary["ablation"] = [
                {"step": step, **{n: r.summary() for n, r in reports.items()}}
                for step, reports in ablation
            ]
        if options["fit"]:
            weights, threshold, stats = evaluation.fit_confidence(report)
            summary["fit"] = {"weights": weights, "threshold": threshold, **stats}
        if options["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2))
        else:
            self._print(summary, report, options["details"])
            for name, dataset in datasets.items():
                self._print_dataset(name, dataset, options["details"])
            if ablation:
                self._print_ablation(ablation)
        failures = []
        if options["min_top1"] is not None and summary["loo_top1"] < options["min_top1"]:
            failures.append(f"top-1 {pct(summary['loo_top1'])} < {pct(options['min_top1'])}")
        if (
            options["min_dont_know"] is not None
            and summary["out_of_scope_dont_know"] < options["min_dont_know"]
        ):
            failures.append(
                f"« je ne sais pas » {pct(summary['out_of_scope_dont_know'])} "
                f"< {pct(options['min_dont_know'])}"
            )
        if failures:
            raise CommandError("Objectif non atteint : " + " ; ".join(failures))

    def _print(self, s, report, details):
        w = self.stdout.write
        w(f"Base : {s['articles']} articles publiés dont {s['public_articles']} publics.")
        w("")
        w(f"Questions types, leave-one-out ({s['loo_questions']} questions)")
        w(f"  top-1 (bon article en premier)      : {pct(s['loo_top1'])}")
        w(f"  réponse donnée et correcte          : {pct(s['loo_answered_correct'])}")
        w(f"Hors champ ({s['out_of_scope_questions']} questions)")
        w(f"  « je ne sais pas » (correct)        : {pct(s['out_of_scope_dont_know'])}")
        w(f"Questions familières ({s['colloquial_questions']} questions)")
        w(f"  top-1                               : {pct(s['colloquial_top1'])}")
        w(f"  réponse donnée et correcte          : {pct(s['colloquial_answered_correct'])}")
        w(f"Échanges courants ({s['smalltalk_questions']} phrases)")
        w(f"  reconnus                            : {pct(s['smalltalk_correct'])}")
        if "fit" in s:
            w("")
            w(f"Modèle de confiance réajusté : {json.dumps(s['fit'], ensure_ascii=False)}")
        if details:
            w("")
            for case in report.cases:
                if case.kind == "loo" and case.top1 == case.expected and case.ok:
                    continue
                if case.kind != "loo" and case.ok:
                    continue
                got = case.answered or (
                    f"[{case.reply.smalltalk.slug}]" if case.reply.smalltalk else "(ne sait pas)"
                )
                w(
                    f"  ✗ {case.kind:<12} attendu={case.expected or '(hors champ)'} "
                    f"obtenu={got} top1={case.top1} conf={case.reply.confidence:.2f}"
                    f"  « {case.question} »"
                )

    def _print_dataset(self, name, r, details):
        w = self.stdout.write
        w("")
        w(f"Questions d'usagers « {name} » ({r.rows} questions)")
        w(f"  top-1 (réponse donnée et correcte)  : {pct(r.top1)} sur {r.answerable}")
        w(f"  « je ne sais pas » hors champ       : {pct(r.dont_know)} sur {r.out_of_scope}")
        w(f"  fuites d'articles agents            : {r.leaks} ({r.agent} tentatives)")
        w(f"  latence p95                         : {r.p95:.2f} ms (CPU {r.cpu_p95:.2f} ms)")
        styles = ", ".join(f"{s} {pct(ok / n)}" for s, (ok, n) in sorted(r.per_style.items()))
        w(f"  par style                           : {styles}")
        w("  Rappel par article (les moins bons d'abord) :")
        for slug, (ok, n) in sorted(
            r.per_article.items(), key=lambda kv: (kv[1][0] / kv[1][1], kv[0])
        ):
            if ok < n or details:
                w(f"    {ok}/{n}  {slug}")
        if r.confusions:
            w("  Confusions (attendu -> obtenu, nombre) :")
            for (expected, got), count in r.confusions.most_common():
                w(f"    {expected or '(hors champ)'} -> {got or '(ne sait pas)'} : {count}")
        if details:
            for question, expected, got, confidence in r.misses:
                w(
                    f"    ✗ attendu={expected or '(hors champ)'} obtenu={got} "
                    f"conf={confidence:.2f} « {question} »"
                )

    def _print_ablation(self, table):
        w = self.stdout.write
        names = list(table[0][1])
        w("")
        w("Ablation (top-1 / « je ne sais pas » / fuites / p95)")
        for step, reports in table:
            cells = "  ".join(
                f"{n}: {pct(r.top1)} / {pct(r.dont_know)} / {r.leaks} / {r.p95:.1f} ms"
                for n, r in ((n, reports[n]) for n in names)
            )
            w(f"  {step:<20} {cells}")
