"""Two tenants, one API: nothing sent to one host reads or changes the other's rows, whatever it names."""

import pytest
from django_tenants.utils import tenant_context

from contexts.models import Context, ContextVersion, Summary
from tests.contexts.api_client import Api, api_for, problem_type


@pytest.fixture
def two(acme, globex):
    """The same key in both tenants, with different content; acme's has three versions and a summary."""
    acme_api, globex_api = api_for(acme), api_for(globex)
    acme_api.create("shared", content="acme secret", tags=["acme"])
    for version in (1, 2):
        acme_api.call("PATCH", "contexts/shared", {"content": f"acme secret v{version + 1}"},
                      headers={"If-Match": f'"v{version}"'})
    acme_api.create("acme-only", content="acme only")
    acme_summary = acme_api.call("POST", "contexts/shared/summaries").json()["id"]
    globex_api.create("shared", content="globex text", tags=["globex"])
    return acme_api, globex_api, acme_summary


def snapshot(tenant) -> list:
    """Every row of the tenant's contexts, versions and summaries."""
    with tenant_context(tenant):
        return [
            list(Context.objects.order_by("id").values_list("key", "content", "version", "access_count", "archived_at")),
            list(ContextVersion.objects.order_by("id").values_list("version", "content")),
            list(Summary.objects.order_by("id").values_list("id", "status")),
        ]


def test_a_key_of_one_tenant_is_refused_on_the_others_host_for_every_endpoint(two, acme, globex):
    acme_api, _, acme_summary = two
    before = snapshot(acme), snapshot(globex)
    acme_key_on_globex = Api("globex.localhost", acme_api.key)
    calls = [
        ("GET", "contexts/", None), ("GET", "contexts/shared", None), ("PUT", "contexts/new", {"content": "x"}),
        ("PATCH", "contexts/shared", {"content": "x"}), ("DELETE", "contexts/shared", None),
        ("POST", "contexts:batch-get", {"keys": ["shared"]}), ("POST", "contexts/shared/archive", None),
        ("GET", "contexts/shared/versions", None), ("GET", "contexts/shared/versions/1", None),
        ("GET", "contexts/shared/diff", None), ("POST", "contexts/shared/versions/1/restore", None),
        ("POST", "contexts/shared/summaries", None), ("GET", f"contexts/shared/summaries/{acme_summary}", None),
    ]
    for method, path, body in calls:
        response = acme_key_on_globex.call(method, path, body, headers={"If-Match": '"v1"', "If-None-Match": "*"})
        assert response.status_code == 401 and problem_type(response) == "credential-wrong-tenant", (method, path)
    assert (snapshot(acme), snapshot(globex)) == before


def test_each_host_serves_its_own_rows_for_the_same_key(two):
    acme_api, globex_api, _ = two
    assert acme_api.get("contexts/shared").json()["content"] == "acme secret v3"
    assert globex_api.get("contexts/shared").json()["content"] == "globex text"
    assert [c["key"] for c in globex_api.get("contexts/").json()["results"]] == ["shared"]
    assert [c["key"] for c in globex_api.get("contexts/", params={"q": "secret"}).json()["results"]] == []
    assert globex_api.call("POST", "contexts:batch-get", {"keys": ["acme-only", "shared"]}).json()["missing"] == [
        "acme-only"
    ]


def test_versions_summaries_and_cursors_of_one_tenant_name_nothing_on_the_other(two, acme, globex):
    acme_api, globex_api, acme_summary = two
    before = snapshot(acme), snapshot(globex)

    assert problem_type(globex_api.get("contexts/shared/versions/3")) == "version-not-found"
    assert problem_type(globex_api.get("contexts/acme-only")) == "context-not-found"
    assert problem_type(globex_api.get(f"contexts/shared/summaries/{acme_summary}")) == "summary-not-found"
    assert globex_api.call("POST", f"contexts/shared/summaries/{acme_summary}/retry").status_code == 404
    restore = globex_api.call("POST", "contexts/shared/versions/3/restore", headers={"If-Match": '"v1"'})
    assert problem_type(restore) == "version-not-found"
    # acme's ETag on globex's context of the same key: a version globex's row never had.
    stale = globex_api.call("PATCH", "contexts/shared", {"content": "x"}, headers={"If-Match": '"v3"'})
    assert stale.status_code == 412
    acme_only = globex_api.call("PATCH", "contexts/acme-only", {"content": "x"}, headers={"If-Match": '"v1"'})
    assert problem_type(acme_only) == "context-not-found"

    acme_api.create("more-1")
    acme_api.create("more-2")
    acme_cursor = acme_api.get("contexts/", params={"limit": "1"}).json()["next"].split("cursor=")[1]
    from urllib.parse import unquote

    replayed = globex_api.get("contexts/", params={"limit": "1", "cursor": unquote(acme_cursor)})
    assert replayed.status_code == 400 and replayed.json()["errors"][0]["field"] == "cursor"
    assert snapshot(globex) == before[1]
    acme_rows_now = snapshot(acme)
    assert acme_rows_now[1][: len(before[0][1])] == before[0][1]  # acme only gained its own two new contexts
