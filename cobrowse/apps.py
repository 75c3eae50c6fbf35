from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CobrowseConfig(AppConfig):
    name = "cobrowse"
    verbose_name = _("Aide à distance")

    def ready(self):
        from . import handlers  # noqa: F401  (logout ends the sessions)
