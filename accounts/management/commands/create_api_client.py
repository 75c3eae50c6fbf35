"""Create an API client and print its client id and secret (shown once, stored hashed)."""

from django.core.management.base import BaseCommand, CommandError

from accounts.api_clients import create_api_client
from accounts.models import ApiClient
from contactcenter.models import Service


class Command(BaseCommand):
    help = "Crée un client de l'API (identifiants OAuth2 client credentials)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--services", required=True, help="codes, séparés par des virgules")
        parser.add_argument(
            "--scopes",
            default=ApiClient.Scope.CASES_READ,
            help=f"parmi {', '.join(ApiClient.Scope.values)}, séparées par des virgules",
        )

    def handle(self, *args, name, services, scopes, **options):
        codes = {code.strip() for code in services.split(",") if code.strip()}
        found = list(Service.objects.filter(code__in=codes))
        missing = codes - {service.code for service in found}
        if missing:
            raise CommandError(f"Services inconnus : {', '.join(sorted(missing))}")
        try:
            credentials = create_api_client(
                name, found, [scope.strip() for scope in scopes.split(",") if scope.strip()]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"client_id: {credentials.client_id}")
        self.stdout.write(f"client_secret: {credentials.client_secret}")
        self.stdout.write("Le secret n'est affiché qu'une fois : il est conservé haché.")
