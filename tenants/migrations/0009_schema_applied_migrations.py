from django.db import migrations

# What each tenant schema has applied, kept in public by a trigger on that schema's django_migrations, so that a
# run with nothing to do and migration_status read one table instead of 10,000 (tenants.engine.schema_state).
#
# - The key is the django_migrations table's oid and its pg_class row's xmin: a schema renamed (a pooled one
#   claimed by a tenant) keeps both; a table dropped and made again, or an oid reused after wraparound, matches
#   no row, and its schema is read directly, as are schemas without the trigger (Citus: see below).
# - The trigger runs once per statement and computes the whole set from the table, so it is right whoever
#   writes the rows: the engine's replays, Django's recorder (migrate, the standard executor), a hand's SQL.
#   The advisory lock serialises two transactions writing the same schema's rows, so that the later one
#   computes the set after the earlier one committed (READ COMMITTED: its next statement sees it).
# - It does not see writes made with triggers off (session_replication_role = replica, as pg_restore
#   --disable-triggers does): after such a restore, `SELECT public.watch_applied_migrations()` in each schema
#   (or `migrate_schemas --tenant`, which replays nothing it need not) computes the rows again.
# - On Citus a tenant's tables live on a worker, where a trigger writing a coordinator table cannot run: there
#   the functions do nothing and every schema is read directly, as before.
FORWARD = r"""
CREATE TABLE public.schema_applied_migrations (
    table_oid oid PRIMARY KEY,
    table_xmin xid NOT NULL,
    applied text[] NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.schema_applied_migrations IS
    'What each schema''s django_migrations holds (app.name, sorted), kept by a trigger; see tenants migration 0009.';

CREATE FUNCTION public.note_applied_migrations(migrations_table oid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- One writer per schema at a time; the statement after it sees what an earlier writer committed.
    PERFORM pg_advisory_xact_lock(7171, (migrations_table::bigint - 2147483648)::int);
    EXECUTE format(
        'INSERT INTO public.schema_applied_migrations AS s (table_oid, table_xmin, applied, changed_at) '
        'SELECT %1$s, (SELECT xmin FROM pg_class WHERE oid = %1$s), '
        'coalesce(array_agg(app || ''.'' || name ORDER BY app, name), ''{}''), now() FROM %2$s '
        'ON CONFLICT (table_oid) DO UPDATE SET table_xmin = excluded.table_xmin, applied = excluded.applied, '
        'changed_at = excluded.changed_at',
        migrations_table, migrations_table::regclass);
END $$;

CREATE FUNCTION public.applied_migrations_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.note_applied_migrations(TG_RELID);
    RETURN NULL;
END $$;

-- Called by a tenant app's migration in the schema being migrated (current_schema()).
CREATE FUNCTION public.watch_applied_migrations() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    migrations_table oid := to_regclass(format('%I.django_migrations', current_schema()));
BEGIN
    IF migrations_table IS NULL OR EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    EXECUTE format(
        'CREATE OR REPLACE TRIGGER applied_migrations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE '
        'ON %s FOR EACH STATEMENT EXECUTE FUNCTION public.applied_migrations_changed()', migrations_table::regclass);
    -- After the trigger: creating it rewrote the table's pg_class row (relhastriggers), a new xmin.
    PERFORM public.note_applied_migrations(migrations_table);
END $$;

CREATE FUNCTION public.unwatch_applied_migrations() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    migrations_table oid := to_regclass(format('%I.django_migrations', current_schema()));
BEGIN
    IF migrations_table IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format('DROP TRIGGER IF EXISTS applied_migrations_changed ON %s', migrations_table::regclass);
    DELETE FROM public.schema_applied_migrations WHERE table_oid = migrations_table;
END $$;
"""

BACKWARD = r"""
DROP FUNCTION public.unwatch_applied_migrations();
DROP FUNCTION public.watch_applied_migrations();
DROP FUNCTION public.applied_migrations_changed() CASCADE;
DROP FUNCTION public.note_applied_migrations(oid);
DROP TABLE public.schema_applied_migrations;
"""


class Migration(migrations.Migration):
    dependencies = [("tenants", "0008_backfill_progress")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
