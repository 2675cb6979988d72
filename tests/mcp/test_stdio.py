"""manage.py mcp_stdio: the same tools over newline-delimited JSON-RPC, for desktop clients that start a server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django_tenants.utils import tenant_context

from audit.models import AuditLog
from contexts.models import Context
from tenants.services import tenant_create
from tests.conftest import PROJECT_DIR, child_database_url
from tests.mcp.conftest import new_key

pytestmark = pytest.mark.subprocess


def stdio(lines: list[dict | str], *, key: str | None, tenant: str = "acme") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": child_database_url(), "DEBUG": "true"}
    env.pop("MCP_API_KEY", None)
    if key is not None:
        env["MCP_API_KEY"] = key
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    return subprocess.run([sys.executable, "manage.py", "mcp_stdio", "--tenant", tenant], input=text, cwd=PROJECT_DIR,
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def acme(committed):
    tenant, _ = tenant_create(slug="acme", name="Acme", domain="acme.localhost")
    return tenant


def test_stdio_serves_the_tools_through_the_same_path_and_audits_each_call(acme):
    completed = stdio([
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "desktop", "version": "3"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        "",
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "put_context",
                                                                       "arguments": {"key": "notes/a", "content": "hi"}}},
        {"jsonrpc": "2.0", "id": 4, "method": "resources/read", "params": {"uri": "context://notes/a"}},
        "{broken",
    ], key=new_key(acme))

    assert completed.returncode == 0, completed.stderr
    answers = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [answer.get("id") for answer in answers] == [1, 2, 3, 4, None]  # no answer to the notification
    assert answers[0]["result"]["protocolVersion"] == "2025-06-18"
    assert len(answers[1]["result"]["tools"]) == 11
    assert answers[2]["result"]["structuredContent"]["created"] is True
    assert answers[3]["result"]["contents"][0]["text"] == "hi"
    assert answers[4]["error"]["code"] == -32700
    with tenant_context(acme):
        assert Context.objects.get(key="notes/a").content == "hi"
    entries = AuditLog.objects.filter(action="mcp.call").order_by("id")
    assert [entry.details["transport"] for entry in entries] == ["stdio"] * 4
    assert {entry.actor_type for entry in entries} == {"api_key"}
    assert len({entry.request_id for entry in entries}) == 4


def test_stdio_refuses_to_start_without_a_key_of_the_tenant(acme):
    other, _ = tenant_create(slug="globex", name="Globex", domain="globex.localhost")

    missing = stdio([], key=None)
    foreign = stdio([{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}], key=new_key(other))
    unknown = stdio([], key=new_key(acme), tenant="nobody")

    for completed, words in ((missing, "Set MCP_API_KEY"), (foreign, "another tenant"), (unknown, "No tenant")):
        assert completed.returncode == 1 and completed.stdout == ""
        assert len(completed.stderr.strip().splitlines()) == 1 and words in completed.stderr
