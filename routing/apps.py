from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = _("Routage")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from contactcenter.models import Event, Service
        from contactcenter.signals import case_needs_routing, demo_loaded

        # The tasks register with Celery here: the routing modules queue them by name.
        from . import receivers, tasks  # noqa: F401
        from .calendar import clear_calendar_cache
        from .models import Closure, OpeningHours, SlaPolicy
        from .sla import clear_policy_cache

        case_needs_routing.connect(receivers.on_case_needs_routing, dispatch_uid="routing.route")
        demo_loaded.connect(receivers.on_demo_loaded, dispatch_uid="routing.demo")
        post_save.connect(receivers.on_event_saved, sender=Event, dispatch_uid="routing.freed")
        post_save.connect(clear_policy_cache, sender=SlaPolicy, dispatch_uid="routing.sla.s")
        post_delete.connect(clear_policy_cache, sender=SlaPolicy, dispatch_uid="routing.sla.d")
        for model in (OpeningHours, Closure):
            post_save.connect(
                clear_calendar_cache, sender=model, dispatch_uid=f"routing.cal.s.{model.__name__}"
            )
            post_delete.connect(
                clear_calendar_cache, sender=model, dispatch_uid=f"routing.cal.d.{model.__name__}"
            )
            # New hours take effect at once: the chat buttons and the agents' queues follow.
            uid = f"routing.hours.{model.__name__}"
            post_save.connect(receivers.on_hours_changed, sender=model, dispatch_uid=f"{uid}.s")
            post_delete.connect(receivers.on_hours_changed, sender=model, dispatch_uid=f"{uid}.d")
        # A service's holiday zone is part of its calendar.
        post_save.connect(receivers.on_service_saved, sender=Service, dispatch_uid="routing.svc")
