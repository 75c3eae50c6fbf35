"""Deployment check of the e-mail channel (``manage.py check --deploy``)."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def sender_authentication(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if settings.MAIL_AUTHSERV_ID:
        return []
    return [
        Warning(
            "MAIL_AUTHSERV_ID n'est pas défini : aucun expéditeur de courriel n'est vérifié, "
            "aucun n'est reconnu comme usager ni rattaché à une demande existante.",
            hint="Indiquez l'authserv-id des en-têtes Authentication-Results de votre serveur "
            "de réception (ex. MAIL_AUTHSERV_ID=mx.guichet.example.fr), docs/mail.md.",
            id="mail.W001",
        )
    ]
