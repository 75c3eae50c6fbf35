"""Hold an IMAP IDLE connection on a mailbox and import new mail as soon as it arrives."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from mail.imap import idle
from mail.models import Mailbox


class Command(BaseCommand):
    help = (
        "Attend les nouveaux courriels d'une boîte fonctionnelle (IMAP IDLE) et les importe "
        "aussitôt ; la relève périodique (beat) reste le filet de sécurité."
    )

    def add_arguments(self, parser):
        parser.add_argument("address", help="adresse fonctionnelle de la boîte")
        parser.add_argument("--wait", type=int, default=300, help="secondes par attente IDLE")
        parser.add_argument("--cycles", type=int, default=None, help="nombre d'attentes (tests)")

    def handle(self, address, wait, cycles, **options):
        mailbox = Mailbox.objects.filter(address__iexact=address, enabled=True).first()
        if mailbox is None:
            raise CommandError(f"no enabled mailbox {address}")
        while True:
            try:
                outcome = idle(mailbox, cycles=cycles, wait=wait)
            except Exception as exc:  # noqa: BLE001 - reconnect after a pause
                if cycles is not None:
                    raise
                self.stderr.write(f"IDLE on {address} failed: {exc}; reconnecting in 30 s")
                time.sleep(30)
                continue
            self.stdout.write(f"{address}: {outcome}")
            if outcome == "unsupported" or cycles is not None:
                return
