"""Delete the sign-ups never verified (what the nightly Celery beat task does), or list them."""

from django.core.management.base import BaseCommand

from accounts.services import purge_unverified


class Command(BaseCommand):
    help = (
        "Supprime les comptes créés par inscription dont l'adresse n'a jamais été vérifiée "
        "(plus de ACCOUNTS_UNVERIFIED_DAYS jours, sans demande ni message)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="liste les comptes sans les supprimer"
        )

    def handle(self, *args, dry_run=False, **options):
        emails = purge_unverified(dry_run=dry_run)
        for email in emails:
            self.stdout.write(email)
        verb = "seraient supprimés" if dry_run else "supprimés"
        self.stdout.write(f"{len(emails)} compte(s) non vérifié(s) {verb}.")
