"""Which tenant the connection serves: the one small function the tenant apps ask (it imports nothing heavy)."""

from __future__ import annotations

from django.db import connection

from tenants.models import Tenant


def connection_tenant() -> Tenant | None:
    """The tenant whose schema the connection is on (a real row, also under schema_context)."""
    tenant = connection.tenant
    if isinstance(tenant, Tenant):
        return tenant
    return Tenant.objects.filter(schema_name=connection.schema_name).first()
