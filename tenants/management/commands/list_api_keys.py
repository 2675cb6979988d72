"""List a tenant's API keys (never their secrets)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from tenants.api_keys import api_key_state
from tenants.management.base import ProjectCommand
from tenants.models import ApiKey
from tenants.services import tenant_get


class Command(ProjectCommand):
    help = "List a tenant's API keys: id, name, scopes, state, expiry, last use. Secrets are never shown."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="The tenant's slug.")
        parser.add_argument("--json", action="store_true", help="One JSON document, for scripts.")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_get(slug=options["tenant"])
        keys = list(ApiKey.objects.filter(tenant=tenant).order_by("created_at", "id"))
        rows = [
            {
                "key_id": key.key_id, "name": key.name, "scopes": key.scopes, "state": api_key_state(key),
                "created_at": key.created_at.isoformat(),
                "expires_at": key.expires_at.isoformat() if key.expires_at else None,
                "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
            }
            for key in keys
        ]
        if options["json"]:
            self.stdout.write(json.dumps({"tenant": tenant.slug, "keys": rows}, indent=2))
            return
        if not rows:
            self.stdout.write(f"Tenant {tenant.slug} has no API keys (create_api_key --tenant {tenant.slug} --name …).")
            return
        for row in rows:
            self.stdout.write(
                f"{row['key_id']}  {row['name']:<20}  {row['state']:<8}  {' '.join(row['scopes'] or ()):<46}  "
                f"expires {row['expires_at'] or 'never'}  last used {row['last_used_at'] or 'never'}"
            )
