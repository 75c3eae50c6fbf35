from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = _("Console des agents et tableau de bord")

    def ready(self):
        # kpis: counts logins for the dashboard (a user_logged_in receiver).
        from contactcenter.signals import case_assigned, screen_pop

        from . import (
            kpis,  # noqa: F401
            screenpop,
        )

        # A chat or a callback given to an agent opens in their workstation.
        case_assigned.connect(screenpop.on_case_assigned, dispatch_uid="console.screenpop")
        # Any channel may ring an agent through the core signal (channels never import console).
        screen_pop.connect(screenpop.on_screen_pop, dispatch_uid="console.screenpop.ring")
