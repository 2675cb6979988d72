"""Make audit_logs append-only in the database itself: UPDATE, DELETE and TRUNCATE fail.

The one exception is prune_audit_logs, which sets audit.allow_prune for its own
transaction (SET LOCAL) and may then DELETE; nothing may ever UPDATE or TRUNCATE.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION audit_logs_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('audit.allow_prune', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_logs is append-only: % is refused', TG_OP
        USING HINT = 'Old entries are removed with manage.py prune_audit_logs.';
END
$$;
CREATE TRIGGER audit_logs_append_only_rows BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_logs_refuse_change();
CREATE TRIGGER audit_logs_append_only_truncate BEFORE TRUNCATE ON audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_refuse_change();
"""

BACKWARD = """
DROP TRIGGER audit_logs_append_only_truncate ON audit_logs;
DROP TRIGGER audit_logs_append_only_rows ON audit_logs;
DROP FUNCTION audit_logs_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
