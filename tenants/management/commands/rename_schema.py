"""Refused: django-tenants' rename_schema would bypass this project's rules."""

from tenants.management.base import ReplacedCommand


class Command(ReplacedCommand):
    help = "Not used here: a schema name follows from the tenant's slug and never changes."
    instead = "a schema name follows from the tenant's slug and never changes."
