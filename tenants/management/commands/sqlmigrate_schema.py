"""The SQL of one migration for one schema, ready to pipe to psql."""

from __future__ import annotations

from typing import Any

from tenants.management.commands.sqlmigrate import Command as SqlMigrateCommand
from tenants.naming import PUBLIC_SCHEMA, quote_schema


class Command(SqlMigrateCommand):
    help = (
        "Print the SQL that applies (or with --backwards unapplies) a migration in one schema, starting with "
        "the SET search_path that points it there: sqlmigrate_schema --schema tenant_acme contexts 0001 | psql. "
        "Refuses a schema that does not exist or does not hold the app's tables."
    )

    schema_required = True
    schema_help = "The schema to migrate: public for a shared app, a tenant schema for a tenant app."

    def handle(self, *args: Any, **options: Any) -> str | None:
        sql = super().handle(*args, **options)
        if not sql:
            return sql
        # The DDL names no schema; as django-tenants does, public follows so shared objects resolve.
        search_path = quote_schema(options["schema_name"])
        if options["schema_name"] != PUBLIC_SCHEMA:
            search_path += ", public"
        return f"SET search_path TO {search_path};\n{sql}"
