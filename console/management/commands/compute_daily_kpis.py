"""Store the dashboard's figures of past days now (what the Celery beat task does hourly)."""

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError

from console import kpis


class Command(BaseCommand):
    help = (
        "Calcule et enregistre les indicateurs journaliers du tableau de bord "
        "(par défaut : les jours manquants)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", help="premier jour (AAAA-MM-JJ)")
        parser.add_argument("--to", dest="end", help="dernier jour (AAAA-MM-JJ), hier au plus")
        parser.add_argument(
            "--force", action="store_true", help="recalculer aussi les jours déjà enregistrés"
        )

    def handle(self, *args, start=None, end=None, force=False, **options):
        today = kpis.local_today()
        try:
            first = date.fromisoformat(start) if start else None
            last = date.fromisoformat(end) if end else today - timedelta(days=1)
        except ValueError as exc:
            raise CommandError(f"Date invalide : {exc}. Format attendu : AAAA-MM-JJ.")
        if last >= today:
            raise CommandError(
                "Le dernier jour doit être passé : aujourd'hui est calculé en direct."
            )
        if first is None:
            days = [day for day in kpis.days_to_compute(today) if day <= last]
        else:
            if first > last:
                raise CommandError("--from doit précéder --to.")
            days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        stored = 0
        for day in days:
            rows = kpis.store_day(day, force=force or first is not None)
            if rows is not None:
                stored += 1
                self.stdout.write(f"{day.isoformat()} : {rows} lignes")
        self.stdout.write(self.style.SUCCESS(f"{stored} jour(s) enregistré(s)."))
