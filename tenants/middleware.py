"""Route each request to its tenant's schema, keep users on their own host, and send the rate-limit headers."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django_tenants.middleware.main import TenantMainMiddleware

from audit.request_id import note as note_request
from mcp.problems import problem_response
from tenants.access import user_belongs_to_host
from tenants.api_keys import KEY_PATTERN
from tenants.cache import forget_read_ahead, tenant_for_host
from tenants.models import Domain, Tenant
from tenants.rate_limits import noted_rate_limit

# The public id of the API key the request being routed presents, for get_tenant (which is not handed the request).
_presented_key_id: ContextVar[str | None] = ContextVar("presented_key_id", default=None)


def presented_key_id(authorization: str | None) -> str | None:
    """Return the public id of a well-formed key in an Authorization header, or None.

    Only a hint, for reading the key's cache entries with the host's: whether
    the key is accepted is for tenants.access alone, which parses the header itself.
    """
    scheme, _, raw_key = (authorization or "").strip().partition(" ")
    match = KEY_PATTERN.fullmatch(raw_key.strip()) if scheme.lower() == "bearer" else None
    return match.group(1) if match else None


class TenantMiddleware(TenantMainMiddleware):
    """django-tenants' host routing, with a plain 404 for unknown hosts and a 403 for suspended tenants."""

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self._acall_then_forget(request)
        try:
            return super().__call__(request)
        finally:
            forget_read_ahead()  # what routing read ahead for this request never serves another

    async def _acall_then_forget(self, request: HttpRequest) -> HttpResponse:
        try:
            return await super().__acall__(request)
        finally:
            forget_read_ahead()

    @staticmethod
    def hostname_from_request(request: HttpRequest) -> str:
        # The development server's banner names 0.0.0.0 or 127.0.0.1: those addresses serve the public host.
        hostname = TenantMainMiddleware.hostname_from_request(request)
        return settings.BASE_DOMAIN if hostname in settings.PUBLIC_HOST_ALIASES else hostname

    def get_tenant(self, domain_model: type[Domain], hostname: str) -> Tenant:
        # From the shared cache when it holds the host (tenants.cache); its suspension is checked below either way.
        # The key the request presents is read in the same round trip, for its authentication.
        return tenant_for_host(hostname, api_key_id=_presented_key_id.get())

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        return HttpResponseNotFound(f"No tenant is served at {hostname}.\n", content_type="text/plain")

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        presented = _presented_key_id.set(presented_key_id(request.META.get("HTTP_AUTHORIZATION")))
        try:
            response = super().process_request(request)
        finally:
            _presented_key_id.reset(presented)
        if response is not None:
            return response
        tenant = request.tenant  # type: ignore[attr-defined]
        note_request(tenant_slug=tenant.slug)
        if tenant.is_suspended:
            return problem_response(
                request,
                status=403,
                type_="tenant-suspended",
                title="Tenant suspended",
                detail=f"The tenant {tenant.slug!r} is suspended; contact support to restore access.",
            )
        return None


class TenantUserMiddleware:
    """Sign out a session whose user does not belong to this host's tenant (e.g. a cookie carried across hosts)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not user_belongs_to_host(user, getattr(request, "tenant", None)):
            logout(request)
        if request.user.is_authenticated:
            note_request(user_id=request.user.pk)
        return self.get_response(request)


class RateLimitHeadersMiddleware:
    """Add RateLimit-Policy and RateLimit to every response of a request that spent a key's budget.

    Whoever spends it (the REST API's throttle, the MCP endpoint) leaves the
    standing on the request (tenants.rate_limits.note_rate_limit), so that
    answers of every kind carry the headers, a 429 and a problem document too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        standing = noted_rate_limit(request)
        if standing is not None:
            for header, value in standing.headers().items():
                response[header] = value
        return response
