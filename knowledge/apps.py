from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = _("Base de connaissances")

    def ready(self):
        from contactcenter.signals import demo_loaded

        from . import demo

        demo_loaded.connect(demo.on_demo_loaded, dispatch_uid="knowledge-demo")
