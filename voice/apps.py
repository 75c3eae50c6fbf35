from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VoiceConfig(AppConfig):
    name = "voice"
    verbose_name = _("Téléphone (serveur vocal)")

    def ready(self) -> None:
        from contactcenter.signals import demo_loaded
        from routing.signals import agent_activities, live_sections

        from . import demo, live

        demo_loaded.connect(demo.on_demo_loaded, dispatch_uid="voice.demo")
        live_sections.connect(live.calls_section, dispatch_uid="voice.live")
        agent_activities.connect(live.held_agents, dispatch_uid="voice.live.held")
