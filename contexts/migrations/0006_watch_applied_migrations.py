from django.db import migrations


class Migration(migrations.Migration):
    """Keep what this schema has applied in public (tenants migration 0009 says how and why): the migration
    engine then reads one table for every schema instead of each schema's django_migrations. The engine's own
    bookkeeping, here because only a tenant app's migration runs in every tenant schema (and in the template new
    ones are made from); it calls functions in public and imports nothing."""

    dependencies = [
        ("contexts", "0005_contexts_fillfactor"),
        ("tenants", "0009_schema_applied_migrations"),
    ]

    operations = [
        migrations.RunSQL("SELECT public.watch_applied_migrations()", "SELECT public.unwatch_applied_migrations()"),
    ]
