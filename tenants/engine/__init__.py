"""The migration engine: every tenant schema taken to the code's migrations, fast, one schema at a time.

One module per job:

- graph:        the code's migrations, loaded once from disk (MigrationGraph, migration_graph())
- applied_migrations: every tenant schema's django_migrations, a view over one table in public
- schema_state: what each schema has applied, read in a constant number of queries (read_schema_states)
- status:       where each schema stands against the code, and the mix (migration_status, the admin)
- waves:        which tenant schemas a wave takes (--tenants, --plan, --canary)
- migrator:     takes a list of schemas to a target, each in its own transaction (Migrator)
- sql_capture:  the statements a migration runs, captured to replay them on the next schemas
- executor:     django-tenants' extension point; `migrate_schemas` runs the Migrator through it (FleetExecutor)
- run_log:      the record of each run and of each schema's outcome in public (MigrationRun)
- lock:         one run at a time, and no tenant creation during one (a PostgreSQL advisory lock)
- template:     a new tenant schema in one round trip, from the statements the migrations ran once
- pool:         migrated schemas waiting for a tenant, so that signup does not wait on DDL
- sql_export:   the same schemas as SQL files for a DBA (export_sql)
- backfill:     online data migrations, in batches, resumable (manage.py backfill)
- progress:     how a long run shows itself: a bar on a terminal, a line per schema elsewhere

"The fleet" means one thing here: every tenant schema, and the pooled ones that will become tenants.
Errors are the tenant lifecycle's own (tenants.errors.TenantError); the private parts of Django this
relies on are in tenants.django_internals, each with a test. The tenant apps (contexts) never import it.
"""
