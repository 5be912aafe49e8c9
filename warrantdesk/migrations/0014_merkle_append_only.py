"""The Merkle tree's nodes and the signed checkpoints are append-only on PostgreSQL, like the audit
entries (0002): a trigger refuses every UPDATE and DELETE. Rows are only ever inserted (tree_extend,
checkpoint_create); a changed node or checkpoint is what verify_audit_log would otherwise have to find."""

from django.db import migrations

TABLES = ("warrantdesk_merklenode", "warrantdesk_checkpoint")

FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION warrantdesk_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def trigger_name(table: str) -> str:
    return f"{table}_no_update_delete"


def add_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION_SQL, params=None)  # no params: the "%" in RAISE is not a placeholder
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {trigger_name(table)} BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION warrantdesk_append_only()"
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger_name(table)} ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS warrantdesk_append_only()")


class Migration(migrations.Migration):
    dependencies = [("warrantdesk", "0013_export_purged_action")]

    operations = [migrations.RunPython(add_triggers, drop_triggers)]
