"""Create an API key for one tenant and print it once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from tenants.api_keys import api_key_create
from tenants.links import site_url
from tenants.management.base import ProjectCommand
from tenants.management.options import parse_days
from tenants.models import ApiKey
from tenants.services import tenant_get


class Command(ProjectCommand):
    help = (
        "Create an API key for a tenant's REST API and MCP endpoint. The key is printed once and stored only "
        "as a digest: keep it now."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="The tenant's slug.")
        parser.add_argument("--name", required=True, help="What the key is for, e.g. ci or claude-desktop.")
        parser.add_argument(
            "--scope", action="append", choices=ApiKey.Scope.values, dest="scopes",
            help="A scope the key carries; repeat for several (default: all of them).",
        )
        parser.add_argument("--expires-in", help="Days until the key stops working, e.g. 90d (default: never).")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_get(slug=options["tenant"])
        expires_at = None
        if options["expires_in"]:
            expires_at = timezone.now() + parse_days(options["expires_in"], "--expires-in")
        api_key, raw_key = api_key_create(
            tenant=tenant, name=options["name"], scopes=options["scopes"] or ApiKey.Scope.values,
            expires_at=expires_at, actor_label=self.actor_label,
        )
        domain = tenant.get_primary_domain().domain
        expiry = f"until {api_key.expires_at:%Y-%m-%d %H:%M %Z}" if api_key.expires_at else "with no expiry"
        self.stderr.write(
            f"Created API key {api_key.key_id} ({api_key.name}) for tenant {tenant.slug}, scopes "
            f"{' '.join(api_key.scopes)}, {expiry}. Send it as 'Authorization: Bearer <key>' to "
            f"{site_url(domain, '/api/v1/')}. It is shown only this once:"
        )
        self.stdout.write(raw_key)  # alone on stdout, so that a script can capture it
