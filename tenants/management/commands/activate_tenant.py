"""Activate a suspended tenant again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from tenants.management.base import ProjectCommand
from tenants.services import tenant_activate, tenant_get


class Command(ProjectCommand):
    help = "Activate a suspended tenant: its host serves requests again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The tenant's slug.")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_get(slug=options["slug"])
        if not tenant.is_suspended:
            self.stdout.write(f"Tenant {tenant.slug} is already active.")
            return
        tenant_activate(tenant=tenant, actor_label=self.actor_label)
        self.stdout.write(self.style.SUCCESS(f"Activated tenant {tenant.slug}."))
