"""``manage.py export_kb PATH``: write the knowledge base back in the import format."""

from django.core.management.base import BaseCommand, CommandError

from knowledge.kbfile import export_path


class Command(BaseCommand):
    help = "Exporte la base de connaissances au format de import_kb (JSON)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="Fichier JSON à écrire.")

    def handle(self, *args, path, **options):
        try:
            count = export_path(path)
        except OSError as exc:
            raise CommandError(f"Écriture impossible de {path} : {exc}")
        self.stdout.write(self.style.SUCCESS(f"{count} article(s) exporté(s) dans {path}."))
