from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Ways in: the public home, local accounts (sign-up, verification, password reset, e-mail
    change, deletion) and two-factor authentication. Imports the core app only."""

    name = "accounts"
    verbose_name = _("Comptes")

    def ready(self):
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from contactcenter.models import Case, Event
        from contactcenter.signals import case_assigned, citizen_birthdate, demo_loaded

        # api_schema registers the OpenAPI extension
        from . import api_schema, demo, identities, webhooks
        from .models import ApiClient, WebhookEndpoint

        del api_schema

        demo_loaded.connect(demo.on_demo_loaded, dispatch_uid="accounts.demo")
        citizen_birthdate.connect(identities.on_citizen_birthdate, dispatch_uid="accounts.dob")
        post_save.connect(webhooks.on_case_saved, sender=Case, dispatch_uid="accounts.wh.case")
        post_save.connect(webhooks.on_event_saved, sender=Event, dispatch_uid="accounts.wh.event")
        case_assigned.connect(webhooks.on_case_assigned, dispatch_uid="accounts.wh.assigned")
        for model in (ApiClient, WebhookEndpoint):
            for signal in (post_save, post_delete):
                signal.connect(
                    webhooks.on_endpoints_changed,
                    sender=model,
                    dispatch_uid=f"accounts.wh.{model.__name__}.{signal}",
                )
        m2m_changed.connect(
            webhooks.on_endpoints_changed,
            sender=ApiClient.services.through,
            dispatch_uid="accounts.wh.services",
        )
