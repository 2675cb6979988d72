from django.db import migrations

# Not a model: Django's flush (transactional tests) would empty it, and with it what every tenant schema has
# applied. tenants.engine.applied_migrations says what it is for. Its columns are django_migrations' own
# (MigrationRecorder.Migration) plus the schema each row belongs to; the unique index is what each schema's
# view reads by. The key is a bigserial, not an identity column as Django makes its own: to fill an identity
# column PostgreSQL looks its sequence up among every object that depends on the table (getIdentitySequence
# scans pg_depend), and each tenant schema's view adds its columns there: at 10,000 tenants every insert
# spent 2-8 ms on that scan, against 0.15 ms with the default kept in the column's own catalog entry.
CREATE = """
CREATE TABLE public.tenant_django_migrations (
    id bigserial PRIMARY KEY,
    schema_name varchar(63) NOT NULL,
    app varchar(255) NOT NULL,
    name varchar(255) NOT NULL,
    applied timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT tenant_django_migrations_schema_app_name UNIQUE (schema_name, app, name)
)
"""


class Migration(migrations.Migration):
    """The applied migrations of every tenant schema, in one table (tenants.engine.applied_migrations).

    Rolling back fails while a tenant schema's django_migrations view still reads from it, which is what
    should happen: `migrate_schemas` back past contexts 0006 first turns every view back into a table.
    """

    dependencies = [("tenants", "0008_backfill_progress")]

    operations = [migrations.RunSQL(CREATE, "DROP TABLE public.tenant_django_migrations")]
