"""Refused: django-tenants' clone_tenant would bypass this project's rules."""

from tenants.management.base import ReplacedCommand


class Command(ReplacedCommand):
    help = "Not used here: create tenants with manage.py create_tenant (from the tenant template or the pool)."
    instead = "create tenants with manage.py create_tenant (from the tenant template or the pool)."
