from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemarchesConfig(AppConfig):
    name = "demarches"
    verbose_name = _("Démarches")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from contactcenter.signals import demo_loaded

        from . import demo

        demo_loaded.connect(demo.on_demo_loaded, dispatch_uid="demarches.demo")
