"""Project checks for misconfiguration, with stable ids (guichet.W001...)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured


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
    if not settings.TRUSTED_PROXIES:
        messages.append(
            Warning(
                "TRUSTED_PROXIES n'est pas défini : derrière un proxy inverse, tous les usagers "
                "ont l'adresse du proxy et partagent un compteur d'échecs de connexion.",
                hint="Indiquez l'adresse ou le réseau du proxy inverse (TRUSTED_PROXIES=10.0.0.5).",
                id="guichet.W005",
            )
        )
    return messages


def require_static_manifest() -> None:
    """Production serves hashed static files (whitenoise's manifest storage): without the
    manifest that ``collectstatic`` writes, every page fails on its first ``{% static %}``.
    The ASGI application calls this at start-up so that the server refuses to start with this
    message instead of answering 500s (bin/serve runs collectstatic first)."""
    from django.contrib.staticfiles.storage import staticfiles_storage

    manifest_name = getattr(staticfiles_storage, "manifest_name", None)
    if manifest_name is None or staticfiles_storage.exists(manifest_name):
        return
    raise ImproperlyConfigured(
        f"Static files are not collected: {settings.STATIC_ROOT}/{manifest_name} is missing. "
        "Run `python manage.py collectstatic --noinput` before starting the server "
        "(bin/serve does it; the Docker image does it when it is built)."
    )
