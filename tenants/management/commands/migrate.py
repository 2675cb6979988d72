"""`migrate` is migrate_schemas here, as django-tenants intends (test databases are built with it)."""

from tenants.management.commands.migrate_schemas import Command

__all__ = ["Command"]
