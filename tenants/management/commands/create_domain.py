"""Refused: django-tenants' create_domain would bypass this project's rules."""

from tenants.management.base import ReplacedCommand


class Command(ReplacedCommand):
    help = "Not used here: add domains in the platform admin (the tenant's page), where they are validated and audited."
    instead = "add domains in the platform admin (the tenant's page), where they are validated and audited."
