"""Run routing's periodic work (what Celery beat runs in production) once or in a loop.

Useful without Celery beat: presence timeouts, callbacks reaching their slot, queue sweep, SLA
breaches, availability refresh.
"""

import time

from django.core.management.base import BaseCommand

from routing import tasks


class Command(BaseCommand):
    help = "Exécute les tâches périodiques du routage (une fois, ou en boucle avec --loop)."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="toutes les 15 secondes")
        parser.add_argument("--interval", type=float, default=15.0)

    def handle(self, *args, loop=False, interval=15.0, **options):
        while True:
            presence = tasks.sweep_presence()
            routed = tasks.sweep_queues()
            breached = tasks.flag_sla_breaches()
            tasks.refresh_availability_beat()
            self.stdout.write(
                f"hors ligne : {len(presence['offline'])}, remis en file : "
                f"{len(presence['requeued'])}, attribués : {routed}, échéances dépassées : "
                f"{breached}"
            )
            if not loop:
                return
            time.sleep(interval)
