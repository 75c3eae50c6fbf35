from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactcenterConfig(AppConfig):
    name = "contactcenter"
    verbose_name = _("Centre de contact")

    def ready(self):
        # checks: the guichet.* system checks; kpis: counts logins for the dashboard.
        from . import checks, kpis  # noqa: F401

        # sockets: logout, a password change or a deactivation closes the person's websockets.
        from . import sockets

        sockets.connect_signals()
