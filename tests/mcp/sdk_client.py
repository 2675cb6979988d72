"""Drive the MCP server with the official SDK client (mcp==2.3.0, requirements-mcp-client.txt).

Not a test module: tests/mcp/test_sdk_client.py runs it with .venv-mcpclient's
Python, `python -P`, from a folder outside the repository, since the project's
`mcp/` package would shadow the SDK. It reads a scenario as JSON on stdin:

    {"url": "http://127.0.0.1:8123/mcp", "host": "acme.localhost:8123", "key": "mcpk_…",
     "mode": "legacy" | "auto" | "2026-07-28", "steps": [{"op": "list_tools"}, {"op": "call_tool", …}, …]}

connects in that mode (Host and Authorization as static headers), runs each
step, and prints what happened as JSON on stdout. The client checks every
result against the protocol version it negotiated, and each tool's
structuredContent against its outputSchema, so a step that breaks either
reports an error.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import httpx2

# The SDK's `mcp`, not the project's (hence python -P outside the repository); ruff files it as first-party.
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def describe(exc: BaseException) -> dict[str, Any]:
    """Return an exception as data; an exception group by its first member."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, MCPError):
        return {"kind": "MCPError", "code": exc.error.code, "message": exc.error.message, "data": exc.error.data}
    return {"kind": type(exc).__name__, "message": str(exc)}


def dump(model: Any) -> Any:
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")


async def step(client: Client, action: dict[str, Any]) -> dict[str, Any]:
    op = action["op"]
    try:
        if op == "list_tools":
            return {"tools": [dump(tool) for tool in (await client.list_tools()).tools]}
        if op == "call_tool":
            result = await client.call_tool(action["name"], action.get("arguments", {}))
            return {"is_error": bool(result.is_error), "structured": result.structured_content,
                    "content": [dump(block) for block in result.content]}
        if op == "list_resources":
            pages, uris, cursor = 0, [], None
            while True:
                page = await client.list_resources(cursor=cursor)
                pages += 1
                uris.extend(str(resource.uri) for resource in page.resources)
                cursor = page.next_cursor
                if not cursor or pages > 100:
                    return {"pages": pages, "uris": uris}
        if op == "list_resources_page":
            page = await client.list_resources(cursor=action.get("cursor"))
            return {"uris": [str(resource.uri) for resource in page.resources], "next_cursor": page.next_cursor}
        if op == "list_resource_templates":
            return {"templates": [dump(template) for template in (await client.list_resource_templates()).resource_templates]}
        if op == "read_resource":
            return {"contents": [dump(contents) for contents in (await client.read_resource(action["uri"])).contents]}
    except Exception as exc:  # noqa: BLE001 — the step's outcome is the report, whatever it is
        return {"error": describe(exc)}
    return {"error": {"kind": "unknown op", "message": op}}


async def run(scenario: dict[str, Any]) -> dict[str, Any]:
    headers = {"Host": scenario["host"]}
    if scenario.get("key"):
        headers["Authorization"] = f"Bearer {scenario['key']}"
    report: dict[str, Any] = {"connected": False, "steps": []}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(10.0, read=30.0)) as http:
        try:
            async with Client(streamable_http_client(scenario["url"], http_client=http),
                              mode=scenario["mode"]) as client:
                report["connected"] = True
                report["protocol_version"] = client.protocol_version
                for action in scenario["steps"]:
                    report["steps"].append(await step(client, action))
        except BaseException as exc:  # noqa: BLE001 — a refused connection is an outcome to report
            if isinstance(exc, KeyboardInterrupt):
                raise
            report["error"] = describe(exc)
    return report


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(json.load(sys.stdin)))))
