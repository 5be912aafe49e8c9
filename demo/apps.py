from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    name = "demo"
    verbose_name = _("Demo")

    def ready(self) -> None:
        # Here, not at the top: views and models can only be imported once the app registry is ready.
        from disclosure.followups import hooks as followup_hooks
        from requests_app import page_hooks

        from . import views

        # The signed samples the forms offer in demo mode (WARRANTDESK_DEMO).
        page_hooks.register_warrant_form_sample(views.warrant_form_sample)
        followup_hooks.register_followup_form_sample(views.followup_form_sample)
