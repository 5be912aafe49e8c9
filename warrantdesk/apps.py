from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_migrate


class WarrantdeskConfig(AppConfig):
    name = "warrantdesk"
    verbose_name = "warrantdesk"

    def ready(self) -> None:
        # System checks; login/logout audit receivers; the API schema's authentication schemes.
        from . import checks, openapi, roles, signals  # noqa: F401

        post_migrate.connect(roles.sync_roles_after_migrate, dispatch_uid="warrantdesk-sync-roles")
        from django.contrib.auth import get_user_model

        m2m_changed.connect(
            roles.forget_roles, sender=get_user_model().groups.through, dispatch_uid="warrantdesk-forget-roles"
        )

        import datetime as dt

        from . import checkpoints, periodic

        # The daily signed checkpoint of the audit log (and on demand: manage.py audit_checkpoint).
        periodic.register(
            "audit.checkpoint",
            every=dt.timedelta(days=1),
            run=checkpoints.checkpoint_scheduled,
            lease=dt.timedelta(hours=1),
        )
