"""Errors as application/problem+json (RFC 9457): the one place their shape and their types are decided.

Each problem type is a stable slug with a page of its own that the project
serves at /problems/<slug> on every host, so a type URI always resolves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse

CONTENT_TYPE = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    status: int
    title: str
    description: str  # what it means and what to do, for the type's page


PROBLEM_TYPES: dict[str, ProblemType] = {
    "invalid-request": ProblemType(400, "Invalid request", "A field, parameter or header has a value the API does not accept. `errors` lists each one with its location and a message."),
    "malformed-json": ProblemType(400, "Malformed JSON", "The request body is not valid JSON. Send a JSON object with Content-Type: application/json."),
    "credential-missing": ProblemType(401, "API key required", "Send an API key of this tenant as `Authorization: Bearer <key>`. Keys are never accepted in a query string."),
    "credential-invalid": ProblemType(401, "API key not valid", "The key is malformed or unknown. Check that it was copied whole; keys are shown once, when they are created."),
    "credential-revoked": ProblemType(401, "API key revoked", "The key was revoked. Ask the tenant's admin for a new one."),
    "credential-expired": ProblemType(401, "API key expired", "The key has passed its expiry. Ask the tenant's admin for a new one."),
    "credential-wrong-tenant": ProblemType(401, "API key of another tenant", "A key works only on its own tenant's host, `<slug>.<base domain>`. Use it there, or use a key of this tenant."),
    "insufficient-scope": ProblemType(403, "Scope missing", "The key lacks the scope this operation needs (`contexts:read`, `contexts:write` or `summaries:write`); the detail names it."),
    "tenant-suspended": ProblemType(403, "Tenant suspended", "The tenant is suspended: every request to its host is refused until it is activated again."),
    "quota-exceeded": ProblemType(403, "Plan quota reached", "The tenant has reached its plan's number of contexts or total size. Delete or archive contexts, or move to a larger plan."),
    "not-found": ProblemType(404, "Not found", "Nothing is served at this path."),
    "context-not-found": ProblemType(404, "Context not found", "This tenant has no context with that key."),
    "version-not-found": ProblemType(404, "Version not found", "The context has no such version; list its versions to see which exist."),
    "summary-not-found": ProblemType(404, "Summary not found", "The context has no summary with that id."),
    "method-not-allowed": ProblemType(405, "Method not allowed", "The path does not accept this HTTP method; the Allow header lists the ones it does."),
    "not-acceptable": ProblemType(406, "Not acceptable", "The API answers in application/json (and problems in application/problem+json)."),
    "conflict": ProblemType(409, "Conflict", "The request conflicts with the resource's state; the detail says how."),
    "context-expired": ProblemType(410, "Context expired", "The context passed its expiry time. It is kept until it is deleted, but no longer served; list with include_expired=true to see it."),
    "precondition-failed": ProblemType(412, "Precondition failed", "The context changed since you read it (If-Match names an older version), or it exists although If-None-Match: * asked to create it. Read it again, then retry with its current ETag."),
    "content-too-large": ProblemType(413, "Content too large", "A value is larger than the tenant's plan allows; the detail names the limit."),
    "unsupported-media-type": ProblemType(415, "Unsupported media type", "Send the body as application/json."),
    "precondition-required": ProblemType(428, "Precondition required", "Changes need a precondition so that no update is lost: If-Match: \"<etag>\" to change a context you read, If-None-Match: * to create one."),
    "rate-limited": ProblemType(429, "Too many requests", "The key or the tenant used its request budget for the window. Retry after Retry-After seconds; RateLimit and RateLimit-Policy say where you stand."),
    "server-error": ProblemType(500, "Server error", "Something failed on our side. The request id identifies it in our logs."),
}


def problem_type_uri(slug: str) -> str:
    """Return the URI of a problem type: its page on the public host."""
    from tenants.links import site_url

    return site_url(settings.BASE_DOMAIN, f"/problems/{slug}")


def problem_body(*, status: int, type_: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """Return a problem document; type_ is a stable slug such as 'tenant-suspended'."""
    return {"type": problem_type_uri(type_), "title": title, "status": status, "detail": detail, **extra}


# What a client may prefer to a problem document: a browser (the admin of a suspended tenant, say) gets a page.
_FORMATS = [CONTENT_TYPE, "application/json", "text/html"]


def problem_response(request: HttpRequest, *, status: int, type_: str, title: str, detail: str,
                     **extra: Any) -> HttpResponse:
    """Return a problem+json response carrying the request id; a page saying the same to a browser."""
    body = problem_body(status=status, type_=type_, title=title, detail=detail, **extra)
    request_id = getattr(request, "request_id", "")
    if request_id:
        body["request_id"] = request_id
    # Without an Accept header, or with */*, the first of _FORMATS: API clients get the document.
    if request.get_preferred_type(_FORMATS) == "text/html":
        return TemplateResponse(request, "problems/response.html", {"problem": body, "slug": type_},
                                status=status).render()
    return JsonResponse(body, status=status, content_type=CONTENT_TYPE)


def problem_page(request: HttpRequest, slug: str) -> HttpResponse:
    """Describe one problem type: what its type URI points at."""
    problem = PROBLEM_TYPES.get(slug)
    if problem is None:
        raise Http404(f"No problem type {slug!r}.")
    return TemplateResponse(request, "problems/problem.html", {"slug": slug, "problem": problem,
                                                                "problems": sorted(PROBLEM_TYPES.items())})
