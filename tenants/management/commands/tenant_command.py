"""django-tenants' tenant_command (run any command in one tenant's schema), with one-line refusals."""

from __future__ import annotations

from django_tenants.management.commands.tenant_command import Command as TenantCommand

from tenants.management.base import WrappingCommand


class Command(WrappingCommand, TenantCommand):
    help = (
        "Run a Django command in one tenant's schema: tenant_command showmigrations contexts --schema tenant_acme. "
        "The connection is back on its previous schema afterwards, even when the command fails."
    )
