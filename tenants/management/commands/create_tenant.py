"""Create a tenant: its row, its domain and its migrated schema, without prompts."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from tenants.links import admin_url
from tenants.management.base import ProjectCommand
from tenants.models import Tenant
from tenants.services import tenant_create


class Command(ProjectCommand):
    help = (
        "Create a tenant with its domain and its migrated schema tenant_<slug>, all or nothing. "
        "This project's create_tenant takes the place of django-tenants' interactive one: "
        "it never prompts, and refuses bad input with one line on stderr and a non-zero exit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--slug", required=True, help="Lowercase letters, digits and hyphens, starting with a letter.")
        parser.add_argument("--name", required=True, help="The tenant's display name.")
        parser.add_argument("--domain", help="The host that serves the tenant (default: <slug>.<BASE_DOMAIN>).")
        parser.add_argument(
            "--plan", default=Tenant.Plan.FREE, choices=Tenant.Plan.values, help="Billing plan (default: free)."
        )
        parser.add_argument("--billing-email", default="", help="Where invoices go.")
        parser.add_argument(
            "--admin-email",
            help="Create an owner account with this email; its temporary password is printed once.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant, password = tenant_create(
            slug=options["slug"],
            name=options["name"],
            domain=options["domain"],
            plan=options["plan"],
            billing_email=options["billing_email"],
            admin_email=options["admin_email"],
            actor_label=self.actor_label,
        )
        domain = tenant.get_primary_domain()
        self.stdout.write(
            self.style.SUCCESS(f"Created tenant {tenant.slug} (schema {tenant.schema_name}) at {domain}.")
        )
        if password is not None:
            self.stdout.write(
                f"Owner {options['admin_email']} can sign in at {admin_url(domain.domain)} "
                f"with the temporary password {password}"
            )
