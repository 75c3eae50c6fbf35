import sys

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommunityConfig(AppConfig):
    name = "community"
    verbose_name = _("Forum d'entraide")

    def ready(self):
        from contactcenter.signals import demo_loaded

        from . import demo

        demo_loaded.connect(demo.on_demo_loaded, dispatch_uid="community.demo")
        from django.conf import settings

        if settings.COMMUNITY_NER_PRELOAD and not sys.argv[0].endswith("manage.py"):
            from . import personal_data

            personal_data.preload()
