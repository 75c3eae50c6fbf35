from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactcenterConfig(AppConfig):
    name = "contactcenter"
    verbose_name = _("Centre de contact")

    def ready(self):
        # checks: the guichet.* system checks; sockets: logout, a password change or a
        # deactivation closes the person's websockets.
        from . import checks, sockets  # noqa: F401

        sockets.connect_signals()
        # Routing assigning a transferred case to the receiving side accepts the transfer.
        from . import cases
        from .signals import case_assigned

        case_assigned.connect(cases.on_case_assigned, dispatch_uid="contactcenter.cases.transfers")
