"""Operating the endpoint: every call audited, one request budget per key with the REST API, bounded answers,
and what a get_context costs in SQL beside the REST API's read."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from audit.models import AuditLog
from contexts import services
from contexts.models import Context
from mcp.server.tools import TOOLS
from tenants import rate_limits
from tenants.services import tenant_create
from tests.mcp.conftest import Mcp, error_of, new_key, result_of, structured
from tests.redis_server import redis_caches, redis_url  # noqa: F401  (fixtures)


@pytest.fixture
def acme_mcp(acme, mcp_for) -> Mcp:
    with tenant_context(acme):
        services.context_create(key="notes/plan", title="Plan", content="The plan.")
    return mcp_for(acme)


def calls() -> list[AuditLog]:
    return list(AuditLog.objects.filter(action="mcp.call").order_by("id"))


# --- audit --------------------------------------------------------------------------------------------------------

def test_every_call_is_audited_with_method_key_client_outcome_and_request_id(acme, acme_mcp):
    initialize = acme_mcp.post(acme_mcp.message("initialize", {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "desktop", "version": "2.0"}}))
    listed = acme_mcp.post(acme_mcp.message("tools/list"), headers={"MCP-Protocol-Version": "2025-11-25",
                                                                     "User-Agent": "claude-code/2.1.280 (cli)"})
    read = acme_mcp.tool("get_context", {"key": "notes/plan"})
    missing = acme_mcp.tool("get_context", {"key": "notes/missing"})
    mismatched = acme_mcp.modern("tools/list", headers={"Mcp-Method": "tools/call"})

    entries = calls()
    assert [entry.details["method"] for entry in entries] == ["initialize", "tools/list", "tools/call", "tools/call",
                                                              "tools/list"]
    assert [entry.outcome for entry in entries] == ["success", "success", "success", "failure", "failure"]
    assert [entry.details["result"] for entry in entries] == ["ok", "ok", "ok", "tool_error:context-not-found",
                                                              "error:-32020"]
    assert [entry.request_id for entry in entries] == [response["X-Request-ID"] for response in
                                                       (initialize, listed, read, missing, mismatched)]
    key_id = acme_mcp.key.split("_")[1]
    assert {(entry.actor_type, entry.tenant_slug) for entry in entries} == {("api_key", "acme")}
    assert all(key_id in entry.actor_label for entry in entries)
    assert entries[0].details["client"] == {"name": "desktop", "version": "2.0"}
    assert entries[1].details["client"] == {"name": "claude-code", "version": "2.1.280", "from": "user-agent"}
    assert entries[2].details["client"] == {"name": "tests", "version": "9.1"}
    assert (entries[2].details["tool"], entries[2].details["key"]) == ("get_context", "notes/plan")


def test_a_refused_key_is_audited_without_its_secret(acme, globex):
    secret = new_key(globex)

    Mcp("acme.localhost", secret).tool("get_context", {"key": "notes/plan"})

    entry = AuditLog.objects.get(action="mcp.access_refused")
    assert entry.outcome == "denied" and entry.details["reason"] == "credential-wrong-tenant"
    assert secret.split("_", 2)[2] not in json.dumps(entry.details) + entry.actor_label  # the secret may hold "_"


def test_a_flood_of_refused_keys_is_429_after_the_budget(acme, settings, monkeypatch):
    settings.REFUSED_CREDENTIALS_PER_MINUTE = 2
    monkeypatch.setattr(rate_limits, "_now", lambda: 1_800_000_010.0)
    forger = Mcp("acme.localhost", "mcpk_abcdefghijkl_" + "x" * 43)

    answers = [forger.tool("get_context", {"key": "notes/plan"}) for _ in range(4)]

    assert [answer.status_code for answer in answers] == [401, 401, 429, 429]
    assert error_of(answers[2], 429)["code"] == -32029 and answers[2]["Retry-After"] == "50"
    assert AuditLog.objects.filter(action="mcp.access_refused").count() == 2
    assert AuditLog.objects.filter(action="api.refusals_throttled").count() == 1


# --- one budget per key, shared with the REST API ------------------------------------------------------------

@pytest.fixture
def small_budget(settings, monkeypatch):
    """Three requests a minute per key, in a minute that does not end during the test."""
    settings.PLAN_LIMITS = {**settings.PLAN_LIMITS, "free": {**settings.PLAN_LIMITS["free"],
                                                             "requests_per_minute_key": 3}}
    monkeypatch.setattr(rate_limits, "_now", lambda: 1_800_000_010.0)


def test_mcp_and_rest_spend_one_budget_per_key(acme, acme_mcp, small_budget):
    rest = Client(HTTP_HOST="acme.localhost", HTTP_AUTHORIZATION=f"Bearer {acme_mcp.key}")
    assert rest.get("/api/v1/contexts/notes/plan").status_code == 200
    assert rest.get("/api/v1/contexts/notes/plan").status_code == 200
    assert result_of(acme_mcp.tool("get_context", {"key": "notes/plan"}))

    refused = acme_mcp.tool("get_context", {"key": "notes/plan"})

    error = error_of(refused, 429)
    assert error["code"] == -32029 and "3 requests a minute" in error["message"]
    assert refused["Retry-After"] == "50" and '"key";r=0;t=50' in refused["RateLimit"]
    assert rest.get("/api/v1/contexts/notes/plan").status_code == 429  # the same budget, spent
    with tenant_context(acme):
        assert Context.objects.get(key="notes/plan").access_count == 3


def test_answers_carry_the_rate_limit_headers(acme_mcp):
    response = acme_mcp.modern("tools/list")

    assert response["RateLimit-Policy"].startswith('"key";q=120;w=60')


# --- bounded answers ------------------------------------------------------------------------------------------

LIMIT = 8192


@pytest.fixture
def small_answers(settings):
    settings.MCP_MAX_RESULT_BYTES = LIMIT


@pytest.mark.parametrize("text", ["abcdefghij", "日本語のテキスト", "quote \" and \\ back"])
def test_a_long_content_is_cut_to_the_limit_with_a_marker_and_read_on_from_next_offset(acme, acme_mcp,
                                                                                       small_answers, text):
    content = text * (60_000 // len(text.encode()))
    with tenant_context(acme):
        services.context_create(key="notes/long", content=content)

    response = acme_mcp.tool("get_context", {"key": "notes/long"})
    answer = structured(response)
    rest = structured(acme_mcp.tool("get_context", {"key": "notes/long", "offset": answer["next_offset"]}))

    assert len(response.content) <= LIMIT
    assert answer["truncated"] is True and "content" in answer["truncated_fields"]
    kept = answer["truncated_fields"]["content"]
    assert answer["content"].startswith(content[:kept]) and "more characters not shown" in answer["content"]
    assert answer["next_offset"] == kept and answer["content_length"] == len(content)
    assert rest["content"].startswith(content[kept:kept + 100])


def test_every_kind_of_answer_stays_within_the_limit(acme, acme_mcp, small_answers):
    with tenant_context(acme):
        for n in range(50):
            services.context_create(key=f"bulk/{n:02d}", title="T" * 400, content="roadmap " * 600,
                                    tags=[f"tag{i}" for i in range(30)])
        services.context_patch(key="bulk/00", changes={"content": "other " * 3000}, expected_version=1)
        services.context_create(key="notes/big", content="big " * 10_000)

    answers = [
        acme_mcp.tool("search_contexts", {"query": "roadmap", "max_results": 50, "max_chars": 5000,
                                          "fields": ["key", "title", "content", "tags", "snippet"]}),
        acme_mcp.tool("diff_versions", {"key": "bulk/00"}),
        acme_mcp.tool("recent_contexts", {"limit": 50}),
        acme_mcp.tool("put_context", {"key": "bulk/01", "content": "x", "expected_version": 9}),  # stale: the current
        acme_mcp.modern("resources/read", {"uri": "context://notes/big"}),
    ]

    for response in answers:
        assert response.status_code == 200 and len(response.content) <= LIMIT, response.content[:200]
    assert structured(answers[0])["truncated"] is True
    assert result_of(answers[4])["contents"][0]["_meta"]["truncated"] is True


def test_listings_come_in_pages_that_each_fit_the_limit(acme, acme_mcp, small_answers):
    with tenant_context(acme):
        for n in range(40):
            services.context_create(key=f"long/{n:02d}/" + "k" * 200, title="T" * 500, content="x")

    def walk(method: str, field: str) -> tuple[list[str], list[int]]:
        names, sizes, cursor = [], [], None
        while True:
            response = acme_mcp.modern(method, {"cursor": cursor} if cursor else {})
            sizes.append(len(response.content))
            page = result_of(response)
            names += [item.get("name") for item in page[field]]
            cursor = page.get("nextCursor")
            if not cursor:
                return names, sizes

    tool_names, tool_sizes = walk("tools/list", "tools")
    resource_names, resource_sizes = walk("resources/list", "resources")

    assert tool_names == [tool.name for tool in TOOLS] and len(tool_sizes) > 1
    assert len(resource_names) == len(set(resource_names)) == 41 and len(resource_sizes) > 1
    assert max(tool_sizes + resource_sizes) <= LIMIT
    assert error_of(acme_mcp.modern("tools/list", {"cursor": "page:99"}), 400)["code"] == -32602


# --- what a call costs ------------------------------------------------------------------------------------------

def statements(captured: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in captured.captured_queries]


@pytest.mark.usefixtures("redis_caches")
def test_get_context_costs_the_statements_of_the_rest_read(committed, settings):
    """No more SQL than GET /api/v1/contexts/{key}, although every MCP call is audited and the REST API audits
    changes, not reads: the entry is written by the read's own statement. Routing, the key and the budget come
    from Redis in both; committed data, so no test transaction adds savepoints to the count."""
    tenant, _ = tenant_create(slug="acme", name="Acme", domain="acme.localhost")
    with tenant_context(tenant):
        services.context_create(key="notes/plan", content="The plan.")
    key = new_key(tenant)
    rest, mcp = Client(HTTP_HOST="acme.localhost", HTTP_AUTHORIZATION=f"Bearer {key}"), Mcp("acme.localhost", key)
    rest.get("/api/v1/contexts/notes/plan")
    mcp.tool("get_context", {"key": "notes/plan"})  # both warm
    audited = AuditLog.objects.filter(action="mcp.call").count()

    with CaptureQueriesContext(connection) as rest_read:
        assert rest.get("/api/v1/contexts/notes/plan").status_code == 200
    with CaptureQueriesContext(connection) as mcp_read:
        assert structured(mcp.tool("get_context", {"key": "notes/plan"}))["content"] == "The plan."

    assert len(mcp_read) <= len(rest_read) == 1
    (read,) = statements(mcp_read)
    assert read.startswith('WITH read AS (UPDATE "tenant_acme"."contexts"') and "INSERT INTO public" in read
    assert "set_config('synchronous_commit', 'off', true)" in read  # the entry commits as the count does
    assert AuditLog.objects.filter(action="mcp.call").count() == audited + 1
    settings.DURABLE_READ_AUDIT = True
    with CaptureQueriesContext(connection) as durable_read:
        mcp.tool("get_context", {"key": "notes/plan"})
    (durable,) = statements(durable_read)
    assert "synchronous_commit" not in durable  # waits for the disk, as a change's entry does
    with tenant_context(tenant):
        assert Context.objects.get(key="notes/plan").access_count == 5
    print(f"\nSQL statements per read: REST {len(rest_read)}, MCP {len(mcp_read)}")


def test_an_entry_written_by_the_read_matches_one_written_on_its_own(acme, acme_mcp):
    """get_context of the current version carries its entry in the read; of a past version it is written apart."""
    acme_mcp.tool("get_context", {"key": "notes/plan"})
    acme_mcp.tool("get_context", {"key": "notes/plan", "version": 1})
    acme_mcp.tool("get_context", {"key": "notes/gone"})

    carried, apart, missing = calls()
    columns = [field.attname for field in AuditLog._meta.concrete_fields
               if field.attname not in {"id", "occurred_at", "request_id", "details"}]
    assert [getattr(carried, name) for name in columns] == [getattr(apart, name) for name in columns]
    assert carried.request_id and carried.request_id != apart.request_id
    assert carried.details == apart.details
    assert (missing.outcome, missing.details["result"]) == ("failure", "tool_error:context-not-found")


def test_an_expired_context_is_one_failure_entry_and_no_read_counted(acme, acme_mcp):
    with tenant_context(acme):
        services.context_create(key="notes/old", content="Gone soon.",
                                expires_at=timezone.now() - dt.timedelta(hours=1))  # before the test transaction began

    acme_mcp.tool("get_context", {"key": "notes/old"})

    (entry,) = calls()
    assert (entry.outcome, entry.details["result"]) == ("failure", "tool_error:context-expired")
    with tenant_context(acme):
        assert Context.objects.get(key="notes/old").access_count == 0


def test_a_resource_read_carries_its_entry_too(acme, acme_mcp):
    with CaptureQueriesContext(connection) as captured:
        assert result_of(acme_mcp.modern("resources/read", {"uri": "context://notes/plan"}))

    (entry,) = calls()
    assert (entry.outcome, entry.details["uri"], entry.details["method"]) == ("success", "context://notes/plan",
                                                                             "resources/read")
    assert not any(sql.startswith('INSERT INTO "audit_logs"') for sql in statements(captured))
