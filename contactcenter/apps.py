from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactcenterConfig(AppConfig):
    name = "contactcenter"
    verbose_name = _("Centre de contact")

    def ready(self):
        # checks: the guichet.* system checks; kpis: counts logins for the dashboard.
        from django.db.backends.signals import connection_created

        from . import checks, hot, kpis  # noqa: F401

        connection_created.connect(hot.use_generic_plans, dispatch_uid="hot.generic_plans")
        # sockets: logout, a password change or a deactivation closes the person's websockets.
        from . import sockets

        sockets.connect_signals()
        # Routing assigning a transferred case to the receiving side accepts the transfer.
        from . import cases
        from .signals import case_assigned

        case_assigned.connect(cases.on_case_assigned, dispatch_uid="contactcenter.cases.transfers")
