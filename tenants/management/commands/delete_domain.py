"""Refused: django-tenants' delete_domain would bypass this project's rules."""

from tenants.management.base import ReplacedCommand


class Command(ReplacedCommand):
    help = "Not used here: remove domains in the platform admin (the tenant's page), where it is audited."
    instead = "remove domains in the platform admin (the tenant's page), where it is audited."
