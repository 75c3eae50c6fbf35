from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VisioConfig(AppConfig):
    name = "visio"
    verbose_name = _("Visio")

    def ready(self):
        from . import receivers  # noqa: F401  (visio_room_requested)
