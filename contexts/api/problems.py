"""Every API error as application/problem+json: the one exception handler of the REST API."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from contexts.errors import ContextError
from mcp.problems import CONTENT_TYPE, PROBLEM_TYPES, problem_body
from tenants.errors import AccessRefused, CredentialMissing

# DRF's own exceptions, by class, as our problem types.
DRF_PROBLEMS: list[tuple[type[Exception], str]] = [
    (exceptions.ParseError, "malformed-json"),
    (exceptions.UnsupportedMediaType, "unsupported-media-type"),
    (exceptions.NotAcceptable, "not-acceptable"),
    (exceptions.MethodNotAllowed, "method-not-allowed"),
    (exceptions.NotFound, "not-found"),
    (exceptions.Throttled, "rate-limited"),
    (exceptions.NotAuthenticated, "credential-missing"),
    (exceptions.AuthenticationFailed, "credential-invalid"),
    (exceptions.PermissionDenied, "insufficient-scope"),
    (exceptions.ValidationError, "invalid-request"),
]


def problem(status: int, problem_type: str, detail: str, *, headers: dict[str, str] | None = None,
            **extra: Any) -> Response:
    """A problem+json response of one of the registered types."""
    title = PROBLEM_TYPES[problem_type].title
    body = problem_body(status=status, type_=problem_type, title=title, detail=detail, **extra)
    response = Response(body, status=status, headers=headers, content_type=CONTENT_TYPE)
    return response


def field_errors(detail: Any, location: str = "") -> list[dict[str, str]]:
    """Flatten DRF's nested validation errors into [{field, message}]."""
    if isinstance(detail, dict):
        return [error for key, value in detail.items()
                for error in field_errors(value, f"{location}.{key}" if location else str(key))]
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [{"field": location or "body", "message": str(item)} for item in detail]
        return [error for index, item in enumerate(detail) for error in field_errors(item, f"{location}[{index}]")]
    return [{"field": location or "body", "message": str(detail)}]


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Turn a domain refusal or a DRF error into a problem document; anything else stays a 500."""
    request = context.get("request")
    request_id = getattr(getattr(request, "_request", None), "request_id", "") if request else ""
    extra: dict[str, Any] = {"request_id": request_id} if request_id else {}
    headers: dict[str, str] = {}
    if isinstance(exc, AccessRefused):
        if isinstance(exc, CredentialMissing):
            headers["WWW-Authenticate"] = 'Bearer realm="api"'  # no error code when no credential came (RFC 6750)
        elif exc.status == 401:
            headers["WWW-Authenticate"] = f'Bearer realm="api", error="invalid_token", error_description="{exc}"'
        else:
            headers["WWW-Authenticate"] = f'Bearer realm="api", error="insufficient_scope", scope="{exc.scope}"'  # type: ignore[attr-defined]
        return problem(exc.status, exc.problem_type, str(exc), headers=headers, **extra)
    if isinstance(exc, ContextError):
        if exc.field:
            extra["errors"] = [{"field": exc.field, "message": str(exc)}]
        return problem(exc.status, exc.problem_type, str(exc), **extra, **exc.extra)
    if isinstance(exc, RequestDataTooBig):
        return problem(413, "content-too-large", "The request body is larger than any plan allows.", **extra)
    if isinstance(exc, Http404):
        return problem(404, "not-found", "Nothing is served at this path.", **extra)
    for drf_class, problem_type in DRF_PROBLEMS:
        if isinstance(exc, drf_class):
            assert isinstance(exc, exceptions.APIException)
            if isinstance(exc, exceptions.ValidationError):
                extra["errors"] = field_errors(exc.detail)
                detail = "; ".join(f"{error['field']}: {error['message']}" for error in extra["errors"])
            else:
                detail = str(exc.detail)
            wait = getattr(exc, "wait", None)  # Throttled's, which djangorestframework-stubs leave out
            if isinstance(exc, exceptions.Throttled) and wait is not None:
                headers["Retry-After"] = str(wait)  # whole seconds already (DRF rounds up), as RateLimit's t
            if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
                headers["WWW-Authenticate"] = 'Bearer realm="api"'
            if isinstance(exc, exceptions.MethodNotAllowed) and request is not None:
                view = context.get("view")
                if view is not None:
                    headers["Allow"] = ", ".join(view.allowed_methods)
            return problem(exc.status_code, problem_type, detail, headers=headers, **extra)
    return None
