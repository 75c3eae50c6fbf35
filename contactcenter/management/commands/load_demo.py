"""Load the demo: reference data, the knowledge base, people and ~30 cases. Idempotent."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from contactcenter import demo
from contactcenter.signals import demo_loaded


class Command(BaseCommand):
    help = "Charge les données de démonstration (idempotent) et affiche les identifiants."

    def add_arguments(self, parser):
        parser.add_argument(
            "--real-hours",
            action="store_true",
            help=(
                "Horaires réalistes (lundi-vendredi 8 h 30-17 h 30) au lieu d'un tchat ouvert "
                "7 jours sur 7, 24 h sur 24."
            ),
        )
        parser.add_argument(
            "--no-logins",
            action="store_true",
            help="Ne pas afficher les identifiants (bin/demo les affiche, serveur prêt).",
        )

    def handle(self, *args, **options):
        services = demo.ensure_reference_data()
        call_command("import_kb", str(demo.KB_PATH), verbosity=0)
        services = demo.ensure_reference_data()
        people = demo.load_people(services)
        created = demo.load_cases(people)
        demo_loaded.send(
            sender=self.__class__, people=people, real_hours=options.get("real_hours", False)
        )
        self.stdout.write(self.style.SUCCESS(f"Démo chargée ({created} demandes créées)."))
        if not options["no_logins"]:
            call_command("demo_logins", stdout=self.stdout)
