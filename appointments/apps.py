from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AppointmentsConfig(AppConfig):
    name = "appointments"
    verbose_name = _("Rendez-vous")

    def ready(self):
        from contactcenter.signals import booking_offer_requested, demo_loaded

        from . import demo, offers, tasks  # noqa: F401

        demo_loaded.connect(demo.on_demo_loaded, dispatch_uid="appointments.demo")
        booking_offer_requested.connect(offers.booking_offer, dispatch_uid="appointments.offer")
