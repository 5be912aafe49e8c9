from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DisclosureConfig(AppConfig):
    name = "disclosure"
    verbose_name = _("Disclosure")

    def ready(self) -> None:
        from . import audit_details

        audit_details.register()  # the labels of its audit details, for the timeline and the audit log

        # Here, not at the top: views and models can only be imported once the app registry is ready.
        from requests_app import page_hooks, signals

        from . import views, views_notifications
        from .followups import services as followups
        from .followups import views as followup_views

        # The warrant page's panels, in this order.
        page_hooks.register_warrant_panel(views.scope_panel)
        page_hooks.register_warrant_panel(views.export_panel)
        page_hooks.register_warrant_panel(followup_views.followups_panel)
        page_hooks.register_warrant_panel(views_notifications.notifications_panel)
        page_hooks.register_warrant_panel(views.keys_panel)
        page_hooks.register_warrant_list(views_notifications.warrant_list_context)
        # A follow-up request moves with its signature's verdict.
        signals.signature_checked.connect(followups.on_signature_checked, dispatch_uid="followups-signature")
        # Preservation holds follow the warrant: placed when it is logged, released when it is rejected.
        from . import retention, views_holds

        signals.warrant_logged.connect(retention.on_warrant_logged, dispatch_uid="retention-hold-place")
        signals.warrant_moved.connect(retention.on_warrant_moved, dispatch_uid="retention-hold-release")
        page_hooks.register_warrant_panel(views_holds.hold_panel)

        # Periodic jobs (manage.py run_periodic; warrantdesk/periodic.py): one line each.
        from datetime import timedelta

        from warrantdesk import periodic

        from .notifications import notifications_send_due as send_due

        periodic.register("notifications.send_due", every=timedelta(minutes=1), run=send_due, takes_stop=True)
        periodic.register(
            "retention.purge",
            every=timedelta(hours=1),
            run=retention.messages_purge_expired,
            lease=timedelta(hours=2),
            takes_stop=True,
        )
        from . import shredding

        periodic.register("packages.expire", every=timedelta(hours=1), run=shredding.packages_expire, takes_stop=True)
        periodic.register("keys.destroy", every=timedelta(hours=1), run=shredding.keys_destroy_due, takes_stop=True)
