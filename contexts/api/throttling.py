"""DRF's hook for the request budgets: a thin adapter over tenants.rate_limits, which the MCP endpoint calls too."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from tenants.models import ApiKey
from tenants.rate_limits import note_rate_limit, rate_limit_spend


class KeyAndTenantRateThrottle(BaseThrottle):
    """Spend one request of the key's and the tenant's budgets; refuse with 429 when either is spent."""

    def allow_request(self, request: Request, view: Any) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return True  # views open without a key (the OpenAPI document) spend no key's budget
        standing = rate_limit_spend(api_key=api_key, tenant=request._request.tenant)  # type: ignore[attr-defined]
        note_rate_limit(request._request, standing)
        refused_by = standing.refused_by
        if refused_by is not None:
            # Raised here rather than returning False, so that the problem's detail names the budget spent.
            raise Throttled(wait=refused_by.reset, detail=standing.refusal_detail())
        return True
