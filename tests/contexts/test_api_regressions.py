"""Bad input that once produced a 500 or an answer outside the OpenAPI document, each found by schemathesis.

Each is now a 4xx problem whose status the document lists for the operation,
and nothing is stored.
"""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from contexts.models import Context
from tests.contexts.api_client import Api, api_for, problem_type


@pytest.fixture
def api(acme) -> Api:
    return api_for(acme)


def stored_keys(tenant) -> list[str]:
    with tenant_context(tenant):
        return list(Context.objects.values_list("key", flat=True))


# Found by schemathesis: metadata a JSON parser accepts but PostgreSQL's jsonb cannot hold made the INSERT fail.
@pytest.mark.parametrize("metadata_json", [
    '{"note\\u0000": 1}',             # NUL in a key
    '{"note": ["ok", "a\\u0000b"]}',  # NUL in a nested string
    '{"note": "\\ud800"}',            # a lone surrogate
    '{"note": {"big": 1e400}}',       # a number Python reads as infinity
])
def test_put_refuses_metadata_that_postgresql_cannot_store_with_a_400_naming_the_field(api, acme, metadata_json):
    response = api.call("PUT", "contexts/notes", raw=f'{{"metadata": {metadata_json}}}',
                        headers={"If-None-Match": "*"})

    assert response.status_code == 400, response.content
    assert problem_type(response) == "invalid-request"
    assert response.json()["errors"][0]["field"] == "metadata"
    assert stored_keys(acme) == []


def test_patch_refuses_unstorable_metadata_and_keeps_the_context_as_it_was(api, acme):
    api.create("notes", metadata={"team": "ops"})

    response = api.call("PATCH", "contexts/notes", raw='{"metadata": {"team\\u0000": "x"}}',
                        headers={"If-Match": '"v1"'})

    assert response.status_code == 400 and problem_type(response) == "invalid-request"
    with tenant_context(acme):
        context = Context.objects.get(key="notes")
        assert (context.version, context.metadata) == (1, {"team": "ops"})


@pytest.mark.parametrize("metadata_filter", ['{"team": "a\\u0000"}', '{"team": "\\ud800"}', '{"n": 1e400}',
                                             '{"a": ' + "[" * 5000 + "]" * 5000 + "}"])  # too deep to parse
def test_listing_refuses_a_metadata_filter_postgresql_cannot_compare(api, metadata_filter):
    response = api.get("contexts/", params={"metadata": metadata_filter})

    assert response.status_code == 400, response.content
    assert problem_type(response) == "invalid-request"
    assert response.json()["errors"][0]["field"] == "metadata"


# Found by schemathesis: a version or summary id past what the route's digits allowed (or not a number) fell
# through to the context's own route, which answered POST with 405, a status these operations do not list.
@pytest.mark.parametrize("path", [
    "contexts/notes/versions/1000000000/restore",
    "contexts/notes/versions/abc/restore",
    "contexts/notes/versions/0/restore",
    "contexts/notes/summaries/10000000000000000000/retry",
    "contexts/notes/summaries/x/retry",
    "contexts/notes/versions/" + "9" * 5000 + "/restore",  # more digits than int() converts
])
def test_a_version_or_summary_that_cannot_exist_in_a_path_is_404_not_405(api, acme, path):
    api.create("notes", content="text")

    response = api.call("POST", path, headers={"If-Match": '"v1"'})

    assert response.status_code == 404, response.content
    assert problem_type(response) in ("version-not-found", "summary-not-found")
    with tenant_context(acme):
        assert Context.objects.get(key="notes").version == 1


@pytest.mark.parametrize("path", ["contexts/notes/versions/2147483648", "contexts/notes/versions/99999999999999999999",
                                  "contexts/notes/summaries/9223372036854775808"])
def test_reading_a_version_or_summary_past_the_largest_id_is_404(api, path):
    api.create("notes", content="text")

    response = api.get(path)

    assert response.status_code == 404, response.content
    assert problem_type(response) in ("version-not-found", "summary-not-found")


# Found by probing what schemathesis had not: a key with a NUL (%00 in the path) reached PostgreSQL on every
# operation but the read by key, which checks keys first.
@pytest.mark.parametrize(("method", "path"), [
    ("GET", "contexts/a%00b/versions"),
    ("GET", "contexts/a%00b/versions/1"),
    ("GET", "contexts/a%00b/diff"),
    ("GET", "contexts/a%00b/summaries"),
    ("POST", "contexts/a%00b/summaries"),
    ("GET", "contexts/a%00b/summaries/1"),
    ("POST", "contexts/a%00b/summaries/1/retry"),
    ("PATCH", "contexts/a%00b"),
    ("DELETE", "contexts/a%00b"),
    ("POST", "contexts/a%00b/archive"),
    ("POST", "contexts/a%00b/unarchive"),
    ("POST", "contexts/a%00b/versions/1/restore"),
])
def test_a_key_with_a_nul_is_refused_as_invalid_on_every_operation(api, acme, method, path):
    api.create("a", content="text")

    response = api.call(method, path, {"title": "x"} if method == "PATCH" else None, headers={"If-Match": '"v1"'})

    assert response.status_code == 400, response.content
    assert problem_type(response) == "invalid-request"
    assert response.json()["errors"] == [{"field": "key", "message": response.json()["detail"]}]
    assert stored_keys(acme) == ["a"]


# Found by probing: JSON nested a few thousand levels deep exhausted the parser's stack (RecursionError).
@pytest.mark.parametrize("body", ["[" * 50_000 + "]" * 50_000, '{"metadata": {"a": ' + "[" * 5_000 + "]" * 5_000 + "}}"])
def test_a_body_nested_too_deeply_to_parse_is_malformed_json(api, acme, body):
    response = api.call("PUT", "contexts/deep", raw=body, headers={"If-None-Match": "*"})

    assert response.status_code == 400, response.content
    assert problem_type(response) == "malformed-json"
    assert "nested too deeply" in response.json()["detail"]
    assert stored_keys(acme) == []


# Found by probing: a NUL in a comma-separated filter slipped past CharField's check (it ran on the list).
@pytest.mark.parametrize("query", [{"tags": "a\x00"}, {"tags_all": "ops,a\x00b"}, {"fields": "key\x00"}])
def test_a_nul_in_a_list_filter_is_refused_by_name(api, query):
    response = api.get("contexts/", params=query)

    assert response.status_code == 400, response.content
    assert problem_type(response) == "invalid-request"
    assert response.json()["errors"][0]["field"] == next(iter(query))
