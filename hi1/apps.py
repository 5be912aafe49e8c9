from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class Hi1Config(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "hi1"
    verbose_name = _("ETSI HI-1 interface")

    def ready(self) -> None:
        from requests_app.page_hooks import register_warrant_panel

        from . import audit_details
        from .panels import exchange_panel

        register_warrant_panel(exchange_panel)
        audit_details.register()  # the labels of its audit details
