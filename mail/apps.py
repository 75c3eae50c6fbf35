from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailConfig(AppConfig):
    name = "mail"
    verbose_name = _("Courriel (boîtes fonctionnelles)")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from contactcenter.models import Event

        from . import checks, outbound, tasks  # noqa: F401 - registers the tasks and checks

        post_save.connect(outbound.on_event_saved, sender=Event, dispatch_uid="mail.outbound")

        from contactcenter.signals import service_contact_emails

        from . import services

        service_contact_emails.connect(services.service_addresses, dispatch_uid="mail.addresses")

        from anymail.signals import inbound

        from . import webhook, webhook_providers

        for view in (
            webhook.MailgunInbound,
            webhook_providers.PostmarkInbound,
            webhook_providers.MailerSendInbound,
        ):
            inbound.connect(
                webhook.on_inbound, sender=view, dispatch_uid=f"mail.webhook.{view.__name__}"
            )
