from django.db import migrations

GENESIS_HASH = "0" * 64

APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION warrantdesk_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'warrantdesk_auditentry is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER warrantdesk_audit_no_update_delete
    BEFORE UPDATE OR DELETE ON warrantdesk_auditentry
    FOR EACH ROW EXECUTE FUNCTION warrantdesk_audit_append_only();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS warrantdesk_audit_no_update_delete ON warrantdesk_auditentry;
DROP FUNCTION IF EXISTS warrantdesk_audit_append_only();
"""


def create_head(apps, schema_editor):
    AuditChainHead = apps.get_model("warrantdesk", "AuditChainHead")
    AuditChainHead.objects.using(schema_editor.connection.alias).get_or_create(
        pk=1, defaults={"seq": 0, "hash": GENESIS_HASH}
    )


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_SQL, params=None)  # no params: the "%" in RAISE is not a placeholder


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [("warrantdesk", "0001_initial")]

    operations = [
        migrations.RunPython(create_head, migrations.RunPython.noop),
        migrations.RunPython(add_trigger, drop_trigger),
    ]
