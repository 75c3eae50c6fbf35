"""Project checks for misconfiguration, with stable ids (guichet.W001...)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def production_services(app_configs, **kwargs):
    messages = []
    if not settings.REDIS_URL:
        messages.append(
            Warning(
                "REDIS_URL n'est pas défini : canal temps réel en mémoire et Celery en mode eager.",
                hint="Définissez REDIS_URL en production (couche de canaux, broker, cache).",
                id="guichet.W001",
            )
        )
    if not settings.USING_POSTGRES:
        messages.append(
            Warning(
                "La base de données n'est pas PostgreSQL.",
                hint="Définissez DATABASE_URL=postgres://... en production.",
                id="guichet.W002",
            )
        )
    if settings.DEBUG:
        messages.append(
            Warning(
                "DEBUG est actif.", hint="GUICHET_ENV=production le désactive.", id="guichet.W003"
            )
        )
    if settings.CELERY_TASK_ALWAYS_EAGER and settings.REDIS_URL:
        messages.append(
            Warning(
                "Celery s'exécute en mode eager alors que Redis est configuré.",
                id="guichet.W004",
            )
        )
    return messages
