from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = _("Messagerie sécurisée")

    def ready(self):
        from contactcenter.signals import case_assigned, citizen_notification, demo_loaded

        from . import console, receivers

        citizen_notification.connect(
            receivers.on_citizen_notification, dispatch_uid="messaging.outbox"
        )
        demo_loaded.connect(receivers.on_demo_loaded, dispatch_uid="messaging.demo")
        # Routing assigning a transferred case to the receiving service accepts the transfer.
        case_assigned.connect(console.on_case_assigned, dispatch_uid="messaging.console.transfers")
