"""Delete a tenant with its schema, domains and users."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from tenants.management.base import ProjectCommand
from tenants.services import tenant_delete, tenant_get


class Command(ProjectCommand):
    help = (
        "Delete a tenant: DROP its schema with all its data, and its domains and users. There is no undo; "
        "--confirm must repeat the slug. Takes the place of django-tenants' interactive delete_tenant."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The tenant's slug.")
        parser.add_argument("--confirm", required=True, metavar="SLUG", help="The slug again, to confirm.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["confirm"] != options["slug"]:
            raise CommandError(f"--confirm must repeat the slug ({options['slug']!r}); nothing was deleted.")
        tenant = tenant_get(slug=options["slug"])
        schema_name = tenant.schema_name
        tenant_delete(tenant=tenant, actor_label=self.actor_label)
        self.stdout.write(self.style.SUCCESS(f"Deleted tenant {options['slug']} and its schema {schema_name}."))
