"""The HTTP door of the MCP endpoint: POST /mcp on each tenant's host, and its protected-resource metadata.

Streamable HTTP without sessions or streams: each POST carries one JSON-RPC
message and gets one JSON answer (202 and no body for a notification). The
view checks what belongs to HTTP (method, Origin, media types) and hands the
message to protocol.serve, which every transport shares.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from mcp.server.errors import INVALID_REQUEST, McpError
from mcp.server.protocol import ROUTING_HEADERS, SERVER_INFO, Exchange, Reply, serve
from mcp.server.sizing import encoded
from tenants.models import ApiKey
from tenants.rate_limits import note_rate_limit

ENDPOINT_PATH = "/mcp"
METADATA_PATH = "/.well-known/oauth-protected-resource/mcp"


def resource_url(request: HttpRequest) -> str:
    """Return the canonical URI of this host's MCP endpoint (the resource an API key is good for)."""
    return request.build_absolute_uri(ENDPOINT_PATH)


def resource_metadata_url(request: HttpRequest) -> str:
    """Return the address of this host's RFC 9728 protected-resource metadata."""
    return request.build_absolute_uri(METADATA_PATH)


def origin_allowed(request: HttpRequest) -> bool:
    """Return whether the request's Origin, when it has one, may call the endpoint.

    Browsers send Origin; a page of another site (or a DNS-rebound name) must
    not reach a local or internal server through them. The tenant's own origin
    is allowed, and those settings.MCP_ALLOWED_ORIGINS names (the MCP
    Inspector's, in development).
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if origin in settings.MCP_ALLOWED_ORIGINS:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == request.get_host().lower()


def _accepts_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept")
    if not accept:
        return True
    kinds = {item.split(";", 1)[0].strip().lower() for item in accept.split(",")}
    return bool(kinds & {"application/json", "application/*", "*/*"})


def _plain_error(status: int, message: str, headers: dict[str, str] | None = None) -> HttpResponse:
    body = {"jsonrpc": "2.0", "id": None, "error": McpError(INVALID_REQUEST, message).error_object()}
    return JsonResponse(body, status=status, headers=headers)


def _duplicated_routing_header(request: HttpRequest) -> str | None:
    # WSGI folds a repeated header into one value joined by commas; a routing header never holds a comma.
    for name in ROUTING_HEADERS:
        if "," in request.headers.get(name, ""):
            return name
    return None


@csrf_exempt  # no cookie authenticates here: the key is in the Authorization header
def mcp_endpoint(request: HttpRequest) -> HttpResponse:
    """Answer one JSON-RPC message POSTed to /mcp."""
    if not origin_allowed(request):
        return _plain_error(403, "This Origin may not call the MCP endpoint.")
    if request.method != "POST":
        # No stream to open (GET) and no session to end (DELETE): this server answers each POST on its own.
        return _plain_error(405, "The MCP endpoint takes POST only: one JSON-RPC message per request.",
                            {"Allow": "POST"})
    if not _accepts_json(request):
        return _plain_error(406, "The MCP endpoint answers in application/json; accept it.")
    if request.content_type != "application/json":
        return _plain_error(415, "Send the JSON-RPC message as application/json.")
    try:
        body = request.body
    except RequestDataTooBig:
        return _plain_error(413, "The message is larger than any plan allows.")
    reply = serve(Exchange(
        body=body,
        tenant=request.tenant,  # type: ignore[attr-defined]  # the host's, set by the tenant middleware
        authorization=request.headers.get("Authorization"),
        headers={name.lower(): value for name, value in request.headers.items()},
        duplicated_header=_duplicated_routing_header(request),
        resource_metadata_url=resource_metadata_url(request),
        user_agent=request.headers.get("User-Agent", ""),
    ))
    if reply.rate_limit is not None:
        note_rate_limit(request, reply.rate_limit)
    return http_response(reply)


def http_response(reply: Reply) -> HttpResponse:
    """Turn a protocol reply into the HTTP response."""
    if reply.message is None:
        return HttpResponse(status=reply.status, headers=reply.headers)
    return HttpResponse(encoded(reply.message).encode(), status=reply.status, headers=reply.headers,
                        content_type="application/json")


def protected_resource_metadata(request: HttpRequest) -> JsonResponse:
    """Describe this host's MCP endpoint as an OAuth protected resource (RFC 9728).

    It names no authorization server: the endpoint takes this tenant's API keys,
    sent as bearer tokens in the Authorization header.
    """
    return JsonResponse({
        "resource": resource_url(request),
        "resource_name": f"{SERVER_INFO['title']} of {request.tenant.name}",  # type: ignore[attr-defined]
        "bearer_methods_supported": ["header"],
        "scopes_supported": list(ApiKey.Scope.values),
        "resource_documentation": request.build_absolute_uri("/api/docs/"),
    }, headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"})
