"""``manage.py chatbot_answer [--jsonl] [QUESTION ...]``: answer questions as a citizen would be.

With ``--jsonl``, reads one question per line on standard input and prints one JSON object per
line: ``{"q", "article" (slug or null), "confidence" (0..1), "smalltalk" (slug or null)}``
(a subject the base does not cover, answered with its redirection, has a null article; without
``--jsonl`` the redirection is named).
Agent-only articles are never answered. Uses the knowledge base in the database (works right
after ``migrate`` and ``import_kb``).
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from knowledge.engine import build_engine


class Command(BaseCommand):
    help = (
        "Répond aux questions comme l'assistant répondrait à un usager. Avec --jsonl : une "
        "question par ligne sur l'entrée standard, un objet JSON par ligne en sortie."
    )

    def add_arguments(self, parser):
        parser.add_argument("questions", nargs="*", help="Questions (sinon l'entrée standard).")
        parser.add_argument(
            "--jsonl", action="store_true", help="Entrée et sortie ligne à ligne (JSON Lines)."
        )

    def handle(self, *args, questions, jsonl, **options):
        engine = build_engine()
        if not engine.index.docs:
            raise CommandError(
                "La base de connaissances est vide : lancez d'abord « manage.py import_kb »."
            )
        source = questions or (line.rstrip("\r\n") for line in sys.stdin)
        for question in source:
            if jsonl and not questions:
                stripped = question.strip()
                # A line may itself be JSON ({"q": ...} or a JSON string): accept both.
                if stripped.startswith(("{", '"')):
                    try:
                        decoded = json.loads(stripped)
                        question = decoded.get("q", "") if isinstance(decoded, dict) else decoded
                    except (ValueError, AttributeError):
                        pass
            question = str(question)
            if not question.strip():
                if jsonl:
                    self._emit(
                        {"q": question, "article": None, "confidence": 0.0, "smalltalk": None}
                    )
                continue
            reply = engine.answer(question[:1000], audience="public")
            result = {
                "q": question,
                "article": reply.article_slug,
                "confidence": round(float(reply.confidence), 4),
                "smalltalk": reply.smalltalk.slug if reply.smalltalk else None,
            }
            if jsonl:
                self._emit(result)
            else:
                answer = (
                    result["article"]
                    or (f"[{result['smalltalk']}]" if result["smalltalk"] else None)
                    or (
                        f"(réorientation : {reply.redirection.slug})" if reply.redirection else None
                    )
                    or "(je ne sais pas)"
                )
                self.stdout.write(f"{question}\n  -> {answer} ({result['confidence']:.2f})")

    def _emit(self, result):
        self.stdout.write(json.dumps(result, ensure_ascii=False))
        self.stdout.flush()
