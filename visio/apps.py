from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VisioConfig(AppConfig):
    name = "visio"
    verbose_name = _("Visio")
