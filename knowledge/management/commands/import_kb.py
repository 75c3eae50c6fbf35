"""``manage.py import_kb PATH``: import (or update) the knowledge base from a JSON file."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from knowledge.kbfile import KBFileError, import_path


class Command(BaseCommand):
    help = (
        "Importe la base de connaissances (format shared/kb/faq.json). Idempotent : un nouvel "
        "import met à jour les articles existants. Tout ou rien : un fichier invalide "
        "n'importe rien."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="Chemin du fichier JSON.")
        parser.add_argument(
            "--service",
            metavar="CODE",
            help="Service auquel rattacher les thèmes créés (défaut : le premier service actif, "
            "sinon un service « accueil » créé pour l'occasion).",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="Ne pas afficher la barre de progression."
        )

    def handle(self, *args, path, service=None, no_progress=False, verbosity=1, **options):
        show = verbosity > 0 and not no_progress

        def progress(items):
            return tqdm(items, desc="Articles", unit="art.", disable=not show, file=self.stderr)

        try:
            report = import_path(path, service_code=service, progress=progress)
        except KBFileError as exc:
            raise CommandError(
                "Import annulé, rien n'a été modifié :\n  - " + "\n  - ".join(exc.errors)
            )
        if verbosity > 0:
            if report.created_service:
                self.stdout.write(
                    f"Service « {report.created_service} » créé pour rattacher les nouveaux thèmes."
                )
            self.stdout.write(self.style.SUCCESS(report.summary()))
