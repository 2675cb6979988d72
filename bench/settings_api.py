"""The project's settings with request budgets no benchmark reaches: the throttle still counts every request
(its cost is part of what bench/api.py measures) but refuses none."""

from mcp.settings import *  # noqa: F403
from mcp.settings import PLAN_LIMITS

PLAN_LIMITS = {
    plan: {**limits, "requests_per_minute_key": 10**9, "requests_per_minute_tenant": 10**9}
    for plan, limits in PLAN_LIMITS.items()
}
