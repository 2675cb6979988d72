"""Refused: django-tenants' create_tenant_superuser would bypass this project's rules."""

from tenants.management.base import ReplacedCommand


class Command(ReplacedCommand):
    help = "Not used here: superusers are platform staff (manage.py createsuperuser); tenant owners come from create_tenant --admin-email or the platform admin."
    instead = "superusers are platform staff (manage.py createsuperuser); tenant owners come from create_tenant --admin-email or the platform admin."
