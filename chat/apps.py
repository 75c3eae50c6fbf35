from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = _("Tchat")

    def ready(self):
        from django.db.models.signals import post_save

        from contactcenter.models import Event
        from contactcenter.signals import case_assigned, demo_loaded

        from . import receivers

        case_assigned.connect(receivers.on_case_assigned, dispatch_uid="chat.assigned")
        post_save.connect(receivers.on_event_saved, sender=Event, dispatch_uid="chat.requeued")
        demo_loaded.connect(receivers.on_demo_loaded, dispatch_uid="chat.demo")
