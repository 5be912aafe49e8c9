from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DisclosureConfig(AppConfig):
    name = "disclosure"
    verbose_name = _("Disclosure")

    def ready(self) -> None:
        from . import audit_details

        audit_details.register()  # the labels of its audit details, for the timeline and the audit log

        # Here, not at the top: views and models can only be imported once the app registry is ready.
        from requests_app import page_hooks

        from . import views, views_notifications

        page_hooks.register_warrant_page(views.export_panel_context)
        page_hooks.register_warrant_list(views_notifications.warrant_list_context)
