"""The official MCP SDK client (mcp==2.3.0) against a live server, in its three modes.

legacy shakes hands with initialize (2025-11-25), auto probes server/discover
and adopts 2026-07-28, and the pinned mode speaks 2026-07-28 from the first
request. In each: every tool listed and called, every resource template read,
the resources listed page by page, a stale expected_version refused with the
current content, a key's scopes deciding what it sees and may call, and a
tenant's keys, versions and cursors useless on another tenant's host. The
client validates every result against the protocol version and each tool's
outputSchema, so a malformed answer fails the step.
"""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import tenant_context

from audit.models import AuditLog
from contexts import services
from contexts.listing import ContextFilter, contexts_page
from contexts.models import Context, Summary
from mcp.server.tools import TOOLS
from tenants.services import tenant_create
from tests.mcp.conftest import new_key

pytestmark = pytest.mark.subprocess

MODES = ["legacy", "auto", "2026-07-28"]
NEGOTIATED = {"legacy": "2025-11-25", "auto": "2026-07-28", "2026-07-28": "2026-07-28"}
READ_TOOLS = ["search_contexts", "get_context", "list_versions", "diff_versions", "recent_contexts", "get_summary"]


@pytest.fixture
def acme(committed: None) -> Any:
    """A tenant on the largest plan, with contexts enough for two pages of resources, committed for the server."""
    tenant, _ = tenant_create(slug="acme", name="Acme", domain="acme.localhost", plan="enterprise")
    with tenant_context(tenant):
        services.context_create(key="notes/plan", title="Plan", content="first draft of the plan", tags=["plans"])
        services.context_patch(key="notes/plan", changes={"content": "second draft of the plan"}, expected_version=1)
        for n in range(55):
            services.context_create(key=f"bulk/{n:02d}", title=f"Bulk {n}", content=f"bulk context number {n}")
    return tenant


@pytest.fixture
def globex(committed: None) -> Any:
    tenant, _ = tenant_create(slug="globex", name="Globex", domain="globex.localhost", plan="enterprise")
    with tenant_context(tenant):
        services.context_create(key="globex/secret", title="Secret", content="globex only", tags=["secret"])
        services.context_patch(key="globex/secret", changes={"content": "globex only, v2"}, expected_version=1)
        for n in range(55):
            services.context_create(key=f"globex/bulk/{n:02d}", content=f"globex bulk {n}")
    return tenant


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"op": "call_tool", "name": name, "arguments": arguments}


def no_error(step: dict[str, Any]) -> dict[str, Any]:
    assert "error" not in step, step
    return step


@pytest.mark.parametrize("mode", MODES)
def test_every_tool_and_resource_template_works_in_each_mode(run_sdk, acme, mode):
    steps = [
        {"op": "list_tools"},
        call("search_contexts", query="plan", max_results=5),
        call("get_context", key="notes/plan"),
        call("get_context", key="notes/plan", version=1),
        call("put_context", key="notes/new", content="made over MCP", title="New", tags=["mcp"]),
        call("put_context", key="notes/new", content="changed over MCP", expected_version=1),
        call("archive_context", key="notes/new"),
        call("list_versions", key="notes/plan"),
        call("diff_versions", key="notes/plan", from_version=1, to_version=2),
        call("restore_version", key="notes/plan", version=1, expected_version=2),
        call("recent_contexts", by="updated", limit=3),
        call("request_summary", key="notes/plan"),
        call("get_summary", key="notes/plan"),
        call("delete_context", key="bulk/00", expected_version=1),
        {"op": "list_resource_templates"},
        {"op": "list_resources"},
        {"op": "read_resource", "uri": "context://notes/plan"},
        {"op": "read_resource", "uri": "context://notes/plan/versions/1"},
        {"op": "read_resource", "uri": "context://notes/plan/summary"},
        {"op": "read_resource", "uri": "context://notes/missing"},
    ]
    report = run_sdk(host="acme.localhost", key=new_key(acme), mode=mode, steps=steps)

    assert report["connected"], report
    assert report["protocol_version"] == NEGOTIATED[mode]
    (tools, search, get, get_v1, create, change, archive, versions, diff, restore, recent, ask, summary, delete,
     templates, listing, read, read_v1, read_summary, read_missing) = report["steps"]
    assert [tool["name"] for tool in no_error(tools)["tools"]] == [tool.name for tool in TOOLS]
    for tool in tools["tools"]:
        assert tool["title"] and tool["description"] and tool["annotations"]["openWorldHint"] is False
        assert tool["inputSchema"]["additionalProperties"] is False and tool["outputSchema"]["type"] == "object"
    for step in (search, get, get_v1, create, change, archive, versions, diff, restore, recent, ask, summary, delete):
        assert no_error(step)["is_error"] is False, step
        assert step["content"][0]["type"] == "text"
    assert search["structured"]["results"][0]["key"] == "notes/plan" and "«plan»" in search["structured"]["results"][0]["snippet"]
    assert get["structured"]["content"] == "second draft of the plan" and get["structured"]["version"] == 2
    assert get_v1["structured"]["content"] == "first draft of the plan"
    assert create["structured"]["created"] is True and change["structured"]["version"] == 2
    assert {"type": "resource_link", "uri": "context://notes/new"}.items() <= create["content"][1].items()
    assert archive["structured"]["archived"] is True
    assert [row["version"] for row in versions["structured"]["versions"]] == [2, 1]
    assert "-first draft of the plan" in diff["structured"]["content_diff"]
    assert restore["structured"]["version"] == 3 and restore["structured"]["restored_version"] == 1
    assert len(recent["structured"]["results"]) == 3
    assert ask["structured"]["status"] == "pending" and summary["structured"]["summary_id"] == ask["structured"]["summary_id"]
    assert summary["structured"]["stale"] is False and summary["structured"]["context_version"] == 3
    assert delete["structured"]["deleted"] is True
    assert [template["uriTemplate"] for template in no_error(templates)["templates"]] == [
        "context://{key}", "context://{key}/versions/{n}", "context://{key}/summary"]
    assert no_error(listing)["pages"] == 2 and len(listing["uris"]) == len(set(listing["uris"])) == 55
    assert no_error(read)["contents"][0]["text"] == "first draft of the plan"
    assert no_error(read_v1)["contents"][0]["text"] == "first draft of the plan"
    assert '"status": "pending"' in no_error(read_summary)["contents"][0]["text"]
    assert read_missing["error"]["code"] == -32602

    with tenant_context(acme):
        assert Context.objects.get(key="notes/new").content == "changed over MCP"
        assert not Context.objects.filter(key="bulk/00").exists()
        assert Summary.objects.filter(context__key="notes/plan").count() == 1
    calls = AuditLog.objects.filter(action="mcp.call", details__method="tools/call")
    assert calls.count() == 13 and {entry.actor_type for entry in calls} == {"api_key"}


@pytest.mark.parametrize("mode", MODES)
def test_a_stale_expected_version_is_refused_with_the_current_content(run_sdk, acme, mode):
    report = run_sdk(host="acme.localhost", key=new_key(acme), mode=mode, steps=[
        call("put_context", key="notes/plan", content="lost update?", expected_version=1),
        call("delete_context", key="notes/plan", expected_version=1),
    ])

    stale_put, stale_delete = report["steps"]
    for step in (stale_put, stale_delete):
        assert step["is_error"] is True
        assert step["structured"]["error"]["type"] == "precondition-failed"
        assert step["structured"]["error"]["current_version"] == 2
        assert step["structured"]["current"]["content"] == "second draft of the plan"
    with tenant_context(acme):
        context = Context.objects.get(key="notes/plan")
        assert (context.version, context.content) == (2, "second draft of the plan")


@pytest.mark.parametrize("mode", MODES)
def test_a_key_sees_and_calls_only_what_its_scopes_allow(run_sdk, acme, mode):
    report = run_sdk(host="acme.localhost", key=new_key(acme, ["contexts:read"]), mode=mode, steps=[
        {"op": "list_tools"},
        call("put_context", key="notes/sneaky", content="written without the scope"),
        call("get_context", key="notes/plan"),
    ])

    tools, put, get = report["steps"]
    assert [tool["name"] for tool in tools["tools"]] == READ_TOOLS
    assert put["error"]["code"] == -32003 and "contexts:write" in put["error"]["message"]
    assert get["is_error"] is False
    with tenant_context(acme):
        assert not Context.objects.filter(key="notes/sneaky").exists()


@pytest.mark.parametrize("mode", MODES)
def test_a_key_of_another_tenant_reads_and_changes_nothing(run_sdk, acme, globex, mode):
    report = run_sdk(host="globex.localhost", key=new_key(acme), mode=mode, steps=[{"op": "list_tools"}])

    # legacy and auto are refused as they connect; the pinned mode sends nothing before its first request.
    refusal = report["error"] if not report["connected"] else report["steps"][0]["error"]
    assert refusal["code"] == -32001 and "another tenant" in refusal["message"]
    assert AuditLog.objects.filter(action="mcp.access_refused", tenant_slug="globex").exists()


@pytest.mark.parametrize("mode", MODES)
def test_keys_versions_and_cursors_of_another_tenant_name_nothing_here(run_sdk, acme, globex, mode):
    with tenant_context(globex):
        globex_cursor = contexts_page(ContextFilter(), limit=50).next_cursor
        before = {context.key: (context.version, context.access_count) for context in Context.objects.all()}

    report = run_sdk(host="acme.localhost", key=new_key(acme), mode=mode, steps=[
        call("get_context", key="globex/secret"),
        call("get_context", key="globex/secret", version=1),
        call("put_context", key="globex/secret", content="overwritten from acme", expected_version=2),
        call("restore_version", key="globex/secret", version=1, expected_version=2),
        call("delete_context", key="globex/secret", expected_version=2),
        call("search_contexts", cursor=globex_cursor),
        {"op": "list_resources_page", "cursor": globex_cursor},
        {"op": "read_resource", "uri": "context://globex/secret/versions/1"},
    ])

    *tools, listing, read = report["steps"]
    for step in tools[:5]:
        assert step["is_error"] is True and step["structured"]["error"]["type"] == "context-not-found", step
    assert tools[5]["is_error"] is True and tools[5]["structured"]["error"]["field"] == "cursor"
    assert listing["error"]["code"] == -32602 and read["error"]["code"] == -32602
    with tenant_context(globex):
        after = {context.key: (context.version, context.access_count) for context in Context.objects.all()}
    assert after == before
    with tenant_context(acme):
        assert not Context.objects.filter(key__startswith="globex/").exists()
