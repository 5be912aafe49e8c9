from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RequestsAppConfig(AppConfig):
    name = "requests_app"
    verbose_name = _("Warrants")

    def ready(self) -> None:
        from . import audit_details

        audit_details.register()  # the labels of its audit details, for the timeline and the audit log
