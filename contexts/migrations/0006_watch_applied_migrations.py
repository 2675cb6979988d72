from django.db import migrations


class Migration(migrations.Migration):
    """Keep what this schema has applied in public (tenants migration 0009 says how and why): the migration
    engine then reads one table for every schema instead of each schema's django_migrations. The engine's own
    bookkeeping, here because only a tenant app's migration runs in every tenant schema (and in the template new
    ones are made from); it calls functions in public and imports nothing."""

    # The functions it calls come with tenants 0009, which public has before any tenant schema is migrated
    # (migrate_schemas migrates public first). Not a dependency: a tenant schema records only the tenant apps'
    # migrations, and Django's consistency check (migrate --plan, --check, the standard executor) would then
    # find this one applied before a dependency it never sees there.
    dependencies = [("contexts", "0005_contexts_fillfactor")]

    operations = [
        migrations.RunSQL("SELECT public.watch_applied_migrations()", "SELECT public.unwatch_applied_migrations()"),
    ]
