"""The MCP protocol on one page: both eras, the header rules, the methods, error codes and caching hints.

Every message, from the HTTP view or the stdio command, goes through serve():
authenticate the key on the host's tenant (tenants.access), spend one request
of the key's and the tenant's budget (tenants.rate_limits, shared with the REST
API), decide the era, check the envelope and headers, dispatch, shape the
result, and audit the call.

Eras (../shared/research/mcp-and-api.md):
- 2026-07-28 is stateless: each request carries its version, client and
  capabilities in params._meta, mirrored in the MCP-Protocol-Version,
  Mcp-Method and Mcp-Name headers (a mismatch is -32020); server/discover
  replaces initialize; every result has resultType, and cacheable ones ttlMs
  and cacheScope ("private": tenant data).
- 2025-03-26, 2025-06-18 and 2025-11-25 shake hands with initialize (a version
  we do not serve gets a counter-offer) and notifications/initialized; later
  requests name their version in MCP-Protocol-Version (2025-03-26 if absent).
  No session is kept: no Mcp-Session-Id, and each request stands alone.
A request is modern when its _meta carries a protocol version (or it is
server/discover), legacy otherwise; initialize is answered whatever came
before it, since some clients send it after a successful server/discover.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from audit.request_id import note as note_request
from audit.services import audit_carried_by_read, audit_record
from contexts.api.auth import KeyHolder
from mcp.server import resources, tools
from mcp.server.errors import (
    HEADER_MISMATCH,
    INSUFFICIENT_SCOPE,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    MODERN_HTTP_STATUS,
    PARSE_ERROR,
    RATE_LIMITED,
    TRANSPORT_ERRORS,
    UNAUTHORIZED,
    UNSUPPORTED_PROTOCOL_VERSION,
    McpError,
    invalid_params,
)
from mcp.server.sizing import max_result_bytes
from tenants.access import api_key_authenticate, require_scope
from tenants.api_keys import api_key_touch
from tenants.errors import AccessRefused, CredentialMissing, ScopeMissing
from tenants.models import ApiKey, Tenant
from tenants.rate_limits import RateLimitStanding, rate_limit_spend, record_refusal

logger = logging.getLogger(__name__)

AUDIT_ACTION = "mcp.call"

MODERN_VERSIONS = ("2026-07-28",)
HANDSHAKE_VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
SUPPORTED_VERSIONS = (*HANDSHAKE_VERSIONS, *MODERN_VERSIONS)
LATEST_HANDSHAKE_VERSION = HANDSHAKE_VERSIONS[-1]
# A 2025 client that sends no MCP-Protocol-Version speaks 2025-03-26 (the 2025-06-18 transport rule).
ASSUMED_HANDSHAKE_VERSION = "2025-03-26"
MODERN, LEGACY = "2026", "2025"

PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion"
CLIENT_INFO_META = "io.modelcontextprotocol/clientInfo"
CLIENT_CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities"
SERVER_INFO_META = "io.modelcontextprotocol/serverInfo"
VERSION_HEADER, METHOD_HEADER, NAME_HEADER = "mcp-protocol-version", "mcp-method", "mcp-name"
ROUTING_HEADERS = (VERSION_HEADER, METHOD_HEADER, NAME_HEADER)
# The params field each of these methods names its target with, mirrored in Mcp-Name.
NAME_BEARING = {"tools/call": "name", "resources/read": "uri", "prompts/get": "name"}

SERVER_INFO = {"name": "mcp-context-store", "title": "Context store", "version": "1.0"}
# No subscriptions or list changes: both need a long-lived stream, and this endpoint answers each POST with JSON.
CAPABILITIES = {"tools": {"listChanged": False}, "resources": {"subscribe": False, "listChanged": False}}
INSTRUCTIONS = (
    "A store of this tenant's contexts: texts with a key, title, tags and metadata, versioned. Find them with "
    "search_contexts or recent_contexts, read one with get_context, and change it with put_context passing the "
    "version you read as expected_version: a stale version is refused with the current content, so merge and "
    "retry. Every change is kept as a version (list_versions, diff_versions, restore_version). Contexts are also "
    "resources: context://{key}, context://{key}/versions/{n}, context://{key}/summary."
)
# How long a client may keep a listing (ms): the tools and templates change only with a deploy.
LISTING_TTL_MS = 300_000
CACHEABLE_TTL_MS = {"server/discover": LISTING_TTL_MS, "tools/list": LISTING_TTL_MS,
                    "resources/templates/list": LISTING_TTL_MS, "resources/list": 0, "resources/read": 0}


@dataclass(frozen=True)
class Exchange:
    """One message as a transport received it, with what the transport knows of its sender."""

    body: bytes
    tenant: Tenant  # from the host (HTTP) or --tenant (stdio); never from the message
    authorization: str | None
    headers: Mapping[str, str] | None = None  # lower-case names; None over stdio, which has none to check
    duplicated_header: str | None = None  # a routing header sent twice (only the raw request shows it)
    resource_metadata_url: str | None = None  # for WWW-Authenticate on HTTP
    user_agent: str = ""
    transport: str = "http"


@dataclass
class Reply:
    """What to send back: an HTTP status (a stdio transport ignores it), a message or none, headers."""

    status: int
    message: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)
    rate_limit: RateLimitStanding | None = None


@dataclass(frozen=True)
class Request:
    """A JSON-RPC request once its era and version are known."""

    id: Any
    method: str
    params: dict[str, Any]
    era: str
    version: str
    client: dict[str, Any]


def _error(request_id: Any, error: McpError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.error_object()}


def _decode(body: bytes) -> tuple[Any, bool]:
    """Return the decoded message and whether it was valid JSON."""
    try:
        return json.loads(body), True
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python parses
        return None, False


def serve(exchange: Exchange) -> Reply:
    """Answer one message: authenticate, spend the budget, then classify, dispatch, shape and audit it."""
    message, is_json = _decode(exchange.body)
    request_id = message.get("id") if isinstance(message, dict) else None
    try:
        api_key = api_key_authenticate(authorization=exchange.authorization, host_tenant=exchange.tenant)
    except AccessRefused as refusal:
        flood = record_refusal(action="mcp.access_refused", tenant=exchange.tenant, details={
            "reason": refusal.problem_type, "transport": exchange.transport,
            "method": message.get("method") if isinstance(message, dict) else None})
        if flood is not None:
            error = McpError(RATE_LIMITED, "Too many requests with a refused API key from this address; retry "
                                           "later with a valid key.", {"retryAfter": flood.reset})
            return Reply(429, _error(request_id, error), {"Retry-After": str(flood.reset)})
        return _unauthorized(refusal, request_id, exchange)
    note_request(api_key_id=api_key.pk, api_key_label=str(KeyHolder(api_key)))
    api_key_touch(api_key)
    standing = rate_limit_spend(api_key=api_key, tenant=exchange.tenant)
    refused_by = standing.refused_by
    if refused_by is not None:
        # Not audited, as the REST API's 429s are not: a flood must not turn into as many writes.
        logger.warning("MCP request refused: %s", standing.refusal_detail())
        error = McpError(RATE_LIMITED, standing.refusal_detail(), {"retryAfter": refused_by.reset})
        return Reply(429, _error(request_id, error), {"Retry-After": str(refused_by.reset)}, standing)
    reply = _serve_message(message, is_json, exchange, api_key)
    reply.rate_limit = standing
    return reply


def _unauthorized(refusal: AccessRefused, request_id: Any, exchange: Exchange) -> Reply:
    challenge = []
    if exchange.resource_metadata_url:
        challenge.append(f'resource_metadata="{exchange.resource_metadata_url}"')
    if not isinstance(refusal, CredentialMissing):  # RFC 6750: no error code when no credential came
        challenge.append('error="invalid_token"')
        challenge.append(f'error_description="{refusal}"')
    error = McpError(UNAUTHORIZED, str(refusal), {"type": refusal.problem_type})
    return Reply(refusal.status, _error(request_id, error), {"WWW-Authenticate": "Bearer " + ", ".join(challenge)})


def _serve_message(message: Any, is_json: bool, exchange: Exchange, api_key: ApiKey) -> Reply:
    if not is_json:
        return Reply(400, _error(None, McpError(PARSE_ERROR, "Parse error: the body is not JSON.")))
    if isinstance(message, list):
        return Reply(400, _error(None, McpError(
            INVALID_REQUEST, "JSON-RPC batches are not supported: send one message per request.")))
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or not isinstance(message.get("method"), str):
        return Reply(400, _error(None, McpError(
            INVALID_REQUEST, "Send one JSON-RPC 2.0 request or notification: an object with jsonrpc \"2.0\" and "
                             "a method (this server sends no requests, so it takes no responses).")))
    if "id" not in message:
        return _notification(message, exchange)
    request_id = message["id"]
    if isinstance(request_id, bool) or not isinstance(request_id, str | int):
        return Reply(400, _error(None, McpError(INVALID_REQUEST, "A request id is a string or an integer.")))
    if not isinstance(message.get("params", {}), dict):
        return Reply(400, _error(request_id, McpError(INVALID_REQUEST, "params must be an object.")))
    try:
        request = _classify(message, exchange)
    except McpError as refusal:  # the envelope or the headers: a transport error in either era
        _audit_call(message, exchange, client=_client_from_meta(message), outcome="failure",
                    result=f"error:{refusal.code}")
        return Reply(400, _error(request_id, refusal))
    return _answer(request, exchange, api_key)


def _notification(message: dict[str, Any], exchange: Exchange) -> Reply:
    """Acknowledge a notification (notifications/initialized, cancelled …): nothing to do, no state to keep."""
    version = exchange.headers.get(VERSION_HEADER) if exchange.headers is not None else None
    if version is not None and version not in SUPPORTED_VERSIONS:
        return Reply(400, _error(None, _unsupported(version)))
    return Reply(202, None)


def _unsupported(requested: Any) -> McpError:
    return McpError(UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version",
                    {"supported": list(SUPPORTED_VERSIONS), "requested": requested})


def decode_header_value(value: str | None) -> str | None:
    """Return a header's value, decoding the =?base64?…?= form; None when absent or malformed."""
    if value is None or not (value.startswith("=?base64?") and value.endswith("?=")):
        return value
    payload = value[len("=?base64?"): -2]
    try:
        decoded = base64.b64decode(payload, validate=True)
        if base64.b64encode(decoded).decode("ascii") != payload:
            return None  # not the canonical form a client writes
        return decoded.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _client_from_meta(message: dict[str, Any]) -> dict[str, Any]:
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    info = meta.get(CLIENT_INFO_META) if isinstance(meta, dict) else None
    if message.get("method") == "initialize" and isinstance(params, dict):
        info = params.get("clientInfo")
    if not isinstance(info, dict):
        return {}
    return {"name": str(info.get("name", ""))[:100], "version": str(info.get("version", ""))[:50]}


def _client_from_user_agent(user_agent: str) -> dict[str, Any]:
    # A 2025 client names itself in initialize only; later stateless requests have its User-Agent to go by.
    product = user_agent.split(" ", 1)[0]
    name, _, version = product.partition("/")
    return {"name": name[:100], "version": version[:50], "from": "user-agent"} if name else {}


def _classify(message: dict[str, Any], exchange: Exchange) -> Request:
    """Decide the request's era and version; check its envelope and headers (raise McpError, HTTP 400)."""
    method, params = message["method"], message.get("params") or {}
    meta = params.get("_meta")
    headers = exchange.headers
    if method == "initialize":
        requested = params.get("protocolVersion")
        if not isinstance(requested, str):
            raise invalid_params("initialize needs params.protocolVersion, a string.")
        # A version we do not serve gets a counter-offer, never a refusal: the client decides.
        version = requested if requested in HANDSHAKE_VERSIONS else LATEST_HANDSHAKE_VERSION
        return Request(message["id"], method, params, LEGACY, version, _client_from_meta(message))
    header_version = headers.get(VERSION_HEADER) if headers is not None else None
    modern = (isinstance(meta, dict) and PROTOCOL_VERSION_META in meta) or method == "server/discover" \
        or header_version in MODERN_VERSIONS
    if not modern:
        version = header_version if header_version is not None else ASSUMED_HANDSHAKE_VERSION
        if version not in HANDSHAKE_VERSIONS:
            raise _unsupported(version)
        return Request(message["id"], method, params, LEGACY, version, _client_from_user_agent(exchange.user_agent))
    if not isinstance(meta, dict) or any(key not in meta for key in (PROTOCOL_VERSION_META, CLIENT_CAPABILITIES_META)):
        raise invalid_params(f"params._meta must carry {PROTOCOL_VERSION_META!r} and {CLIENT_CAPABILITIES_META!r} "
                             "(protocol 2026-07-28).")
    version = meta[PROTOCOL_VERSION_META]
    if headers is not None:
        _check_headers(method, params, version, headers, exchange.duplicated_header)
    if not isinstance(version, str):
        raise invalid_params("The protocol version in params._meta must be a string.")
    if version not in MODERN_VERSIONS:
        raise _unsupported(version)
    return Request(message["id"], method, params, MODERN, version, _client_from_meta(message))


def _check_headers(method: str, params: dict[str, Any], version: Any, headers: Mapping[str, str],
                   duplicated: str | None) -> None:
    """Refuse a 2026-07-28 request whose routing headers disagree with its body (-32020)."""
    if duplicated is not None:
        raise McpError(HEADER_MISMATCH, f"The {duplicated} header appears more than once.")
    if headers.get(VERSION_HEADER) != version:
        raise McpError(HEADER_MISMATCH, "The MCP-Protocol-Version header does not match params._meta's version.")
    if headers.get(METHOD_HEADER) != method:
        raise McpError(HEADER_MISMATCH, "The Mcp-Method header does not match the request's method.")
    name_field = NAME_BEARING.get(method)
    if name_field is not None and decode_header_value(headers.get(NAME_HEADER)) != params.get(name_field):
        raise McpError(HEADER_MISMATCH, f"The Mcp-Name header does not match params.{name_field}.")


# --- methods ------------------------------------------------------------------------------------------------------

def _initialize(request: Request, api_key: ApiKey) -> dict[str, Any]:
    return {"protocolVersion": request.version, "capabilities": CAPABILITIES, "serverInfo": SERVER_INFO,
            "instructions": INSTRUCTIONS}


def _discover(request: Request, api_key: ApiKey) -> dict[str, Any]:
    return {"supportedVersions": list(SUPPORTED_VERSIONS), "capabilities": CAPABILITIES,
            "instructions": INSTRUCTIONS}


def _ping(request: Request, api_key: ApiKey) -> dict[str, Any]:
    return {}


def _no_cursor(request: Request) -> None:
    # One page holds every template, so no cursor was ever given out.
    if request.params.get("cursor") is not None:
        raise invalid_params("Invalid cursor: this list has a single page.", cursor=request.params["cursor"])


def _tools_list(request: Request, api_key: ApiKey) -> dict[str, Any]:
    return tools.tools_page(api_key, request.params.get("cursor"), limit=max_result_bytes())


def _tools_call(request: Request, api_key: ApiKey) -> dict[str, Any]:
    return tools.call_tool(api_key, request.params.get("name"), request.params.get("arguments"),
                           limit=max_result_bytes())


def _resources_list(request: Request, api_key: ApiKey) -> dict[str, Any]:
    require_scope(api_key, tools.READ)
    return resources.resources_list(request.params.get("cursor"), limit=max_result_bytes())


def _templates_list(request: Request, api_key: ApiKey) -> dict[str, Any]:
    _no_cursor(request)
    return resources.templates_list()


def _resources_read(request: Request, api_key: ApiKey) -> dict[str, Any]:
    require_scope(api_key, tools.READ)
    contents, ttl_ms = resources.read_resource(request.params.get("uri"))
    return {**contents, "ttlMs": ttl_ms}


Handler = Callable[[Request, ApiKey], dict[str, Any]]
BOTH_ERAS = (MODERN, LEGACY)
METHODS: dict[str, tuple[tuple[str, ...], Handler]] = {
    "initialize": ((LEGACY,), _initialize),
    "ping": ((LEGACY,), _ping),  # removed in 2026-07-28
    "server/discover": ((MODERN,), _discover),
    "tools/list": (BOTH_ERAS, _tools_list),
    "tools/call": (BOTH_ERAS, _tools_call),
    "resources/list": (BOTH_ERAS, _resources_list),
    "resources/templates/list": (BOTH_ERAS, _templates_list),
    "resources/read": (BOTH_ERAS, _resources_read),
}


def _shaped(request: Request, result: dict[str, Any]) -> dict[str, Any]:
    """Add what 2026-07-28 requires of a result: resultType, caching hints, the server's name."""
    ttl_ms = result.pop("ttlMs", None)
    if request.era != MODERN:
        return result
    shaped = {**result, "resultType": "complete", "_meta": {SERVER_INFO_META: SERVER_INFO}}
    if request.method in CACHEABLE_TTL_MS:
        shaped["ttlMs"] = CACHEABLE_TTL_MS[request.method] if ttl_ms is None else ttl_ms
        shaped["cacheScope"] = "private"  # tenant data, and listings that depend on the key's scopes
    return shaped


def _status(code: int, era: str) -> int:
    if era == MODERN:
        return MODERN_HTTP_STATUS.get(code, 200)
    return 400 if code in TRANSPORT_ERRORS else 200


def _answer(request: Request, exchange: Exchange, api_key: ApiKey) -> Reply:
    """Dispatch a classified request; audit it whatever happens."""
    eras, handler = METHODS.get(request.method, ((), None))
    # A call that reads a context writes its success entry in the read's own statement (audit.services).
    with audit_carried_by_read(action=AUDIT_ACTION, tenant=exchange.tenant,
                               details=_request_details(request, exchange, result="ok")) as carried:
        try:
            if handler is None or request.era not in eras:
                raise McpError(METHOD_NOT_FOUND, f"Method not found: {request.method}", {"method": request.method})
            result = _shaped(request, handler(request, api_key))
        except McpError as refusal:
            _audit_request(request, exchange, outcome="failure", result=f"error:{refusal.code}")
            return Reply(_status(refusal.code, request.era), _error(request.id, refusal))
        except ScopeMissing as refusal:
            _audit_request(request, exchange, outcome="denied", result="insufficient_scope")
            challenge = f'Bearer error="insufficient_scope", scope="{refusal.scope}"'
            if exchange.resource_metadata_url:
                challenge += f', resource_metadata="{exchange.resource_metadata_url}"'
            error = McpError(INSUFFICIENT_SCOPE, str(refusal), {"type": refusal.problem_type, "scope": refusal.scope})
            return Reply(403, _error(request.id, error), {"WWW-Authenticate": challenge})
        except Exception:
            logger.exception("MCP %s failed", request.method)
            _audit_request(request, exchange, outcome="failure", result=f"error:{INTERNAL_ERROR}")
            return Reply(500 if request.era == MODERN else 200,
                         _error(request.id, McpError(INTERNAL_ERROR, "Internal error; the request id names it in "
                                                                     "our logs.")))
    is_error = bool(result.get("isError"))
    if is_error:  # an error after a read that wrote its success entry is recorded too: the later entry is the call's
        error_type = result["structuredContent"]["error"]["type"]
        _audit_request(request, exchange, outcome="failure", result=f"tool_error:{error_type}")
    elif not carried.written:
        _audit_request(request, exchange, outcome="success", result="ok")
    return Reply(200, {"jsonrpc": "2.0", "id": request.id, "result": result})


def _request_details(request: Request, exchange: Exchange, *, result: str) -> dict[str, Any]:
    details: dict[str, Any] = {"method": request.method, "protocol_version": request.version,
                               "client": request.client, "transport": exchange.transport, "result": result}
    if request.method == "tools/call":
        details["tool"] = request.params.get("name")
        arguments = request.params.get("arguments")
        if isinstance(arguments, dict) and isinstance(arguments.get("key"), str):
            details["key"] = arguments["key"][:255]
    elif request.method == "resources/read":
        details["uri"] = str(request.params.get("uri"))[:1024]
    return details


def _audit_request(request: Request, exchange: Exchange, *, outcome: str, result: str) -> None:
    _record(exchange, outcome, _request_details(request, exchange, result=result))


def _audit_call(message: dict[str, Any], exchange: Exchange, *, client: dict[str, Any], outcome: str,
                result: str) -> None:
    """Audit a request refused before its era was known."""
    _record(exchange, outcome, {"method": message.get("method"), "client": client, "transport": exchange.transport,
                                "result": result})


def _record(exchange: Exchange, outcome: str, details: dict[str, Any]) -> None:
    # The actor (the API key), the request id, IP and user agent come from the request's context.
    audit_record(action=AUDIT_ACTION, tenant=exchange.tenant, outcome=outcome, details=details)
