"""django-tenants' create_missing_schemas (recreate, empty and migrated, the schema of a tenant whose schema is gone)."""

from __future__ import annotations

from typing import Any

from django_tenants.management.commands.create_missing_schemas import Command as CreateMissingSchemasCommand

from tenants.management.base import ProjectCommand
from tenants.schema_switch import restoring_schema


class Command(ProjectCommand, CreateMissingSchemasCommand):
    needs_session = True  # runs migrations (tenants.session_database: MIGRATION_DATABASE_URL, no transaction pooler)
    help = (
        "Create, empty, the schema of every tenant whose schema does not exist, and migrate it. "
        "Restore its data from a backup instead if you have one (pg_restore -n tenant_<slug>)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        # Tenant.create_schema leaves the connection on public, whatever it was on before.
        with restoring_schema():
            super().handle(*args, **options)
