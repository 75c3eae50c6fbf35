from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = _("Messagerie sécurisée")

    def ready(self):
        from contactcenter.signals import (
            citizen_code_sms,
            citizen_notification,
            citizen_notifications,
            demo_loaded,
            event_files,
            service_files,
        )

        from . import receivers

        citizen_notification.connect(
            receivers.on_citizen_notification, dispatch_uid="messaging.outbox"
        )
        citizen_notifications.connect(
            receivers.on_citizen_notifications, dispatch_uid="messaging.outbox_many"
        )
        citizen_code_sms.connect(receivers.on_citizen_code_sms, dispatch_uid="messaging.code_sms")
        service_files.connect(receivers.on_service_files, dispatch_uid="messaging.service_files")
        event_files.connect(receivers.on_event_files, dispatch_uid="messaging.event_files")
        demo_loaded.connect(receivers.on_demo_loaded, dispatch_uid="messaging.demo")
