"""Which tenant the connection serves: the one small module the tenant apps ask (it imports nothing heavy).

django-tenants adds the tenant, its schema and set_tenant() to the connection,
and ships no types: tenant_db is django.db.connection typed with them, for
every caller that switches or reads the connection's schema.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from django.db import connection

from tenants.models import Tenant


class TenantConnection(Protocol):
    """What django-tenants' backend adds to a connection (django_tenants.postgresql_backend.base)."""

    tenant: Any  # a Tenant, or django-tenants' FakeTenant under schema_context
    schema_name: str
    include_public_schema: bool

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None: ...

    def set_schema(self, schema_name: str, include_public: bool = True) -> None: ...

    def set_schema_to_public(self) -> None: ...


# The same proxy as django.db.connection (the current thread's connection to the default database).
tenant_db = cast(TenantConnection, connection)


def connection_tenant() -> Tenant | None:
    """The tenant whose schema the connection is on (a real row, also under schema_context)."""
    tenant = tenant_db.tenant
    if isinstance(tenant, Tenant):
        return tenant
    return Tenant.objects.filter(schema_name=tenant_db.schema_name).first()
