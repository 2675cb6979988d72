"""Suspend a tenant: its host answers 403 until it is activated."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from tenants.management.base import ProjectCommand
from tenants.services import tenant_get, tenant_suspend


class Command(ProjectCommand):
    help = "Suspend a tenant: every request to its host answers 403 until activate_tenant."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The tenant's slug.")
        parser.add_argument("--reason", default="", help="Why, for the audit log.")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_get(slug=options["slug"])
        if tenant.is_suspended:
            self.stdout.write(f"Tenant {tenant.slug} is already suspended.")
            return
        tenant_suspend(tenant=tenant, actor_label=self.actor_label, reason=options["reason"])
        self.stdout.write(self.style.SUCCESS(f"Suspended tenant {tenant.slug}."))
