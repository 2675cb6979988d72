"""Switching the connection's schema in process: whoever switches puts it back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from django.db import connections
from django_tenants.utils import get_tenant_database_alias

from tenants.current import TenantConnection


@contextmanager
def restoring_schema(database: str | None = None) -> Iterator[None]:
    """Put the connection back on the tenant (or schema) it was on when the block ends, however it ends."""
    connection = cast(TenantConnection, connections[database or get_tenant_database_alias()])
    previous, include_public = connection.tenant, connection.include_public_schema
    try:
        yield
    finally:
        # A task or a shell goes on with this connection: a command must not leave it on a tenant.
        connection.set_tenant(previous, include_public=include_public)
