"""Add a webhook endpoint to an API client and print its signing secret (shown once)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import webhooks
from accounts.models import ApiClient, WebhookEndpoint


class Command(BaseCommand):
    help = "Ajoute un point de réception de webhooks à un client de l'API."

    def add_arguments(self, parser):
        parser.add_argument("--client-id", required=True, help="identifiant client OAuth2")
        parser.add_argument("--url", required=True)
        parser.add_argument(
            "--events",
            default=",".join(WebhookEndpoint.EventType.values),
            help=f"parmi {', '.join(WebhookEndpoint.EventType.values)}, séparés par des virgules",
        )
        parser.add_argument("--description", default="")

    def handle(self, *args, client_id, url, events, description, **options):
        client = ApiClient.objects.filter(application__client_id=client_id).first()
        if client is None:
            raise CommandError(f"Client de l'API inconnu : {client_id}")
        try:
            endpoint, secret = webhooks.create_endpoint(
                client,
                url,
                [event.strip() for event in events.split(",") if event.strip()],
                description,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"endpoint: {endpoint.pk} {endpoint.url}")
        self.stdout.write(f"events: {','.join(endpoint.events)}")
        self.stdout.write(f"secret: {secret}")
        self.stdout.write("Le secret n'est affiché qu'une fois.")
