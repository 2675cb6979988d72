"""django-tenants' migrate_schemas, with TENANT_ID, the public tenant, and one-line errors."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

from tenants.errors import TenantNotFound
from tenants.management.base import ProjectCommand
from tenants.models import Tenant
from tenants.naming import PUBLIC_SCHEMA
from tenants.services import ensure_public_tenant


class Command(ProjectCommand, MigrateSchemasCommand):
    help = (
        "Migrate the public schema (--shared), every tenant schema (--tenant), or one (--schema, or the "
        "TENANT_ID environment variable holding a slug or schema name); with none of these, all of them. "
        "After migrating public it makes sure the public tenant and its BASE_DOMAIN domain exist."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant_id = os.environ.get("TENANT_ID", "").strip()
        if tenant_id and not options.get("schema_name") and not options.get("shared"):
            options["schema_name"] = schema_name_of(tenant_id)
        if not options.get("shared"):
            refuse_missing_schemas(options.get("schema_name"))
        try:
            super().handle(*args, **options)
        except RuntimeError as exc:  # django-tenants' "Schema ... does not exist"
            raise CommandError(str(exc)) from exc
        if self.sync_public:
            ensure_public_tenant()


def schema_name_of(tenant_id: str) -> str:
    """Return the schema of the tenant named by slug or schema name."""
    schema_name = (
        Tenant.objects.filter(Q(slug=tenant_id) | Q(schema_name=tenant_id)).values_list("schema_name", flat=True).first()
    )
    if schema_name is None:
        raise TenantNotFound(f"TENANT_ID={tenant_id!r} names no tenant (give its slug or schema name).")
    return schema_name


def refuse_missing_schemas(schema_name: str | None) -> None:
    """Stop before migrating if a tenant's schema is gone, naming the tenants and the fix."""
    if Tenant._meta.db_table not in connection.introspection.table_names():
        return  # a new database: public is about to be migrated, there are no tenants yet
    tenants = Tenant.objects.exclude(schema_name=PUBLIC_SCHEMA)
    if schema_name:
        tenants = tenants.filter(schema_name=schema_name)
    missing = sorted(
        tenants.exclude(schema_name__in=RawSQL("SELECT nspname FROM pg_namespace", [])).values_list("slug", flat=True)
    )
    if missing:
        raise CommandError(
            f"The schema of tenant(s) {', '.join(missing)} does not exist; "
            "run manage.py create_missing_schemas to recreate it empty, or restore it from a backup."
        )
