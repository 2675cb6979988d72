"""Errors as application/problem+json (RFC 9457): the one place their shape is decided."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse

PROBLEM_TYPE_BASE = "https://mcp.dev/problems/"
CONTENT_TYPE = "application/problem+json"


def problem_body(*, status: int, type_: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """Return a problem document; type_ is a stable slug such as 'tenant-suspended'."""
    return {"type": PROBLEM_TYPE_BASE + type_, "title": title, "status": status, "detail": detail, **extra}


def problem_response(request: HttpRequest, *, status: int, type_: str, title: str, detail: str, **extra: Any) -> JsonResponse:
    """Return a problem+json response carrying the request id."""
    body = problem_body(status=status, type_=type_, title=title, detail=detail, **extra)
    request_id = getattr(request, "request_id", "")
    if request_id:
        body["request_id"] = request_id
    return JsonResponse(body, status=status, content_type=CONTENT_TYPE)
