"""``manage.py chatbot_eval``: quality of the chatbot on the knowledge base in the database.

Reports top-1 accuracy with leave-one-out over the articles' example questions, the rate of
"je ne sais pas" on out-of-scope questions (knowledge/eval/out_of_scope.txt) and the results
on colloquial questions (knowledge/eval/colloquial.tsv).
"""

import json

from django.core.management.base import BaseCommand, CommandError

from knowledge import evaluation


def pct(value: float) -> str:
    return f"{value * 100:.1f} %"


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
        if options["kb"]:
            docs, smalltalk = evaluation.docs_from_file(options["kb"])
        else:
            docs, smalltalk = evaluation.docs_from_database()
        if not docs:
            raise CommandError(
                "La base de connaissances est vide : lancez d'abord « manage.py import_kb »."
            )
        try:
            out_of_scope = evaluation.read_out_of_scope(options["out_of_scope"])
            colloquial = evaluation.read_colloquial(options["colloquial"])
        except OSError as exc:
            raise CommandError(f"Lecture impossible : {exc}")
        report = evaluation.evaluate(
            docs, smalltalk, out_of_scope=out_of_scope, colloquial=colloquial
        )
        summary = report.summary()
        if options["fit"]:
            weights, threshold, stats = evaluation.fit_confidence(report)
            summary["fit"] = {"weights": weights, "threshold": threshold, **stats}
        if options["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2))
        else:
            self._print(summary, report, options["details"])
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
