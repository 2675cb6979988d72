"""Revoke an API key: it stops working at once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from tenants.api_keys import api_key_get, api_key_revoke
from tenants.management.base import ProjectCommand
from tenants.services import tenant_get


class Command(ProjectCommand):
    help = "Revoke an API key by its id (the part after mcpk_ that list_api_keys shows). Audited."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key_id", help="The key's id, e.g. k3v9x2m1q8ab.")
        parser.add_argument("--tenant", required=True, help="The tenant's slug (a check that you name the right key).")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_get(slug=options["tenant"])
        api_key = api_key_get(key_id=options["key_id"], tenant=tenant)
        if api_key.revoked_at is not None:
            self.stdout.write(f"API key {api_key.key_id} ({api_key.name}) was already revoked.")
            return
        api_key_revoke(api_key=api_key, actor_label=self.actor_label)
        self.stdout.write(self.style.SUCCESS(f"Revoked API key {api_key.key_id} ({api_key.name}) of tenant {tenant.slug}."))
