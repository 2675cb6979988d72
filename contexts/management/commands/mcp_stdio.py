"""Serve one tenant's MCP tools and resources over stdio, for desktop clients that start a server themselves.

    MCP_API_KEY=mcpk_… manage.py mcp_stdio --tenant acme

Newline-delimited JSON-RPC: one message a line on stdin, one answer a line on
stdout (none for a notification); logs go to stderr. Each line goes through
mcp.server.protocol.serve, as a POST to /mcp does: the key is checked on the
tenant, the budget spent and the call audited for every message, so a revoked
key or a suspended tenant stops working at once here too.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from audit.request_id import start_request
from mcp.server.errors import INSUFFICIENT_SCOPE
from mcp.server.protocol import Exchange, serve
from mcp.server.sizing import encoded
from tenants.access import api_key_authenticate
from tenants.current import tenant_db
from tenants.errors import AccessRefused
from tenants.models import Tenant


class Command(BaseCommand):
    help = ("Serve a tenant's MCP tools and resources over stdio (newline-delimited JSON-RPC), authenticated by "
            "an API key of that tenant read from the environment.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="The slug of the tenant whose contexts to serve.")
        parser.add_argument("--key-env", default="MCP_API_KEY",
                            help="The environment variable holding the API key (default MCP_API_KEY).")

    def handle(self, *args: Any, tenant: str, key_env: str, **options: Any) -> None:
        raw_key = os.environ.get(key_env, "").strip()
        if not raw_key:
            raise CommandError(f"Set {key_env} to an API key of tenant {tenant!r} (manage.py create_api_key).")
        host_tenant = self._tenant(tenant)
        authorization = f"Bearer {raw_key}"
        try:
            api_key_authenticate(authorization=authorization, host_tenant=host_tenant)
        except AccessRefused as refusal:
            raise CommandError(f"{key_env}: {refusal}") from None
        self.stderr.write(f"Serving the MCP tools of tenant {tenant!r} on stdio.")
        for line in sys.stdin.buffer:
            if not line.strip():
                continue
            close_old_connections()
            # Each message is a request of its own: its id, and the key (not this command) as the actor.
            start_request(request_id=uuid.uuid4().hex, user_agent="mcp_stdio", tenant_slug=tenant)
            host_tenant = self._tenant(tenant, allow_suspended=True)  # a suspension takes effect at once
            if host_tenant.is_suspended:
                self._send({"jsonrpc": "2.0", "id": _message_id(line), "error": {
                    "code": INSUFFICIENT_SCOPE, "message": f"The tenant {tenant!r} is suspended."}})
                continue
            tenant_db.set_tenant(host_tenant)
            reply = serve(Exchange(body=line, tenant=host_tenant, authorization=authorization, transport="stdio"))
            if reply.message is not None:
                self._send(reply.message)

    def _tenant(self, slug: str, *, allow_suspended: bool = False) -> Tenant:
        found = Tenant.objects.filter(slug=slug).first()
        if found is None or found.is_public:
            raise CommandError(f"No tenant has the slug {slug!r}.")
        if found.is_suspended and not allow_suspended:
            raise CommandError(f"Tenant {slug!r} is suspended.")
        return found

    def _send(self, message: dict[str, Any]) -> None:
        self.stdout.write(encoded(message))
        self.stdout.flush()


def _message_id(line: bytes) -> Any:
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message.get("id") if isinstance(message, dict) else None
