"""Django's sqlmigrate, printing the real DDL of tenant apps too.

Stock sqlmigrate runs on the public schema, where django-tenants' router
refuses every tenant app, so `sqlmigrate contexts 0001` prints only "(no-op)".
Here a tenant app's migration is rendered with the connection on a tenant
schema. The DDL names no schema, so which tenant schema does not change it,
except where Django reads the catalog for a constraint's name (altering or
dropping a unique or foreign key): there the schema's own names are used. So
the default is an existing tenant schema, and only on a database with none a
placeholder that need not exist (the router only asks "public or not?").

The migration linter calls this command for every migration, which is how it
sees the tenant apps' real statements.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.core.management.commands.sqlmigrate import Command as SqlMigrateCommand
from django.db import connections
from django_tenants.utils import schema_context

from tenants.management.base import ProjectCommand
from tenants.naming import PUBLIC_SCHEMA, SCHEMA_PREFIX, TEMPLATE_SCHEMA


def is_tenant_app(app_label: str) -> bool:
    """Return whether the app's tables live in tenant schemas; refuse an unknown app as sqlmigrate does."""
    try:
        config = apps.get_app_config(app_label)
    except LookupError as exc:
        raise CommandError(str(exc)) from None
    return config.name in settings.TENANT_APPS


def default_tenant_schema(database: str) -> str:
    """Return the first migrated tenant schema in the database, or the placeholder if there is none."""
    with connections[database].cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'django_migrations' AND c.relkind IN ('r', 'v') AND n.nspname LIKE %s "
            "ORDER BY n.nspname LIMIT 1",
            [SCHEMA_PREFIX.replace("_", "\\_") + "%"],
        )
        row = cursor.fetchone()
    return row[0] if row else TEMPLATE_SCHEMA


def refuse_unsuitable_schema(database: str, schema_name: str, app_label: str) -> None:
    """Refuse a schema that does not exist or does not hold this app's tables."""
    if schema_name != PUBLIC_SCHEMA and not schema_name.startswith(SCHEMA_PREFIX):
        raise CommandError(f"Schema {schema_name!r} is not a tenant schema: give public or a {SCHEMA_PREFIX}… schema.")
    with connections[database].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema_name])
        if cursor.fetchone() is None:
            raise CommandError(f"Schema {schema_name!r} does not exist.")
    tenant_app = is_tenant_app(app_label)
    if schema_name == PUBLIC_SCHEMA and tenant_app:
        raise CommandError(f"App {app_label!r} is a tenant app; its tables are not in public: give a tenant schema.")
    if schema_name != PUBLIC_SCHEMA and not tenant_app:
        raise CommandError(f"App {app_label!r} is a shared app; its tables live in public: give --schema public.")


class Command(ProjectCommand, SqlMigrateCommand):
    help = (
        "Print the SQL of a migration. A tenant app's migration is rendered on a tenant schema (--schema, "
        "else an existing one), so its real DDL is printed; shared apps as stock sqlmigrate does."
    )

    schema_required = False
    schema_help = (
        "Render on this schema, whose catalog gives constraint names (default for a tenant app: "
        "the first migrated tenant schema, else a placeholder)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--schema", dest="schema_name", required=self.schema_required, help=self.schema_help)

    def handle(self, *args: Any, **options: Any) -> str | None:
        schema_name = self.schema_for(options)
        if schema_name is None:
            return super().handle(*args, **options)
        with schema_context(schema_name, database=options["database"]):
            return super().handle(*args, **options)

    def schema_for(self, options: dict[str, Any]) -> str | None:
        """Return the schema to render on, or None to stay where stock sqlmigrate would."""
        database, app_label, schema_name = options["database"], options["app_label"], options["schema_name"]
        if schema_name:
            refuse_unsuitable_schema(database, schema_name, app_label)
            return schema_name
        return default_tenant_schema(database) if is_tenant_app(app_label) else None
