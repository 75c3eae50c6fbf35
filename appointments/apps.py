from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AppointmentsConfig(AppConfig):
    name = "appointments"
    verbose_name = _("Rendez-vous")

    def ready(self):
        from contactcenter.signals import demo_loaded

        from . import demo, tasks  # noqa: F401

        demo_loaded.connect(demo.on_demo_loaded, dispatch_uid="appointments.demo")
