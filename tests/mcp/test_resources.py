"""Resources: the three templates, listing in pages with cursors, reading each kind, and -32602 for what is missing."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import tenant_context

from contexts import services
from contexts.listing import ContextFilter, contexts_page
from contexts.models import Context
from mcp.server.resources import context_uri, parse_uri, summary_uri, version_uri
from tests.mcp.conftest import error_of, result_of


@pytest.fixture
def acme_mcp(acme, mcp_for):
    with tenant_context(acme):
        services.context_create(key="notes/plan", title="Plan", content="first")
        services.context_patch(key="notes/plan", changes={"content": "second"}, expected_version=1)
    return mcp_for(acme)


def test_the_three_templates_are_listed(acme_mcp):
    templates = result_of(acme_mcp.modern("resources/templates/list"))["resourceTemplates"]

    assert [template["uriTemplate"] for template in templates] == [
        "context://{key}", "context://{key}/versions/{n}", "context://{key}/summary"]
    assert all(template["name"] and template["description"] and template["mimeType"] for template in templates)


def test_resources_are_listed_in_pages_with_a_cursor(acme, acme_mcp):
    with tenant_context(acme):
        for n in range(60):
            services.context_create(key=f"bulk/{n:02d}", content="x")

    first = result_of(acme_mcp.modern("resources/list"))
    second = result_of(acme_mcp.modern("resources/list", {"cursor": first["nextCursor"]}))

    uris = [resource["uri"] for resource in first["resources"] + second["resources"]]
    assert len(first["resources"]) == 50 and "nextCursor" not in second
    assert len(uris) == len(set(uris)) == 61 and "context://notes/plan" in uris
    assert error_of(acme_mcp.modern("resources/list", {"cursor": "forged"}), 400)["code"] == -32602


def test_a_cursor_of_another_tenant_is_invalid_here(acme, globex, acme_mcp):
    with tenant_context(globex):
        for n in range(60):
            services.context_create(key=f"globex/{n:02d}", content="x")
        globex_cursor = contexts_page(ContextFilter(), limit=50).next_cursor

    error = error_of(acme_mcp.legacy("resources/list", {"cursor": globex_cursor}), 200)

    assert error["code"] == -32602 and "not valid here" in error["message"]


def test_each_template_reads_what_it_names(acme, acme_mcp):
    acme_mcp.tool("request_summary", {"key": "notes/plan"})

    current = result_of(acme_mcp.modern("resources/read", {"uri": "context://notes/plan"}))["contents"][0]
    version = result_of(acme_mcp.modern("resources/read", {"uri": "context://notes/plan/versions/1"}))
    summary = result_of(acme_mcp.modern("resources/read", {"uri": "context://notes/plan/summary"}))["contents"][0]

    assert (current["text"], current["_meta"]["version"], current["mimeType"]) == ("second", 2, "text/plain")
    assert version["contents"][0]["text"] == "first" and version["ttlMs"] > 0  # versions never change
    assert json.loads(summary["text"])["status"] == "pending" and summary["mimeType"] == "application/json"
    with tenant_context(acme):
        assert Context.objects.get(key="notes/plan").access_count == 1  # reading the context counts, once


@pytest.mark.parametrize("uri", ["context://notes/missing", "context://notes/plan/versions/9",
                                 "context://notes/plan/summary", "file:///etc/passwd", "context://../x"])
def test_reading_what_does_not_exist_is_invalid_params(acme_mcp, uri):
    error = error_of(acme_mcp.modern("resources/read", {"uri": uri}), 400)

    assert error["code"] == -32602


@pytest.mark.parametrize("key", ["notes/plan", "summary", "notes/summary", "a/b/c"])
def test_uris_name_their_key_unambiguously(key):
    assert parse_uri(context_uri(key)) == ("context", key, None)
    assert parse_uri(version_uri(key, 3)) == ("version", key, 3)
    assert parse_uri(summary_uri(key)) == ("summary", key, None)


def test_tool_results_link_to_resources_that_read_back(acme_mcp):
    link = result_of(acme_mcp.tool("get_context", {"key": "notes/plan", "version": 1}))["content"][1]

    assert link["type"] == "resource_link"
    assert result_of(acme_mcp.modern("resources/read", {"uri": link["uri"]}))["contents"][0]["text"] == "second"
