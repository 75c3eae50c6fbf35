import logging
import os
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serveur vocal : répond aux appels SIP (docs/voice.md)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", help="Adresse d'écoute SIP (VOICE_SIP_HOST).")
        parser.add_argument("--port", type=int, help="Port SIP UDP (VOICE_SIP_PORT).")
        parser.add_argument("--public-host", help="Adresse annoncée (VOICE_PUBLIC_HOST).")

    def handle(self, *args: Any, **options: Any) -> None:
        # sippy logs every SIP message at INFO on stderr; warnings only unless asked.
        os.environ.setdefault("SIPLOG_LVL", "WARN")
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        from voice import services
        from voice.server import VoiceServer

        lost = services.close_lost_calls()
        if lost:
            self.stderr.write(f"{lost} call(s) left open by the previous run closed as lost")
        server = VoiceServer(
            host=options["host"], port=options["port"], public_host=options["public_host"]
        )
        if settings.KNOWLEDGE_WARM_UP:
            # The callbot's understanding built while the server waits for its first call.
            from knowledge.warm_up import warm_up_in_background

            warm_up_in_background()
        signal.signal(signal.SIGTERM, lambda *_: server.stop())
        self.stdout.write(f"voice server listening on udp {server.host}:{server.port}")
        self.stdout.flush()
        server.run()
