"""Problem types: every type URI the API can send resolves to a page the project serves."""

import pytest

from mcp.problems import PROBLEM_TYPES, problem_type_uri
from tests.conftest import host_client


@pytest.mark.parametrize("host", ["localhost", "acme.localhost"])
def test_every_problem_type_has_a_page_on_every_host(acme, host):
    client = host_client(host)
    for slug, problem in PROBLEM_TYPES.items():
        page = client.get(f"/problems/{slug}")
        assert page.status_code == 200, slug
        assert problem.title in page.content.decode()


def test_problem_type_uris_point_at_the_public_host_with_site_url():
    assert problem_type_uri("tenant-suspended") == "http://localhost:8000/problems/tenant-suspended"


def test_an_unknown_problem_type_is_not_found(public_tenant):
    assert host_client("localhost").get("/problems/no-such-thing").status_code == 404


def test_a_suspended_tenants_problem_names_a_type_that_resolves(acme):
    from tenants.services import tenant_suspend

    tenant_suspend(tenant=acme, reason="test")
    body = host_client("acme.localhost").get("/healthz").json()
    assert body["type"] == problem_type_uri("tenant-suspended") and body["status"] == 403
    path = body["type"].removeprefix("http://localhost:8000")
    assert host_client("localhost").get(path).status_code == 200
