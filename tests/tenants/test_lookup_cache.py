"""The host → tenant and key → API key lookups in the shared cache (tenants.cache), on a real Redis.

Reading a context costs one statement once routing and the key come from the
cache; every change to a tenant, a domain or a key takes effect at once; and a
cached key is still held to its own tenant's host.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from contexts.models import Context
from contexts.services import context_create
from tenants import cache
from tenants.api_keys import api_key_create, api_key_revoke
from tenants.cache import LOOKUP_TTL, TOUCHED_PREFIX, api_key_by_id, lookup_cache, tenant_for_host
from tenants.models import ApiKey, Domain, Tenant
from tenants.services import domain_add, domain_change, domain_remove, tenant_activate, tenant_suspend, tenant_update
from tests.redis_server import redis_caches, redis_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("redis_caches")


def get(host: str, path: str, raw_key: str | None) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"} if raw_key else {}
    return Client(HTTP_HOST=host).get(path, **headers)


def read(host: str, key: str, raw_key: str) -> Any:
    return get(host, f"/api/v1/contexts/{key}", raw_key)


def problem_type(response: Any) -> str:
    assert response["Content-Type"] == "application/problem+json", (response.status_code, response.content[:300])
    return response.json()["type"].rsplit("/", 1)[-1]


def access_count(tenant: Tenant, key: str) -> int:
    with tenant_context(tenant):
        return Context.objects.get(key=key).access_count


@pytest.fixture
def acme_key(acme: Tenant) -> str:
    """A key of acme, and a context 'brief' to read with it."""
    with tenant_context(acme):
        context_create(key="brief", title="Brief", content="The brief.")
    return api_key_create(tenant=acme, name="ci", scopes=["contexts:read"])[1]


def statements(captured: CaptureQueriesContext) -> str:
    return "\n".join(query["sql"] for query in captured.captured_queries)


def test_get_by_key_takes_at_most_three_queries_with_routing_and_the_key_cached(acme_key):
    with CaptureQueriesContext(connection) as cold:
        assert read("acme.localhost", "brief", acme_key).status_code == 200
    with CaptureQueriesContext(connection) as warm:
        response = read("acme.localhost", "brief", acme_key)

    assert response.status_code == 200 and response.json()["content"] == "The brief."
    assert len(warm) <= 3, statements(warm)
    # What the cache spared: the domain and key lookups, and the last-used write (done once, by the first read).
    assert '"domains"' in statements(cold) and '"api_keys"' in statements(cold)
    assert '"domains"' not in statements(warm) and '"api_keys"' not in statements(warm)
    # The read itself: one statement, naming its tenant's schema (no SET search_path before it).
    assert 'UPDATE "tenant_acme"."contexts" SET access_count' in statements(warm)
    assert "search_path" not in statements(warm), statements(warm)


def redis_commands(client: Any) -> dict[str, int]:
    """How many commands of each kind the test Redis has served (the INFOs that ask included)."""
    return {name: stats["calls"] for name, stats in client.info("commandstats").items()}


def test_a_warm_read_by_key_asks_redis_twice_the_key_read_with_the_host(acme_key, redis_caches):  # noqa: F811
    assert read("acme.localhost", "brief", acme_key).status_code == 200
    before = redis_commands(redis_caches)

    assert read("acme.localhost", "brief", acme_key).status_code == 200

    # The host's tenant and the key's row and marker in one MGET, the two budgets in one script; the INFO itself.
    after = redis_commands(redis_caches)
    served = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
    in_the_script = ("cmdstat_incr", "cmdstat_expire")  # Redis counts the script's own calls as commands too
    assert {name: count for name, count in served.items() if name not in in_the_script} == {
        "cmdstat_mget": 1, "cmdstat_evalsha": 1, "cmdstat_info": 1}, served


def test_a_key_read_ahead_by_a_request_is_never_used_after_it(acme, acme_key):
    key_id = acme_key.split("_")[1]
    assert read("acme.localhost", "brief", acme_key).status_code == 200  # cached
    # A request that presents the key but never authenticates it: routing reads the key ahead all the same.
    assert get("acme.localhost", "/healthz/live", acme_key).status_code == 200

    api_key_revoke(api_key=ApiKey.objects.get(key_id=key_id))

    assert api_key_by_id(key_id).revoked_at is not None  # outside a request: asked again, not the read-ahead
    refused = read("acme.localhost", "brief", acme_key)
    assert refused.status_code == 401 and problem_type(refused) == "credential-revoked"


def test_a_key_read_ahead_serves_the_key_it_was_read_for_only(acme, globex, acme_key):
    globex_key = api_key_create(tenant=globex, name="ci", scopes=["contexts:read"])[1]
    acme_key_id, globex_key_id = acme_key.split("_")[1], globex_key.split("_")[1]
    assert read("acme.localhost", "brief", acme_key).status_code == 200
    assert get("globex.localhost", "/healthz/live", globex_key).status_code == 200

    tenant_for_host("acme.localhost", api_key_id=acme_key_id)
    try:
        globex_row = api_key_by_id(globex_key_id)
        acme_row = api_key_by_id(acme_key_id)
    finally:
        cache.forget_read_ahead()

    assert (globex_row.key_id, globex_row.tenant_id) == (globex_key_id, globex.pk)
    assert (acme_row.key_id, acme_row.tenant_id) == (acme_key_id, acme.pk)


def test_a_revoked_key_stops_working_at_once_although_it_was_cached(acme_key):
    assert read("acme.localhost", "brief", acme_key).status_code == 200
    key_id = acme_key.split("_")[1]
    with CaptureQueriesContext(connection) as lookup:
        assert api_key_by_id(key_id) is not None
    assert len(lookup) == 0  # it is cached

    api_key_revoke(api_key=ApiKey.objects.get(key_id=key_id))
    refused = read("acme.localhost", "brief", acme_key)

    assert refused.status_code == 401 and problem_type(refused) == "credential-revoked"
    assert access_count(Tenant.objects.get(slug="acme"), "brief") == 1  # the refused read counted nothing


def test_a_deleted_key_stops_working_at_once_although_it_was_cached(acme_key):
    assert read("acme.localhost", "brief", acme_key).status_code == 200

    ApiKey.objects.filter(key_id=acme_key.split("_")[1]).delete()
    refused = read("acme.localhost", "brief", acme_key)

    assert refused.status_code == 401 and problem_type(refused) == "credential-invalid"
    assert access_count(Tenant.objects.get(slug="acme"), "brief") == 1


def test_a_suspended_tenant_is_refused_at_once_although_its_host_was_cached(acme, acme_key):
    assert read("acme.localhost", "brief", acme_key).status_code == 200
    with CaptureQueriesContext(connection) as lookup:
        assert tenant_for_host("acme.localhost").pk == acme.pk
    assert len(lookup) == 0

    tenant_suspend(tenant=acme, reason="unpaid")
    refused = read("acme.localhost", "brief", acme_key)

    assert refused.status_code == 403 and problem_type(refused) == "tenant-suspended"
    assert access_count(acme, "brief") == 1
    tenant_activate(tenant=acme)
    assert read("acme.localhost", "brief", acme_key).status_code == 200


def test_a_plan_change_applies_to_the_next_request(acme, acme_key):
    assert read("acme.localhost", "brief", acme_key)["RateLimit-Policy"].startswith('"key";q=120;')

    tenant_update(tenant=acme, changes={"plan": "team"})

    assert read("acme.localhost", "brief", acme_key)["RateLimit-Policy"].startswith('"key";q=600;')


def test_a_removed_domain_stops_serving_at_once(acme, acme_key):
    extra = domain_add(tenant=acme, domain="api.acme.localhost")
    assert read("api.acme.localhost", "brief", acme_key).status_code == 200

    domain_remove(domain=extra)

    assert read("api.acme.localhost", "brief", acme_key).status_code == 404
    assert access_count(acme, "brief") == 1


def test_a_renamed_domain_serves_under_its_new_name_only(acme, acme_key):
    extra = domain_add(tenant=acme, domain="old.acme.localhost")
    assert read("old.acme.localhost", "brief", acme_key).status_code == 200

    domain_change(domain=extra, new_domain="new.acme.localhost")

    assert read("old.acme.localhost", "brief", acme_key).status_code == 404
    assert read("new.acme.localhost", "brief", acme_key).status_code == 200


def test_a_domain_saved_directly_is_forgotten_under_its_old_name(acme, acme_key):
    extra = domain_add(tenant=acme, domain="old.acme.localhost")
    assert read("old.acme.localhost", "brief", acme_key).status_code == 200

    extra.domain = "other.acme.localhost"
    extra.save()

    assert read("old.acme.localhost", "brief", acme_key).status_code == 404


def test_an_unknown_host_is_not_remembered_so_a_new_domain_serves_at_once(acme, acme_key):
    assert read("late.acme.localhost", "brief", acme_key).status_code == 404

    domain_add(tenant=acme, domain="late.acme.localhost")

    assert read("late.acme.localhost", "brief", acme_key).status_code == 200


def test_a_cached_key_of_one_tenant_is_refused_on_another_tenants_host(acme, globex, acme_key):
    with tenant_context(globex):
        context_create(key="brief", content="Globex's brief.")
    globex_key = api_key_create(tenant=globex, name="ci", scopes=["contexts:read"])[1]
    # Both hosts and both keys cached.
    assert read("acme.localhost", "brief", acme_key).status_code == 200
    assert read("globex.localhost", "brief", globex_key).status_code == 200

    for host, raw_key, owner in (("globex.localhost", acme_key, acme), ("acme.localhost", globex_key, globex)):
        refused = read(host, "brief", raw_key)
        assert refused.status_code == 401 and problem_type(refused) == "credential-wrong-tenant"
        assert "Globex's brief." not in refused.content.decode() and "The brief." not in refused.content.decode()
    assert access_count(acme, "brief") == 1 and access_count(globex, "brief") == 1


def test_a_cached_key_is_checked_against_its_secret(acme_key):
    assert read("acme.localhost", "brief", acme_key).status_code == 200
    forged = acme_key[:-4] + ("AAAA" if not acme_key.endswith("AAAA") else "BBBB")

    refused = read("acme.localhost", "brief", forged)

    assert refused.status_code == 401 and problem_type(refused) == "credential-invalid"
    assert access_count(Tenant.objects.get(slug="acme"), "brief") == 1


def test_last_used_is_written_once_a_minute_not_on_each_request_with_a_cached_key(acme_key, redis_caches):  # noqa: F811
    key_id = acme_key.split("_")[1]
    with CaptureQueriesContext(connection) as captured:
        for _ in range(5):
            assert read("acme.localhost", "brief", acme_key).status_code == 200
    writes = [q for q in captured.captured_queries if q["sql"].startswith('UPDATE "api_keys"')]
    assert len(writes) == 1
    first_use = ApiKey.objects.get(key_id=key_id).last_used_at
    assert first_use is not None

    # The minute passes for every worker when the shared marker expires.
    api_key = ApiKey.objects.get(key_id=key_id)
    assert 0 < redis_caches.ttl(f"test:lookups:1:{TOUCHED_PREFIX}:{key_id}") <= 60
    lookup_cache().delete(f"{TOUCHED_PREFIX}:{key_id}")
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=first_use.replace(year=first_use.year - 1))
    assert read("acme.localhost", "brief", acme_key).status_code == 200
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at > first_use


def test_a_row_read_before_a_revocation_commits_cannot_be_cached_after_it(committed):
    tenant = Tenant.objects.create(slug="race", name="Race", schema_name="tenant_race")
    api_key, _ = api_key_create(tenant=tenant, name="ci", scopes=["contexts:read"])
    read_by_another_request: list[ApiKey] = []

    def another_request_reads_the_row() -> None:
        try:
            read_by_another_request.append(ApiKey.objects.get(pk=api_key.pk))
        finally:
            connection.close()

    with transaction.atomic():
        api_key_revoke(api_key=api_key)
        # Another request, on its own connection, reads the row before the revocation is visible to it …
        reader = threading.Thread(target=another_request_reads_the_row)
        reader.start()
        reader.join(timeout=30)
    stale = read_by_another_request[0]
    assert stale.revoked_at is None

    # … and only now, after the commit, goes on to fill the cache with it, as api_key_by_id would.
    filled = lookup_cache().add(cache._api_key_key(api_key.key_id), cache._row_values(stale), cache.LOOKUP_TTL)

    assert filled is False
    assert api_key_by_id(api_key.key_id).revoked_at is not None


def test_cached_entries_expire_on_their_own(acme, acme_key, redis_caches):  # noqa: F811
    assert read("acme.localhost", "brief", acme_key).status_code == 200

    entries = [key for key in redis_caches.scan_iter("test:lookups:*") if b":host:" in key or b":apikey:" in key]
    assert len(entries) == 2
    assert all(0 < redis_caches.ttl(key) <= LOOKUP_TTL for key in entries)


def test_tenant_for_host_raises_for_a_host_no_tenant_serves(public_tenant):
    with pytest.raises(Domain.DoesNotExist):
        tenant_for_host("nobody.localhost")


def test_a_request_served_in_async_mode_forgets_its_read_ahead_too(acme, acme_key):
    from asgiref.sync import async_to_sync
    from django.http import HttpResponse
    from django.test import RequestFactory

    from tenants.middleware import TenantMiddleware

    seen: list[Any] = []

    async def view(request: Any) -> HttpResponse:
        seen.append(cache._read_ahead.get())
        return HttpResponse("ok")

    middleware = TenantMiddleware(view)
    request = RequestFactory().get("/healthz/live", HTTP_HOST="acme.localhost", HTTP_AUTHORIZATION=f"Bearer {acme_key}")

    assert middleware.async_mode and async_to_sync(middleware)(request).status_code == 200
    assert seen[0] is not None and seen[0][0] == acme_key.split("_")[1]  # read ahead while the request ran …
    assert cache._read_ahead.get() is None  # … and forgotten when it ended
