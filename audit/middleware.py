"""Give every request an id, and echo it back."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from audit.request_id import HEADER, request_id_from_header, start_request


class RequestIdMiddleware:
    """Accept a well-formed X-Request-ID or generate one; expose it to logs, audit entries and the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from_header(request.headers.get(HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        start_request(
            request_id=request_id,
            ip_address=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:1000],
        )
        response = self.get_response(request)
        response[HEADER] = request_id
        return response
