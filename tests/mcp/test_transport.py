"""Every transport rule of /mcp, over plain HTTP: methods, Origin, keys, both eras' envelopes, headers and codes."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from contexts.models import Context
from contexts.services import context_create
from tests.mcp.conftest import MODERN, Mcp, error_of, new_key, result_of, structured

SUPPORTED = ["2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"]


@pytest.fixture
def acme_mcp(acme, mcp_for) -> Mcp:
    with tenant_context(acme):
        context_create(key="notes/plan", title="Plan", content="The plan.")
    return mcp_for(acme)


def access_count(tenant, key: str) -> int:
    with tenant_context(tenant):
        return Context.objects.get(key=key).access_count


def keys_of(tenant) -> set[str]:
    with tenant_context(tenant):
        return set(Context.objects.values_list("key", flat=True))


# --- HTTP ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["get", "delete", "put"])
def test_only_post_is_served_other_methods_are_405(acme_mcp, method):
    response = getattr(acme_mcp.client, method)("/mcp", HTTP_AUTHORIZATION=f"Bearer {acme_mcp.key}")

    assert response.status_code == 405 and response["Allow"] == "POST"
    assert "Mcp-Session-Id" not in response


def test_an_origin_that_is_not_allowed_is_403_and_nothing_is_read(acme, acme_mcp):
    response = acme_mcp.post(acme_mcp.message("tools/call", {"name": "get_context", "arguments": {"key": "notes/plan"}}),
                             headers={"Origin": "http://evil.example", "MCP-Protocol-Version": "2025-11-25"})

    assert response.status_code == 403
    assert access_count(acme, "notes/plan") == 0


@pytest.mark.parametrize("origin", ["http://acme.localhost", "http://localhost:6274"])
def test_the_tenants_own_origin_and_configured_origins_are_allowed(acme_mcp, origin):
    response = acme_mcp.post(acme_mcp.message("tools/list"),
                             headers={"Origin": origin, "MCP-Protocol-Version": "2025-11-25"})

    assert response.status_code == 200


def test_a_body_that_is_not_json_media_is_415_and_an_accept_without_json_is_406(acme_mcp):
    assert acme_mcp.post(None, raw="{}", content_type="text/plain").status_code == 415
    assert acme_mcp.post(acme_mcp.message("tools/list"), headers={"Accept": "text/html"}).status_code == 406


# --- keys ---------------------------------------------------------------------------------------------------------

def test_no_key_is_401_with_a_challenge_naming_the_resource_metadata(acme):
    response = Mcp("acme.localhost", None).post({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})

    error = error_of(response, 401)
    assert error["code"] == -32001 and response.json()["id"] == 1
    assert response["WWW-Authenticate"] == (
        'Bearer resource_metadata="http://acme.localhost/.well-known/oauth-protected-resource/mcp"')


def test_an_unknown_key_is_401_invalid_token(acme):
    response = Mcp("acme.localhost", "mcpk_aaaaaaaaaaaa_" + "b" * 43).post(
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"})

    assert error_of(response, 401)["data"]["type"] == "credential-invalid"
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_a_key_of_another_tenant_is_401_and_reads_nothing(acme, globex):
    with tenant_context(acme):
        context_create(key="notes/plan", content="Acme's plan.")
    globex_on_acme = Mcp("acme.localhost", new_key(globex))

    response = globex_on_acme.tool("get_context", {"key": "notes/plan"})

    assert error_of(response, 401)["data"]["type"] == "credential-wrong-tenant"
    assert access_count(acme, "notes/plan") == 0


def test_each_tenant_host_serves_protected_resource_metadata_for_its_mcp_endpoint(acme):
    response = Client(HTTP_HOST="acme.localhost").get("/.well-known/oauth-protected-resource/mcp")

    assert response.status_code == 200
    document = response.json()
    assert document["resource"] == "http://acme.localhost/mcp"
    assert document["bearer_methods_supported"] == ["header"]
    assert document["scopes_supported"] == ["contexts:read", "contexts:write", "summaries:write"]


# --- the 2025 handshake -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("offered", "answered"), [
    ("2025-03-26", "2025-03-26"), ("2025-06-18", "2025-06-18"), ("2025-11-25", "2025-11-25"),
    ("2024-11-05", "2025-11-25"), ("2099-01-01", "2025-11-25"),
])
def test_initialize_answers_a_version_it_serves_and_counter_offers_one_it_does_not(acme_mcp, offered, answered):
    response = acme_mcp.post(acme_mcp.message("initialize", {
        "protocolVersion": offered, "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}))

    result = result_of(response)
    assert result["protocolVersion"] == answered
    assert result["capabilities"]["tools"] == {"listChanged": False}
    assert "Mcp-Session-Id" not in response and "resultType" not in result


def test_initialize_is_answered_after_a_successful_server_discover(acme_mcp):
    assert result_of(acme_mcp.modern("server/discover"))["supportedVersions"] == SUPPORTED

    response = acme_mcp.post(acme_mcp.message("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}}),
                             headers={"MCP-Protocol-Version": MODERN})

    assert result_of(response)["protocolVersion"] == "2025-11-25"


def test_notifications_are_accepted_with_202_and_no_body(acme_mcp):
    response = acme_mcp.post({"jsonrpc": "2.0", "method": "notifications/initialized"},
                             headers={"MCP-Protocol-Version": "2025-11-25"})

    assert response.status_code == 202 and response.content == b""


def test_a_batch_is_refused_and_none_of_its_messages_runs(acme, acme_mcp):
    batch = [acme_mcp.message("tools/call", {"name": "put_context", "arguments": {"key": "notes/batched"}}),
             acme_mcp.message("tools/list")]

    response = acme_mcp.post(batch, headers={"MCP-Protocol-Version": "2025-03-26"})

    assert error_of(response, 400)["code"] == -32600 and "batch" in response.json()["error"]["message"]
    assert "notes/batched" not in keys_of(acme)


def test_a_body_that_is_not_json_is_a_parse_error(acme_mcp):
    assert error_of(acme_mcp.post(None, raw="{not json"), 400)["code"] == -32700


def test_a_2025_request_without_a_version_header_is_taken_as_2025_03_26(acme_mcp):
    response = acme_mcp.post(acme_mcp.message("tools/list"))

    assert [tool["name"] for tool in result_of(response)["tools"]][0] == "search_contexts"


def test_a_2025_request_naming_an_unknown_version_is_400_naming_the_supported_ones(acme_mcp):
    error = error_of(acme_mcp.legacy("tools/list", version="1999-01-01"), 400)

    assert error["code"] == -32022 and error["data"]["supported"] == SUPPORTED


def test_an_unknown_method_of_the_2025_era_is_a_json_rpc_error(acme_mcp):
    assert error_of(acme_mcp.legacy("prompts/list"), 200)["code"] == -32601


# --- 2026-07-28 ---------------------------------------------------------------------------------------------------

def test_server_discover_names_versions_capabilities_and_caching_hints(acme_mcp):
    result = result_of(acme_mcp.modern("server/discover"))

    assert result["supportedVersions"] == SUPPORTED
    assert result["resultType"] == "complete" and result["cacheScope"] == "private" and result["ttlMs"] > 0
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "mcp-context-store"


@pytest.mark.parametrize("method", ["tools/list", "resources/list", "resources/templates/list", "tools/call",
                                    "resources/read"])
def test_every_2026_result_has_a_result_type_and_cacheable_ones_private_hints(acme_mcp, method):
    params = {"tools/call": {"name": "get_context", "arguments": {"key": "notes/plan"}},
              "resources/read": {"uri": "context://notes/plan"}}.get(method, {})

    result = result_of(acme_mcp.modern(method, params))

    assert result["resultType"] == "complete"
    if method == "tools/call":
        assert "ttlMs" not in result
    else:
        assert result["cacheScope"] == "private" and result["ttlMs"] >= 0


@pytest.mark.parametrize(("headers", "what"), [
    ({"MCP-Protocol-Version": None}, "MCP-Protocol-Version"),
    ({"MCP-Protocol-Version": "2025-11-25"}, "MCP-Protocol-Version"),
    ({"Mcp-Method": None}, "Mcp-Method"),
    ({"Mcp-Method": "tools/list"}, "Mcp-Method"),
    ({"Mcp-Name": None}, "Mcp-Name"),
    ({"Mcp-Name": "get_context"}, "Mcp-Name"),
])
def test_a_routing_header_missing_or_disagreeing_with_the_body_is_400_header_mismatch(acme, acme_mcp, headers,
                                                                                      what):
    params = {"name": "put_context", "arguments": {"key": "notes/mismatched", "content": "x"}}

    error = error_of(acme_mcp.modern("tools/call", params, headers=headers), 400)

    assert error["code"] == -32020 and what in error["message"]
    assert "notes/mismatched" not in keys_of(acme)


def test_mcp_name_may_be_sent_base64_encoded(acme_mcp):
    encoded = "=?base64?" + base64.b64encode(b"context://notes/plan").decode() + "?="

    response = acme_mcp.modern("resources/read", {"uri": "context://notes/plan"}, headers={"Mcp-Name": encoded})

    assert result_of(response)["contents"][0]["text"] == "The plan."


def test_an_unsupported_version_is_400_unsupported_naming_the_supported_ones(acme_mcp):
    meta = {"io.modelcontextprotocol/protocolVersion": "2099-01-01",
            "io.modelcontextprotocol/clientCapabilities": {}}

    error = error_of(acme_mcp.modern("tools/list", meta=meta, headers={"MCP-Protocol-Version": "2099-01-01"}), 400)

    assert error["code"] == -32022
    assert error["data"] == {"supported": SUPPORTED, "requested": "2099-01-01"}


def test_a_2026_request_without_its_meta_is_400_invalid_params(acme_mcp):
    response = acme_mcp.post(acme_mcp.message("tools/list", {}),
                             headers={"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"})

    assert error_of(response, 400)["code"] == -32602


def test_an_unknown_method_is_404_method_not_found(acme_mcp):
    assert error_of(acme_mcp.modern("prompts/list"), 404)["code"] == -32601
    assert error_of(acme_mcp.modern("ping"), 404)["code"] == -32601  # removed in 2026-07-28


def test_a_malformed_tool_call_is_a_json_rpc_error_and_changes_nothing(acme, acme_mcp):
    unknown_tool = acme_mcp.tool("drop_everything", {})
    unknown_argument = acme_mcp.tool("put_context", {"key": "notes/x", "content": "x", "tenant": "globex"})
    wrong_type = acme_mcp.tool("put_context", {"key": "notes/x", "content": 5})

    assert error_of(unknown_tool, 400)["code"] == -32602
    assert "tenant" in error_of(unknown_argument, 400)["message"]
    assert "content" in error_of(wrong_type, 400)["message"]
    assert "notes/x" not in keys_of(acme)


def test_a_request_id_must_be_a_string_or_an_integer(acme_mcp):
    response = acme_mcp.post({"jsonrpc": "2.0", "id": None, "method": "tools/list"})

    assert error_of(response, 400)["code"] == -32600


def test_both_eras_answer_the_same_tool_call_alike(acme_mcp):
    modern = structured(acme_mcp.tool("get_context", {"key": "notes/plan"}))
    legacy = structured(acme_mcp.tool("get_context", {"key": "notes/plan"}, era="legacy"))

    assert (modern["content"], modern["version"]) == (legacy["content"], legacy["version"]) == ("The plan.", 1)
    assert json.loads(json.dumps(legacy)).keys() == modern.keys()
