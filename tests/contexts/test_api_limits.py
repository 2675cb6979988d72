"""Request budgets per key and per tenant, by plan: 429 problems, Retry-After and the RateLimit headers.

Each test runs twice: on Django's database cache (no REDIS_URL) and on a real Redis.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from contexts.models import Context
from contexts.services import context_create
from tenants import rate_limits
from tenants.api_keys import api_key_create
from tenants.models import ApiKey, Tenant
from tenants.rate_limits import rate_limit_spend
from tests.redis_server import redis_caches, redis_url  # noqa: F401  (fixtures)

ALL_SCOPES = list(ApiKey.Scope.values)
RATE_LIMIT = re.compile(r'"key";r=(\d+);t=(\d+)(?:, "tenant";r=(\d+);t=(\d+))?')


@pytest.fixture(params=["database", "redis"])
def shared_cache(request: pytest.FixtureRequest) -> str:
    """The cache the budgets are counted in: Django's database cache, or Redis."""
    if request.param == "redis":
        request.getfixturevalue("redis_caches")
    return request.param


@pytest.fixture
def small_budgets(settings) -> None:
    """The free plan with budgets a test can spend: 3 requests a minute per key, 5 per tenant."""
    settings.PLAN_LIMITS = {**settings.PLAN_LIMITS,
                            "free": {**settings.PLAN_LIMITS["free"],
                                     "requests_per_minute_key": 3, "requests_per_minute_tenant": 5}}


class Api:
    """Calls /api/v1/ on a host with a key."""

    def __init__(self, host: str, raw_key: str) -> None:
        self.client = Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/v1/{path}")

    def put(self, path: str, body: dict[str, Any], **headers: str) -> Any:
        return self.client.put(f"/api/v1/{path}", body, content_type="application/json", **headers)


def new_api(tenant: Tenant) -> Api:
    return Api(f"{tenant.slug}.localhost", api_key_create(tenant=tenant, name="ci", scopes=ALL_SCOPES)[1])


def remaining(response: Any) -> tuple[int, ...]:
    match = RATE_LIMIT.fullmatch(response["RateLimit"])
    assert match, response["RateLimit"]
    return tuple(int(value) for value in match.groups() if value is not None)


def problem_type(response: Any) -> str:
    assert response["Content-Type"] == "application/problem+json", (response.status_code, response.content[:300])
    return response.json()["type"].rsplit("/", 1)[-1]


@pytest.fixture
def brief(acme: Tenant) -> Tenant:
    with tenant_context(acme):
        context_create(key="brief", content="The brief.")
    return acme


def access_count(tenant: Tenant) -> int:
    with tenant_context(tenant):
        return Context.objects.get(key="brief").access_count


def test_every_api_response_says_the_plans_budgets_and_what_is_left(brief, shared_cache):
    api = new_api(brief)

    first, second = api.get("contexts/brief"), api.get("contexts/nope")

    assert first.status_code == 200 and second.status_code == 404
    for response in (first, second):
        assert response["RateLimit-Policy"] == '"key";q=120;w=60, "tenant";q=300;w=60'
    key_left, reset, tenant_left, _ = remaining(first)
    assert (key_left, tenant_left) == (119, 299) and 1 <= reset <= 60
    assert remaining(second)[0::2] == (118, 298)


def test_a_key_past_its_budget_is_refused_with_a_429_problem_and_nothing_changes(brief, small_budgets, shared_cache):
    api = new_api(brief)
    for left in (2, 1, 0):
        response = api.get("contexts/brief")
        assert response.status_code == 200 and remaining(response)[0] == left

    refused_read = api.get("contexts/brief")
    refused_write = api.put("contexts/new", {"content": "x"}, HTTP_IF_NONE_MATCH="*")

    for refused in (refused_read, refused_write):
        assert refused.status_code == 429 and problem_type(refused) == "rate-limited"
        assert "This API key made more than the 3 requests a minute" in refused.json()["detail"]
        assert refused.json()["request_id"]
        key_left, reset = remaining(refused)
        assert key_left == 0 and refused["Retry-After"] == str(reset)
        assert refused["RateLimit-Policy"] == '"key";q=3;w=60, "tenant";q=5;w=60'
    assert access_count(brief) == 3  # the refused read was not counted
    with tenant_context(brief):
        assert not Context.objects.filter(key="new").exists()


def test_the_tenants_budget_is_shared_by_its_keys_and_not_by_other_tenants(brief, globex, small_budgets, shared_cache):
    first, second, other = new_api(brief), new_api(brief), new_api(globex)
    for api in (first, first, first, second, second):
        assert api.get("contexts/brief").status_code == 200

    refused = second.get("contexts/brief")

    assert refused.status_code == 429 and problem_type(refused) == "rate-limited"
    assert "This tenant's keys together made more than the 5 requests a minute" in refused.json()["detail"]
    assert remaining(refused)[2] == 0
    assert access_count(brief) == 5
    assert other.get("contexts/brief").status_code == 404  # globex has its own budget (and no such context)


def test_a_key_refused_by_its_own_budget_does_not_spend_its_tenants(brief, small_budgets, shared_cache):
    greedy, patient = new_api(brief), new_api(brief)
    for _ in range(10):
        greedy.get("contexts/brief")

    response = patient.get("contexts/brief")

    assert response.status_code == 200
    assert remaining(response)[0::2] == (2, 1)  # the tenant's 5: 3 by the greedy key, 1 by this one


def test_requests_without_a_valid_key_spend_no_budget_and_carry_no_rate_limit_headers(brief, small_budgets, shared_cache):
    anonymous = Client(HTTP_HOST="acme.localhost").get("/api/v1/contexts/brief")
    wrong = Client(HTTP_HOST="acme.localhost", HTTP_AUTHORIZATION="Bearer mcpk_short").get("/api/v1/contexts/brief")

    for refused in (anonymous, wrong):
        assert refused.status_code == 401 and "RateLimit" not in refused and "RateLimit-Policy" not in refused
    assert remaining(new_api(brief).get("contexts/brief"))[2] == 4


def test_the_budget_is_whole_again_in_the_next_window(brief, small_budgets, shared_cache, monkeypatch):
    now = [(time.time() // 60 + 1) * 60 - 0.75]  # the last second of a minute
    monkeypatch.setattr(rate_limits, "_now", lambda: now[0])
    api = new_api(brief)
    for _ in range(3):
        assert api.get("contexts/brief").status_code == 200
    refused = api.get("contexts/brief")
    assert refused.status_code == 429 and refused["Retry-After"] == "1"

    now[0] += 1.0  # the next minute
    response = api.get("contexts/brief")

    assert response.status_code == 200 and remaining(response)[:2] == (2, 60)


def test_rest_and_a_direct_caller_such_as_mcp_spend_one_budget(brief, small_budgets, shared_cache):
    api_key, raw_key = api_key_create(tenant=brief, name="ci", scopes=ALL_SCOPES)
    standing = rate_limit_spend(api_key=api_key, tenant=brief)
    assert standing.refused_by is None and [budget.remaining for budget in standing.budgets] == [2, 4]

    response = Api("acme.localhost", raw_key).get("contexts/brief")

    assert remaining(response)[0::2] == (1, 3)


def test_without_redis_the_counters_are_rows_of_the_database_cache(brief):
    new_api(brief).get("contexts/brief")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM public.django_cache WHERE cache_key LIKE %s", ["%ratelimit:%"])
        assert cursor.fetchone()[0] == 2  # the key's counter and the tenant's


def test_concurrent_requests_on_redis_are_each_counted_once(acme, redis_caches, settings):  # noqa: F811
    settings.PLAN_LIMITS = {**settings.PLAN_LIMITS,
                            "free": {**settings.PLAN_LIMITS["free"], "requests_per_minute_key": 30}}
    api_key, _ = api_key_create(tenant=acme, name="ci", scopes=ALL_SCOPES)
    outcomes: list[bool] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(5):
            outcomes.append(rate_limit_spend(api_key=api_key, tenant=acme).refused_by is None)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(outcomes) == 40 and outcomes.count(True) == 30
