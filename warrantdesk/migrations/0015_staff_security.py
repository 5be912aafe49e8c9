"""Staff security: the audit actions of two-factor sign-in and API clients, the API clients, and the
database cache table where the rate limits of sensitive API actions are counted (CACHES["throttle"])."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def create_cache_table(apps, schema_editor):
    from django.core.management import call_command

    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [
        ("warrantdesk", "0014_merkle_append_only"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("auth.login", "Signed in"),
                    ("auth.login_failed", "Failed sign-in"),
                    ("auth.logout", "Signed out"),
                    ("access.denied", "Access denied"),
                    ("warrant.created", "Warrant logged"),
                    ("warrant.assigned", "Officer assigned"),
                    ("warrant.transition", "Status changed"),
                    ("document.uploaded", "Document uploaded"),
                    ("document.refused", "Upload refused"),
                    ("document.viewed", "Document downloaded"),
                    ("signature.checked", "Signature checked"),
                    ("key.created", "Warrant key created"),
                    ("key.destroyed", "Warrant key destroyed"),
                    ("export.requested", "Export requested"),
                    ("export.started", "Export started"),
                    ("export.ready", "Export ready"),
                    ("export.failed", "Export failed"),
                    ("export.downloaded", "Export downloaded"),
                    ("export.delivered", "Export delivered"),
                    ("export.purged", "Export package purged"),
                    ("link.issued", "Download link issued"),
                    ("link.used", "Download link used"),
                    ("link.refused", "Download link refused"),
                    ("followup.created", "Follow-up request logged"),
                    ("followup.decision", "Follow-up decision"),
                    ("followup.decided", "Follow-up request decided"),
                    ("followup.disclosed", "Identities disclosed"),
                    ("signature.recheck", "Signature re-check requested"),
                    ("registry.changed", "Registry changed"),
                    ("role.changed", "Role changed"),
                    ("audit.exported", "Audit log exported"),
                    ("audit.verified", "Audit log verified"),
                    ("notification.planned", "Notifications planned"),
                    ("notification.deferred", "Notification deferred"),
                    ("notification.sent", "Notification sent"),
                    ("notification.failed", "Notification failed"),
                    ("notification.unconfirmed", "Notification unconfirmed"),
                    ("notification.confirmed", "Notification marked sent"),
                    ("notification.requeued", "Notification re-queued"),
                    ("notification.letter", "Notification letter downloaded"),
                    ("notification.to_letter", "Notification switched to a paper letter"),
                    ("periodic.ran", "Periodic job ran"),
                    ("retention.purged", "Retention purge ran"),
                    ("hold.placed", "Preservation hold placed"),
                    ("hold.released", "Preservation hold released"),
                    ("keys.rotated", "Key-encryption key rotation"),
                    ("report.published", "Transparency report published"),
                    ("auth.2fa_enrolled", "Two-factor sign-in set up"),
                    ("auth.2fa_verified", "Second factor passed"),
                    ("auth.2fa_failed", "Second factor refused"),
                    ("auth.recovery_used", "Recovery code used"),
                    ("auth.2fa_reset", "Two-factor sign-in reset"),
                    ("apiclient.created", "API client created"),
                    ("apiclient.revoked", "API client revoked"),
                    ("apiclient.refused", "API client refused"),
                ],
                db_index=True,
                max_length=40,
            ),
        ),
        migrations.CreateModel(
            name="ApiClient",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100, verbose_name="name")),
                ("prefix", models.CharField(max_length=16, unique=True, verbose_name="token prefix")),
                ("token_hash", models.CharField(max_length=64, unique=True)),
                ("scopes", models.JSONField(default=list, verbose_name="scopes")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created")),
                ("expires_at", models.DateTimeField(verbose_name="expires")),
                ("revoked_at", models.DateTimeField(blank=True, null=True, verbose_name="revoked")),
                ("last_used_at", models.DateTimeField(blank=True, null=True, verbose_name="last used")),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "revoked_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="api_clients",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="acts as",
                    ),
                ),
            ],
            options={
                "verbose_name": "API client",
                "verbose_name_plural": "API clients",
                "ordering": ["-created_at", "-pk"],
            },
        ),
        migrations.RunPython(create_cache_table, migrations.RunPython.noop),
    ]
