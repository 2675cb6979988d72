"""Stop serving a tenant at one of its host names (this project's delete_domain, through the domain service)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from tenants.management.base import ProjectCommand
from tenants.services import domain_get, domain_remove


class Command(ProjectCommand):
    help = (
        "Remove a host name from its tenant: delete_domain api.acme.example. The primary domain stays until "
        "another is made primary (create_domain … --primary). Audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("domain", help="The host name to remove.")

    def handle(self, *args: Any, **options: Any) -> None:
        domain = domain_get(domain=options["domain"])
        domain_remove(domain=domain, actor_label=self.actor_label)
        self.stdout.write(self.style.SUCCESS(f"Tenant {domain.tenant.slug} is no longer served at {domain.domain}."))
