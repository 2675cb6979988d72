"""The REST API and the MCP endpoint, served by a real server, for tenants whose schemas are on different workers."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

from tenants.api_keys import api_key_create
from tenants.models import ApiKey
from tests.citus.conftest import node_of
from tests.live_server import LiveServer, start_live_server

MODERN = "2026-07-28"


def call(server: LiveServer, method: str, host: str, path: str, key: str, body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        all_headers = {"Host": host, "Authorization": f"Bearer {key}", "Accept": "application/json",
                       **({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})}
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=all_headers)
        response = connection.getresponse()
        payload = response.read()
        return response.status, dict(response.getheaders()), json.loads(payload) if payload else None
    finally:
        connection.close()


def mcp_tool(server: LiveServer, host: str, key: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """One stateless 2026-07-28 tools/call; its structuredContent."""
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": name, "arguments": arguments,
        "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {},
                  "io.modelcontextprotocol/clientInfo": {"name": "citus-tests", "version": "1"}},
    }}
    status, _, body = call(server, "POST", host, "/mcp", key, message, headers={
        "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": name,
        "Accept": "application/json, text/event-stream"})
    assert status == 200 and "result" in body, (status, body)
    assert not body["result"].get("isError"), body
    return body["result"]["structuredContent"]


def test_the_api_and_the_mcp_endpoint_serve_tenants_on_different_workers_each_its_own_rows(
        two_tenants_on_two_workers, tmp_path: Path):
    acme, globex = two_tenants_on_two_workers
    assert node_of(acme.schema_name) != node_of(globex.schema_name)
    keys = {tenant.slug: api_key_create(tenant=tenant, name="citus", scopes=list(ApiKey.Scope.values))[1]
            for tenant in (acme, globex)}

    with start_live_server(tmp_path / "server.log", server="gunicorn") as server:
        for tenant in (acme, globex):
            host, key = f"{tenant.slug}.localhost", keys[tenant.slug]
            status, headers, body = call(server, "PUT", host, "/api/v1/contexts/notes/today", key,
                                         {"title": "Today", "content": f"{tenant.name} calls the bank."},
                                         headers={"If-None-Match": "*"})
            assert status == 201, (status, body, server.log()[-2000:])
            status, _, body = call(server, "GET", host, "/api/v1/contexts/notes/today", key)
            assert status == 200 and body["content"] == f"{tenant.name} calls the bank."

            written = mcp_tool(server, host, key, "put_context",
                               {"key": "notes/mcp", "content": f"{tenant.name} via MCP"})
            assert written["version"] == 1
            read = mcp_tool(server, host, key, "get_context", {"key": "notes/mcp"})
            assert read["content"] == f"{tenant.name} via MCP"

            status, _, body = call(server, "GET", host, "/api/v1/contexts/?fields=key,title", key)
            assert status == 200 and sorted(item["key"] for item in body["results"]) == ["notes/mcp", "notes/today"]

        # A key of one tenant on the other's host is refused, and reads nothing there.
        status, _, body = call(server, "GET", "globex.localhost", "/api/v1/contexts/notes/today", keys["acme"])
        assert status in (401, 403), (status, body)
