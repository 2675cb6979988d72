"""Give a tenant another host name (this project's create_domain, through the domain service)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from tenants.management.base import ProjectCommand
from tenants.services import domain_add, tenant_get


class Command(ProjectCommand):
    help = (
        "Add a host name to a tenant: create_domain acme api.acme.example [--primary]. The name is validated "
        "(no scheme, port or path; international names stored in their xn-- form) and the change is audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The tenant's slug.")
        parser.add_argument("domain", help="The host name, e.g. acme.example.com.")
        parser.add_argument("--primary", action="store_true", help="Make it the domain the tenant's URLs are built from.")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_get(slug=options["slug"])
        domain = domain_add(tenant=tenant, domain=options["domain"], is_primary=options["primary"],
                            actor_label=self.actor_label)
        role = "primary domain" if domain.is_primary else "domain"
        self.stdout.write(self.style.SUCCESS(f"Tenant {tenant.slug} is served at {domain.domain} ({role})."))
