"""Delete or anonymise the personal data past its retention period (what the nightly Celery
beat task does), or list it with --dry-run (docs/operations.md, "Retention")."""

from django.core.management.base import BaseCommand, CommandError

from contactcenter import retention


class Command(BaseCommand):
    help = (
        "Supprime ou anonymise les données personnelles dont la durée de conservation est "
        "dépassée (GUICHET_RETENTION_<NATURE>_DAYS), nature par nature."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="liste ce qui partirait, sans rien modifier"
        )
        parser.add_argument(
            "--kind",
            action="append",
            dest="kinds",
            metavar="NATURE",
            help="cette nature seulement (répétable) ; par défaut toutes",
        )
        parser.add_argument(
            "--list-limit", type=int, default=1000, help="lignes listées par nature (--dry-run)"
        )

    def handle(self, *args, dry_run=False, kinds=None, list_limit=1000, **options):
        known = {kind.name for kind in retention.kinds()}
        unknown = sorted(set(kinds or ()) - known)
        if unknown:
            raise CommandError(
                f"nature inconnue : {', '.join(unknown)} ({', '.join(sorted(known))})"
            )
        outcomes = retention.purge_expired(dry_run=dry_run, only=kinds, list_limit=list_limit)
        for outcome in outcomes:
            kind = outcome.kind
            if outcome.cutoff is None:
                self.stdout.write(f"{kind.name}: conservé sans limite ({kind.label})")
                continue
            verb = {
                (True, retention.DELETE): "à supprimer",
                (True, retention.ANONYMISE): "à anonymiser",
                (False, retention.DELETE): "supprimé(s)",
                (False, retention.ANONYMISE): "anonymisé(s)",
            }[(dry_run, kind.action)]
            self.stdout.write(
                f"{kind.name}: {outcome.count} {verb} — {kind.label}, "
                f"plus de {outcome.days} jours (avant le {outcome.cutoff:%Y-%m-%d})"
            )
            for row in outcome.rows:
                self.stdout.write(f"  {row}")
            if dry_run and outcome.count > len(outcome.rows):
                self.stdout.write(f"  … et {outcome.count - len(outcome.rows)} autre(s)")
