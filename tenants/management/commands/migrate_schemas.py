"""django-tenants' migrate_schemas, with TENANT_ID, the public tenant, and one-line errors."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import CommandError
from django.db.models import Q
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

from tenants.errors import TenantNotFound
from tenants.management.base import ProjectCommand
from tenants.models import Tenant
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
