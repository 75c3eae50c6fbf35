"""Print the demo logins. ``bin/demo`` runs it once the server answers, so that the logins are
the last lines on screen, after the server's start-up lines and any mail or worker output."""

import time
import urllib.error
import urllib.request

from django.core.management.base import BaseCommand, CommandError

from contactcenter import demo


class Command(BaseCommand):
    help = "Affiche les identifiants de la démo (après le démarrage du serveur avec --wait-for)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--wait-for",
            metavar="URL",
            help="Attendre que cette adresse réponde avant d'afficher les identifiants.",
        )
        parser.add_argument("--timeout", type=float, default=120.0, help="en secondes")

    def handle(self, *args, wait_for=None, timeout=120.0, **options):
        url = wait_for or "http://127.0.0.1:8000/"
        if wait_for:
            self._wait(wait_for, timeout)
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Guichet est prêt."))
        self.stdout.write(f"Identifiants (mot de passe commun : {demo.DEMO_PASSWORD})")
        for role, email, detail in demo.credentials():
            self.stdout.write(f"  {role:<15} {email:<38} {detail}")
        self.stdout.write(
            "Double authentification du personnel (agents, superviseurs, administrateur) : "
            f"clé TOTP {demo.DEMO_TOTP_KEY} à ajouter dans une application d'authentification, "
            f"ou un code de secours (un seul usage par compte) : "
            f"{' '.join(demo.DEMO_RECOVERY_CODES)}"
        )
        self.stdout.write("")
        self.stdout.write(f"Ouvrez {url}")

    def _wait(self, url: str, timeout: float) -> None:
        if not url.startswith(("http://", "https://")):
            raise CommandError(f"--wait-for attend une adresse http(s), pas « {url} ».")
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (http(s) checked above)
                    return
            except urllib.error.HTTPError:
                return  # the server answers, whatever the status
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise CommandError(f"{url} ne répond pas après {timeout:.0f} s.") from None
                time.sleep(0.5)
