from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Ways in: the public home, local accounts (sign-up, verification, password reset, e-mail
    change, deletion) and two-factor authentication. Imports the core app only."""

    name = "accounts"
    verbose_name = _("Comptes")

    def ready(self):
        from contactcenter.signals import demo_loaded

        from . import api_schema, demo  # api_schema registers the OpenAPI extension

        del api_schema

        demo_loaded.connect(demo.on_demo_loaded, dispatch_uid="accounts.demo")
