"""Append-only audit tables on PostgreSQL: triggers refuse UPDATE, DELETE and TRUNCATE even for
the table owner, so that only the log's own append path changes them. The log head is a counter and stays updatable. SQLite has
no equivalent; there the verification command is the guard."""

from django.db import migrations

TABLES = ("audit_auditevent", "audit_auditnode", "audit_checkpoint")

FORWARD = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: %% on %% refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = '42501';
END
$$ LANGUAGE plpgsql;
""" + "".join(
    f"""
CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
"""
    for table in TABLES
)

BACKWARD = "".join(
    f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table};\n"
    f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};\n"
    for table in TABLES
) + "DROP FUNCTION IF EXISTS audit_refuse_change();\n"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)
    apps.get_model("audit", "AuditLogHead").objects.get_or_create(pk=1)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
