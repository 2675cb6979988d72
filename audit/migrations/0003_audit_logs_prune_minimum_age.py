"""Even with the prune guard lifted, refuse to delete entries younger than 30 days.

The guard (audit.allow_prune) is a setting any session of the application's
role can make; the minimum age keeps recent evidence out of its reach too.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION audit_logs_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('audit.allow_prune', true) = 'on'{condition} THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_logs is append-only: % is refused', TG_OP
        USING HINT = 'Entries older than 30 days are removed with manage.py prune_audit_logs.';
END
$$;
"""

FORWARD = FUNCTION.format(condition="\n        AND OLD.occurred_at < now() - interval '30 days'")
BACKWARD = FUNCTION.format(condition="")


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_audit_logs_append_only")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
