"""The fuzzed server's settings: the project's, with request budgets the fuzzer cannot spend.

schemathesis sends thousands of requests a minute with one key. 429 is a
documented answer, but one that would hide every other: the budgets are lifted
so that each answer it checks is the operation's own.
"""

from mcp.settings import *  # noqa: F403
from mcp.settings import PLAN_LIMITS as _PLAN_LIMITS

PLAN_LIMITS = {
    plan: {**limits, "requests_per_minute_key": 10**9, "requests_per_minute_tenant": 10**9}
    for plan, limits in _PLAN_LIMITS.items()
}

# A request whose path climbs out of the API (a key of "..") can be redirected to the admin's sign-in page,
# whose stylesheets production finds in the manifest collectstatic writes; a test run has not collected.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
