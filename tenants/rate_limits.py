"""Request budgets per API key and per tenant, by plan: the one rule the REST API and the MCP endpoint share.

Each key may make requests_per_minute_key requests a minute, and all the keys
of a tenant together requests_per_minute_tenant (settings.PLAN_LIMITS, by the
tenant's plan). The counters live in settings.CACHES["default"], which every
worker process shares: Redis when REDIS_URL is set, Django's database cache
otherwise. The REST API spends a request through its throttle
(contexts.api.throttling), the MCP endpoint by calling rate_limit_spend itself;
both note the standing on the request, and RateLimitHeadersMiddleware
(tenants.middleware) turns it into the RateLimit-Policy and RateLimit headers
of draft-ietf-httpapi-ratelimit-headers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

from audit.request_id import current_context
from audit.services import audit_record
from contexts.limits import plan_limits
from tenants.models import ApiKey, Tenant

RATE_LIMIT_CACHE = "default"
WINDOW = 60  # seconds: the plans' budgets are per minute
# A counter's key names its window, so it only has to outlive the window; the margin covers clock skew between workers.
COUNTER_TTL = 2 * WINDOW


@dataclass(frozen=True)
class Budget:
    """Where one budget stands after this request: policy 'key' or 'tenant'."""

    policy: str
    quota: int
    used: int  # this request included
    reset: int  # seconds until the window ends and the budget is whole again

    @property
    def remaining(self) -> int:
        return max(0, self.quota - self.used)

    @property
    def exceeded(self) -> bool:
        return self.used > self.quota


@dataclass(frozen=True)
class RateLimitStanding:
    """What spending one request left: the plan's quotas and the budgets counted."""

    quotas: tuple[tuple[str, int], ...]  # (policy, requests per window), for RateLimit-Policy
    budgets: tuple[Budget, ...]  # the budgets this request was counted against

    @property
    def refused_by(self) -> Budget | None:
        return next((budget for budget in self.budgets if budget.exceeded), None)

    def refusal_detail(self) -> str:
        """Say which budget is spent, for a person."""
        budget = self.refused_by
        assert budget is not None
        whose = "This API key" if budget.policy == "key" else "This tenant's keys together"
        return f"{whose} made more than the {budget.quota} requests a minute the plan allows."

    def headers(self) -> dict[str, str]:
        """Return the RateLimit-Policy and RateLimit headers (structured-field lists, one item per budget)."""
        return {
            "RateLimit-Policy": ", ".join(f'"{policy}";q={quota};w={WINDOW}' for policy, quota in self.quotas),
            "RateLimit": ", ".join(f'"{budget.policy}";r={budget.remaining};t={budget.reset}'
                                   for budget in self.budgets),
        }


def _now() -> float:
    # One name for the clock of the windows, which a test may move on to the next minute.
    return time.time()


def _current_window() -> tuple[int, int]:
    """The window now (its number, part of each counter's name) and the seconds until it ends (at least 1)."""
    now = _now()
    window = int(now // WINDOW)
    return window, max(1, math.ceil((window + 1) * WINDOW - now))


def _count(counters: list[str]) -> list[int]:
    """Count one request in each window counter; return each one's count so far.

    A fixed window, one integer per key and minute: Redis increments them
    atomically, all in one round trip (mcp.redis_cache's count_requests). DRF's
    SimpleRateThrottle keeps instead a list of every request's time per key,
    read, trimmed, rewritten and pickled on each request: 600 timestamps a
    minute per key, and lost updates when two workers rewrite the list at once.
    The price of a fixed window is a burst of up to twice the quota across a
    window's edge, which a per-minute budget tolerates. Django's database cache
    has no such method: each counter is added (first request of its window) or
    incremented, by reading then writing, so without Redis two concurrent
    requests may count once; use Redis where several workers share busy keys.
    """
    cache = caches[RATE_LIMIT_CACHE]
    if hasattr(cache, "count_requests"):
        return cache.count_requests(counters, COUNTER_TTL)
    counts = []
    for counter in counters:
        try:
            counts.append(cache.incr(counter))
        except ValueError:  # the window's first request
            counts.append(1 if cache.add(counter, 1, COUNTER_TTL) else cache.incr(counter))
    return counts


def rate_limit_spend(*, api_key: ApiKey, tenant: Tenant) -> RateLimitStanding:
    """Count one request of this key on its tenant against the plan's budgets; say where both stand.

    A request the key's own budget refuses is taken back from the tenant's, so
    that a key which keeps calling past its budget does not use up its tenant's.
    """
    limits = plan_limits(tenant.plan)
    window, reset = _current_window()
    quotas = (("key", limits.requests_per_minute_key), ("tenant", limits.requests_per_minute_tenant))
    key_counter, tenant_counter = f"ratelimit:key:{api_key.pk}:{window}", f"ratelimit:tenant:{tenant.pk}:{window}"
    key_count, tenant_count = _count([key_counter, tenant_counter])
    key_budget = Budget("key", limits.requests_per_minute_key, key_count, reset)
    if key_budget.exceeded:
        caches[RATE_LIMIT_CACHE].decr(tenant_counter)
        return RateLimitStanding(quotas=quotas, budgets=(key_budget,))
    tenant_budget = Budget("tenant", limits.requests_per_minute_tenant, tenant_count, reset)
    return RateLimitStanding(quotas=quotas, budgets=(key_budget, tenant_budget))


def record_refusal(*, action: str, tenant: Tenant, details: dict[str, Any]) -> Budget | None:
    """Audit a refused credential on this tenant's host, unless its address was refused too often this minute.

    Return None when it was audited (the caller answers the refusal), or the
    spent budget (the caller answers 429 with its reset as Retry-After). Anyone
    can send bad keys, and each refusal is an audit entry: past
    REFUSED_CREDENTIALS_PER_MINUTE from one address, only the first refusal over
    the budget is recorded (as api.refusals_throttled, once a window per address
    and host), so that a flood of bad keys cannot become as many rows.
    """
    address = current_context().ip_address or "-"
    window, reset = _current_window()
    (count,) = _count([f"ratelimit:refused:{tenant.pk}:{address}:{window}"])
    budget = Budget("refused", settings.REFUSED_CREDENTIALS_PER_MINUTE, count, reset)
    if not budget.exceeded:
        audit_record(action=action, tenant=tenant, outcome="denied", details=details)
        return None
    if budget.used == budget.quota + 1:
        audit_record(action="api.refusals_throttled", tenant=tenant, outcome="denied",
                     details={**details, "refusals_per_minute": budget.quota, "refused_action": action})
    return budget


def note_rate_limit(request: HttpRequest, standing: RateLimitStanding) -> None:
    """Keep the standing on the request, for the response's headers."""
    request.rate_limit_standing = standing  # type: ignore[attr-defined]


def noted_rate_limit(request: HttpRequest) -> RateLimitStanding | None:
    """Return the standing a request's budget was left at, if it spent one."""
    return getattr(request, "rate_limit_standing", None)
