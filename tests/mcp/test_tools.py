"""The tools: their contracts, what each does through the services, and refusals a model can act on."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from contexts import services
from contexts.models import Context, ContextVersion, Summary
from contexts.summaries import summary_succeeded
from mcp.server.tools import TOOLS
from tests.mcp.conftest import error_of, result_of, structured

TOOL_ORDER = ["search_contexts", "get_context", "put_context", "archive_context", "delete_context", "list_versions",
              "diff_versions", "restore_version", "recent_contexts", "request_summary", "get_summary"]


@pytest.fixture
def acme_mcp(acme, mcp_for):
    with tenant_context(acme):
        services.context_create(key="notes/plan", title="Plan", content="one\ntwo", tags=["plans"])
        services.context_patch(key="notes/plan", changes={"content": "one\nthree"}, expected_version=1)
    return mcp_for(acme)


def context(tenant, key: str) -> Context | None:
    with tenant_context(tenant):
        return Context.objects.filter(key=key).first()


def refusal(response, problem_type: str) -> dict:
    answer = structured(response, is_error=True)
    assert answer["error"]["type"] == problem_type, answer
    return answer


def test_tools_are_listed_in_a_fixed_order_with_honest_contracts(acme_mcp):
    tools = result_of(acme_mcp.modern("tools/list"))["tools"]

    assert [tool["name"] for tool in tools] == TOOL_ORDER
    by_name = {tool["name"]: tool for tool in tools}
    for tool in tools:
        assert tool["title"] and len(tool["description"]) > 80
        assert tool["inputSchema"]["type"] == "object" and tool["inputSchema"]["additionalProperties"] is False
        assert tool["outputSchema"]["type"] == "object"
        assert tool["annotations"]["openWorldHint"] is False
    read_only = {name for name, tool in by_name.items() if tool["annotations"]["readOnlyHint"]}
    assert read_only == {"search_contexts", "get_context", "list_versions", "diff_versions", "recent_contexts",
                         "get_summary"}
    assert [name for name, tool in by_name.items() if tool["annotations"]["destructiveHint"]] == ["delete_context"]
    assert by_name["request_summary"]["annotations"]["idempotentHint"] is False
    assert "expected_version" in by_name["delete_context"]["inputSchema"]["required"]


@pytest.mark.parametrize(("scopes", "names"), [
    (["contexts:read"], ["search_contexts", "get_context", "list_versions", "diff_versions", "recent_contexts",
                         "get_summary"]),
    (["contexts:write"], ["put_context", "archive_context", "delete_context", "restore_version"]),
    (["summaries:write"], ["request_summary"]),
])
def test_a_key_sees_only_the_tools_its_scopes_allow(acme, mcp_for, scopes, names):
    tools = result_of(mcp_for(acme, scopes=scopes).legacy("tools/list"))["tools"]

    assert [tool["name"] for tool in tools] == names


def test_a_call_outside_the_keys_scopes_is_403_insufficient_scope_and_changes_nothing(acme, acme_mcp, mcp_for):
    reader = mcp_for(acme, scopes=["contexts:read"])

    response = reader.tool("delete_context", {"key": "notes/plan", "expected_version": 2})

    error = error_of(response, 403)
    assert error["code"] == -32003 and error["data"]["scope"] == "contexts:write"
    assert response["WWW-Authenticate"].startswith('Bearer error="insufficient_scope", scope="contexts:write"')
    assert context(acme, "notes/plan").version == 2
    assert error_of(mcp_for(acme, scopes=["summaries:write"]).modern("resources/list"), 403)["code"] == -32003


def test_put_context_creates_then_changes_only_the_fields_given(acme, acme_mcp):
    created = structured(acme_mcp.tool("put_context", {"key": "notes/new", "content": "v1", "title": "New",
                                                       "tags": ["a"], "metadata": {"team": "ops"}}))
    changed = structured(acme_mcp.tool("put_context", {"key": "notes/new", "content": "v2", "expected_version": 1}))

    assert created["created"] is True and created["version"] == 1
    assert changed["created"] is False and changed["version"] == 2
    stored = context(acme, "notes/new")
    assert (stored.content, stored.title, stored.tags, stored.metadata) == ("v2", "New", ["a"], {"team": "ops"})


def test_put_context_without_expected_version_never_overwrites(acme, acme_mcp):
    answer = refusal(acme_mcp.tool("put_context", {"key": "notes/plan", "content": "overwrite"}),
                     "precondition-failed")

    assert answer["error"]["current_version"] == 2 and answer["current"]["content"] == "one\nthree"
    assert context(acme, "notes/plan").content == "one\nthree"


def test_a_stale_expected_version_returns_the_current_version_and_content(acme, acme_mcp):
    answer = refusal(acme_mcp.tool("put_context", {"key": "notes/plan", "content": "lost?", "expected_version": 1}),
                     "precondition-failed")

    assert answer["error"]["current_version"] == 2
    assert answer["current"]["content"] == "one\nthree" and answer["current"]["version"] == 2
    assert context(acme, "notes/plan").version == 2


def test_limits_expiry_and_absence_are_refusals_the_model_can_act_on(acme, acme_mcp, settings):
    with tenant_context(acme):
        services.context_create(key="notes/old", content="gone",
                                expires_at=timezone.now() - dt.timedelta(days=1))
    settings.PLAN_LIMITS = {**settings.PLAN_LIMITS, "free": {**settings.PLAN_LIMITS["free"], "max_contexts": 2}}

    too_large = acme_mcp.tool("put_context", {"key": "notes/plan", "content": "x" * (64 * 1024 + 1),
                                              "expected_version": 2})
    quota = acme_mcp.tool("put_context", {"key": "notes/another", "content": "x"})
    expired = acme_mcp.tool("get_context", {"key": "notes/old"})
    missing = acme_mcp.tool("get_context", {"key": "notes/missing"})
    bad_key = acme_mcp.tool("get_context", {"key": "notes//double"})

    assert refusal(too_large, "content-too-large")["error"]["field"] == "content"
    refusal(quota, "quota-exceeded")
    refusal(expired, "context-expired")
    refusal(missing, "context-not-found")
    refusal(bad_key, "invalid-request")
    assert context(acme, "notes/plan").version == 2 and context(acme, "notes/another") is None


def test_get_context_counts_the_read_and_reads_past_versions_and_parts(acme, acme_mcp):
    current = structured(acme_mcp.tool("get_context", {"key": "notes/plan"}))
    past = structured(acme_mcp.tool("get_context", {"key": "notes/plan", "version": 1}))
    part = structured(acme_mcp.tool("get_context", {"key": "notes/plan", "offset": 4, "max_chars": 3}))

    assert (current["content"], current["version"]) == ("one\nthree", 2)
    assert (past["content"], past["version"], past["current_version"]) == ("one\ntwo", 1, 2)
    assert (part["content"], part["next_offset"], part["content_length"]) == ("thr", 7, 9)
    assert context(acme, "notes/plan").access_count == 2  # past versions are not reads of the context


def test_archive_then_unarchive(acme, acme_mcp):
    archived = structured(acme_mcp.tool("archive_context", {"key": "notes/plan", "expected_version": 2}))
    listed = structured(acme_mcp.tool("search_contexts", {}))
    unarchived = structured(acme_mcp.tool("archive_context", {"key": "notes/plan", "archived": False}))

    assert archived["archived"] is True and archived["version"] == 3 and listed["results"] == []
    assert unarchived["archived"] is False and unarchived["version"] == 4


def test_delete_context_needs_the_current_version(acme, acme_mcp):
    assert error_of(acme_mcp.tool("delete_context", {"key": "notes/plan"}), 400)["code"] == -32602
    refusal(acme_mcp.tool("delete_context", {"key": "notes/plan", "expected_version": 1}), "precondition-failed")
    assert context(acme, "notes/plan") is not None

    assert structured(acme_mcp.tool("delete_context", {"key": "notes/plan", "expected_version": 2}))["deleted"]
    assert context(acme, "notes/plan") is None


def test_versions_are_listed_in_pages_diffed_and_restored(acme, acme_mcp):
    first = structured(acme_mcp.tool("list_versions", {"key": "notes/plan", "limit": 1}))
    second = structured(acme_mcp.tool("list_versions", {"key": "notes/plan", "limit": 1,
                                                        "before_version": first["next_before_version"]}))
    diff = structured(acme_mcp.tool("diff_versions", {"key": "notes/plan"}))
    restored = structured(acme_mcp.tool("restore_version", {"key": "notes/plan", "version": 1,
                                                            "expected_version": 2}))

    assert [row["version"] for row in first["versions"] + second["versions"]] == [2, 1]
    assert second["next_before_version"] is None
    assert "-two" in diff["content_diff"] and "+three" in diff["content_diff"]
    assert restored["version"] == 3 and context(acme, "notes/plan").content == "one\ntwo"
    with tenant_context(acme):
        assert ContextVersion.objects.filter(context__key="notes/plan").count() == 3  # history kept


def test_search_ranks_with_snippets_filters_by_tags_and_pages_with_a_cursor(acme, acme_mcp):
    with tenant_context(acme):
        for n in range(3):
            services.context_create(key=f"bulk/{n}", content=f"the roadmap item {n}", tags=["roadmap"])

    ranked = structured(acme_mcp.tool("search_contexts", {"query": "roadmap", "max_results": 2}))
    rest = structured(acme_mcp.tool("search_contexts", {"query": "roadmap", "max_results": 2,
                                                        "cursor": ranked["next_cursor"]}))
    tagged = structured(acme_mcp.tool("search_contexts", {"tags": ["plans"], "fields": ["key", "content"],
                                                          "max_chars": 3}))

    assert len(ranked["results"]) == 2 and "«roadmap»" in ranked["results"][0]["snippet"]
    assert len(rest["results"]) == 1 and rest["next_cursor"] is None
    assert tagged["results"] == [{"key": "notes/plan", "uri": "context://notes/plan", "content": "one…"}]


def test_recent_contexts_by_change_or_by_read(acme, acme_mcp):
    with tenant_context(acme):
        services.context_create(key="notes/later", content="later")
    acme_mcp.tool("get_context", {"key": "notes/plan"})

    by_change = structured(acme_mcp.tool("recent_contexts", {}))
    by_read = structured(acme_mcp.tool("recent_contexts", {"by": "accessed"}))

    assert [row["key"] for row in by_change["results"]] == ["notes/later", "notes/plan"]
    assert [row["key"] for row in by_read["results"]] == ["notes/plan", "notes/later"]


def test_a_summary_is_requested_as_a_handle_and_polled_until_done_then_goes_stale(acme, acme_mcp):
    handle = structured(acme_mcp.tool("request_summary", {"key": "notes/plan"}))
    pending = structured(acme_mcp.tool("get_summary", {"key": "notes/plan", "summary_id": handle["summary_id"]}))
    with tenant_context(acme):
        summary_succeeded(summary=Summary.objects.get(pk=handle["summary_id"]), text="Counting.", quality_score=0.8,
                          quality_metrics={"coverage": 0.9})
    done = structured(acme_mcp.tool("get_summary", {"key": "notes/plan"}))
    acme_mcp.tool("put_context", {"key": "notes/plan", "content": "changed", "expected_version": 2})
    stale = structured(acme_mcp.tool("get_summary", {"key": "notes/plan"}))

    assert (pending["status"], pending["text"]) == ("pending", None)
    assert (done["status"], done["text"], done["quality"]["score"]) == ("succeeded", "Counting.", 0.8)
    assert done["context_version"] == 2 and done["stale"] is False
    assert stale["stale"] is True and stale["current_version"] == 3
    refusal(acme_mcp.tool("get_summary", {"key": "notes/plan", "summary_id": 999}), "summary-not-found")


def test_every_tool_result_links_the_resources_it_names(acme_mcp):
    result = result_of(acme_mcp.tool("search_contexts", {"query": "three"}))

    assert result["content"][1] == {"type": "resource_link", "uri": "context://notes/plan", "name": "notes/plan",
                                    "mimeType": "text/plain", "title": "Plan"}


def test_the_tool_table_matches_the_issue():
    assert [tool.name for tool in TOOLS] == TOOL_ORDER
