from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OversightConfig(AppConfig):
    """The auditor's workspace (read-only): top layer, beside ``demo``; it reads the other apps and
    nothing imports it."""

    name = "oversight"
    verbose_name = _("Oversight")
