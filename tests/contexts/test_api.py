"""The REST API of one tenant: every endpoint, every refusal, and that a refusal changes nothing."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from audit.models import AuditLog
from contexts.models import Context, ContextVersion, Summary
from contexts.summaries import summary_failed
from tenants import rate_limits
from tenants.api_keys import api_key_create, api_key_revoke
from tenants.models import ApiKey
from tenants.services import tenant_suspend
from tests.contexts.api_client import Api, api_for, problem_type


@pytest.fixture
def api(acme) -> Api:
    return api_for(acme)


def stored(tenant, key):
    with tenant_context(tenant):
        return Context.objects.filter(key=key).first()


# --- create, read, replace, change, delete -------------------------------------------------------------------


def test_put_with_if_none_match_creates_and_answers_201_with_location_and_etag(api, acme):
    response = api.create("notes/2026/q1", title="Q1", content="Plans", tags=["plans"], metadata={"team": "ops"})

    assert response.status_code == 201
    assert response["Location"] == "/api/v1/contexts/notes/2026/q1"
    assert response["ETag"] == '"v1"'
    body = response.json()
    assert (body["key"], body["version"], body["tags"], body["metadata"]) == ("notes/2026/q1", 1, ["plans"], {"team": "ops"})
    assert stored(acme, "notes/2026/q1").content == "Plans"


def test_get_reads_counts_the_read_and_answers_304_to_a_matching_etag(api, acme):
    api.create("brief", content="text")

    first = api.get("contexts/brief")
    again = api.get("contexts/brief", headers={"If-None-Match": '"v1"'})
    other = api.get("contexts/brief", headers={"If-None-Match": '"v7"'})

    assert first.status_code == 200 and first["ETag"] == '"v1"' and first.json()["content"] == "text"
    assert again.status_code == 304 and again["ETag"] == '"v1"' and again.content == b""
    assert other.status_code == 200
    assert stored(acme, "brief").access_count == 3


def test_put_if_none_match_on_an_existing_key_is_412_and_changes_nothing(api, acme):
    api.create("brief", content="original")
    response = api.create("brief", content="overwrite")
    assert response.status_code == 412 and problem_type(response) == "precondition-failed"
    assert stored(acme, "brief").content == "original"


def test_a_write_without_a_precondition_is_428_and_changes_nothing(api, acme):
    missing = api.call("PUT", "contexts/brief", {"content": "x"})
    assert missing.status_code == 428 and problem_type(missing) == "precondition-required"
    assert stored(acme, "brief") is None
    api.create("brief", content="original")
    for method, body in (("PUT", {"content": "x"}), ("PATCH", {"content": "x"}), ("DELETE", None)):
        response = api.call(method, "contexts/brief", body)
        assert response.status_code == 428, method
    assert stored(acme, "brief").content == "original"


def test_put_with_if_match_replaces_the_whole_context(api, acme):
    api.create("brief", title="Brief", content="v1", tags=["a"])
    response = api.call("PUT", "contexts/brief", {"content": "v2"}, headers={"If-Match": '"v1"'})
    assert response.status_code == 200 and response["ETag"] == '"v2"'
    context = stored(acme, "brief")
    assert (context.version, context.content, context.title, context.tags) == (2, "v2", "", [])


def test_a_stale_if_match_is_412_with_the_current_version_and_changes_nothing(api, acme):
    api.create("brief", content="v1")
    api.call("PATCH", "contexts/brief", {"content": "v2"}, headers={"If-Match": '"v1"'})
    for method in ("PUT", "PATCH"):
        response = api.call(method, "contexts/brief", {"content": "lost"}, headers={"If-Match": '"v1"'})
        assert response.status_code == 412 and response.json()["current_version"] == 2
    delete = api.call("DELETE", "contexts/brief", headers={"If-Match": '"v1"'})
    assert delete.status_code == 412
    context = stored(acme, "brief")
    assert (context.version, context.content) == (2, "v2")


def test_patch_changes_only_the_fields_sent(api, acme):
    api.create("brief", title="Brief", content="v1", tags=["a"])
    response = api.call("PATCH", "contexts/brief", {"tags": ["a", "b"]}, headers={"If-Match": '"v1"'})
    assert response.status_code == 200
    context = stored(acme, "brief")
    assert (context.title, context.content, context.tags, context.version) == ("Brief", "v1", ["a", "b"], 2)


def test_delete_with_if_match_removes_the_context_and_its_versions(api, acme):
    api.create("brief", content="v1")
    response = api.call("DELETE", "contexts/brief", headers={"If-Match": '"v1"'})
    assert response.status_code == 204
    with tenant_context(acme):
        assert not Context.objects.exists() and not ContextVersion.objects.exists()
    assert api.get("contexts/brief").status_code == 404


def test_a_malformed_if_match_is_400(api):
    api.create("brief")
    response = api.call("PATCH", "contexts/brief", {"content": "x"}, headers={"If-Match": "v1"})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "If-Match"


# --- expiry and archival ----------------------------------------------------------------------------------------


def test_an_expired_context_is_410_with_its_own_problem_and_left_out_of_listings(api, acme):
    api.create("old", content="x", expires_at=(timezone.now() + dt.timedelta(hours=1)).isoformat())
    api.create("live", content="y")
    with tenant_context(acme):
        Context.objects.filter(key="old").update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    response = api.get("contexts/old")

    assert response.status_code == 410 and problem_type(response) == "context-expired"
    assert stored(acme, "old").access_count == 0
    assert [c["key"] for c in api.get("contexts/").json()["results"]] == ["live"]
    listed = api.get("contexts/", params={"include_expired": "true"}).json()["results"]
    assert {c["key"]: c["expired"] for c in listed} == {"old": True, "live": False}


def test_archived_contexts_are_readable_say_so_and_are_listed_on_request(api, acme):
    api.create("brief")
    archived = api.call("POST", "contexts/brief/archive")
    assert archived.status_code == 200 and archived.json()["archived"] is True and archived["ETag"] == '"v2"'
    assert api.get("contexts/brief").json()["archived"] is True
    assert api.get("contexts/").json()["results"] == []
    assert [c["key"] for c in api.get("contexts/", params={"include_archived": "1"}).json()["results"]] == ["brief"]
    unarchived = api.call("POST", "contexts/brief/unarchive", headers={"If-Match": '"v2"'})
    assert unarchived.json()["archived"] is False and unarchived.json()["version"] == 3
    stale = api.call("POST", "contexts/brief/archive", headers={"If-Match": '"v2"'})
    assert stale.status_code == 412 and stored(acme, "brief").archived_at is None


# --- keys, limits and malformed input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "message"),
    [("notes/versions", "names a sub-resource"), ("a//b", "not valid"), (".hidden", "not valid"),
     ("x" * 256, "the most is 255"), ("a b", "not valid")],
)
def test_a_key_that_cannot_name_a_context_is_400_and_creates_nothing(api, acme, key, message):
    response = api.create(key, content="x")
    # A key ending in a reserved segment is routed to that sub-resource, which takes no PUT.
    assert response.status_code in (400, 404, 405), response.content
    if response.status_code == 400:
        assert response.json()["errors"][0]["field"] == "key" and message in response.json()["detail"]
    with tenant_context(acme):
        assert not Context.objects.exists()


def test_content_larger_than_the_plan_allows_is_413_and_stores_nothing(api, acme, settings):
    limit = settings.PLAN_LIMITS["free"]["max_content_bytes"]
    response = api.create("big", content="é" * (limit // 2 + 1))  # two bytes each: over the limit in bytes
    assert response.status_code == 413 and problem_type(response) == "content-too-large"
    assert response.json()["errors"][0]["field"] == "content" and str(limit) in response.json()["detail"]
    assert stored(acme, "big") is None


def test_a_body_larger_than_any_plan_is_413_unread(api, acme, settings):
    response = api.call("PUT", "contexts/huge", raw=b'{"content": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + b'"}',
                        headers={"If-None-Match": "*"})
    assert response.status_code == 413 and problem_type(response) == "content-too-large"
    assert stored(acme, "huge") is None


def test_metadata_tags_and_title_limits(api, acme):
    cases = [
        ({"metadata": {"blob": "x" * 17000}}, 413, "metadata"),
        ({"tags": [f"t{n}" for n in range(33)]}, 400, "tags"),
        ({"tags": ["a,b"]}, 400, "tags"),
        ({"tags": ["x" * 65]}, 400, "tags"),
        ({"title": "x" * 501}, 400, "title"),
    ]
    for fields, status, field in cases:
        response = api.create("k", **fields)
        assert response.status_code == status, (fields, response.content)
        assert response.json()["errors"][0]["field"].startswith(field)
    assert stored(acme, "k") is None


def test_the_plan_quota_of_contexts_is_a_quota_problem(api, acme, settings):
    settings.PLAN_LIMITS = {**settings.PLAN_LIMITS, "free": {**settings.PLAN_LIMITS["free"], "max_contexts": 2}}
    assert api.create("a").status_code == 201 and api.create("b").status_code == 201
    response = api.create("c")
    assert response.status_code == 403 and problem_type(response) == "quota-exceeded"
    assert stored(acme, "c") is None


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "problem"),
    [
        ('{"content": ', "application/json", 400, "malformed-json"),
        ('["a list"]', "application/json", 400, "invalid-request"),
        ('"a string"', "application/json", 400, "invalid-request"),
        ('{"content": 5}', "application/json", 400, "invalid-request"),
        ('{"titel": "typo"}', "application/json", 400, "invalid-request"),
        ('{"expires_at": "tomorrow"}', "application/json", 400, "invalid-request"),
        ("content=x", "application/x-www-form-urlencoded", 415, "unsupported-media-type"),
        ('{"content": "x"}', "text/plain", 415, "unsupported-media-type"),
    ],
)
def test_malformed_bodies_are_refused_with_a_problem_and_create_nothing(api, acme, raw, content_type, status, problem):
    response = api.call("PUT", "contexts/k", raw=raw, content_type=content_type, headers={"If-None-Match": "*"})
    assert response.status_code == status and problem_type(response) == problem
    body = response.json()
    assert body["request_id"] == response["X-Request-ID"] and body["detail"]
    if problem == "invalid-request":
        assert body["errors"] and all({"field", "message"} <= set(error) for error in body["errors"])
    assert stored(acme, "k") is None


def test_a_nul_character_is_refused_not_a_server_error(api, acme):
    response = api.create("k", content="a\u0000b")
    assert response.status_code == 400 and stored(acme, "k") is None


# --- listing, search and batch ----------------------------------------------------------------------------------


def test_a_listing_pages_with_an_opaque_cursor_in_the_body_and_the_link_header(api):
    for n in range(5):
        api.create(f"k{n}")
    seen, params = [], {"limit": "2"}
    while True:
        page = api.get("contexts/", params=params)
        body = page.json()
        seen += [context["key"] for context in body["results"]]
        if body["next"] is None:
            assert "Link" not in page
            break
        assert page["Link"] == f'<{body["next"]}>; rel="next"'
        params = {"limit": "2", "cursor": body["next"].split("cursor=")[1].split("&")[0]}
        params["cursor"] = __import__("urllib.parse").parse.unquote(params["cursor"])
    assert seen == ["k4", "k3", "k2", "k1", "k0"]


def test_a_forged_cursor_is_400(api):
    response = api.get("contexts/", params={"cursor": "eyJ1IjoiMjAyNiJ9:forged"})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "cursor"


def test_filters_by_tags_metadata_and_time(api, acme):
    api.create("a", tags=["x", "y"], metadata={"team": "ops", "n": 1})
    api.create("b", tags=["y"], metadata={"team": "sales"})
    api.create("c", tags=["z"])

    def keys(**params):
        response = api.get("contexts/", params=params)
        assert response.status_code == 200, response.content
        return sorted(context["key"] for context in response.json()["results"])

    assert keys(tags="x,z") == ["a", "c"]
    assert keys(tags_all="x,y") == ["a"]
    assert keys(metadata='{"team": "ops"}') == ["a"]
    future = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    assert keys(created_after=future) == [] and keys(updated_before=future) == ["a", "b", "c"]


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"created_after": "yesterday"}, {"metadata": "[1]"},
     {"metadata": "{bad"}, {"fields": "key,secret"}, {"include_archived": "maybe"}, {"colour": "red"}],
)
def test_bad_listing_parameters_are_400_naming_the_parameter(api, params):
    response = api.get("contexts/", params=params)
    assert response.status_code == 400 and problem_type(response) == "invalid-request"
    assert response.json()["errors"][0]["field"] == next(iter(params))


def test_search_ranks_matches_and_shows_a_highlighted_snippet(api):
    api.create("billing/faq", title="Billing questions", content="How to read an invoice and pay it.")
    api.create("style", title="Style guide", content="Mention the invoice number when there is one.")
    api.create("other", content="Nothing relevant here.")

    results = api.get("contexts/", params={"q": "invoice billing"}).json()["results"]
    assert [r["key"] for r in results] == ["billing/faq"]
    results = api.get("contexts/", params={"q": "invoice"}).json()["results"]
    assert [r["key"] for r in results] == ["billing/faq", "style"] or [r["key"] for r in results] == ["style", "billing/faq"]
    assert all("«invoice»" in r["snippet"] for r in results)
    assert "content" not in results[0]
    phrase = api.get("contexts/", params={"q": '"invoice number" -billing'}).json()["results"]
    assert [r["key"] for r in phrase] == ["style"]


def test_field_projection_returns_only_the_fields_asked_for(api):
    api.create("brief", title="Brief", content="x" * 1000)
    results = api.get("contexts/", params={"fields": "key,version,content"}).json()["results"]
    assert results == [{"key": "brief", "version": 1, "content": "x" * 1000}]


def test_batch_get_answers_up_to_100_keys_in_one_statement_and_counts_each_read(api, acme):
    for n in range(3):
        api.create(f"k{n}")
    with CaptureQueriesContext(connection) as queries:
        response = api.call("POST", "contexts:batch-get", {"keys": ["k0", "k2", "nope", "k0"]})
    assert response.status_code == 200
    assert [c["key"] for c in response.json()["results"]] == ["k0", "k2"]
    assert response.json()["missing"] == ["nope"]
    assert sum(1 for q in queries.captured_queries if "contexts" in q["sql"].replace("context_versions", "")) == 1
    with tenant_context(acme):
        assert dict(Context.objects.values_list("key", "access_count")) == {"k0": 1, "k1": 0, "k2": 1}
    too_many = api.call("POST", "contexts:batch-get", {"keys": [f"k{n}" for n in range(101)]})
    assert too_many.status_code == 400 and too_many.json()["errors"][0]["field"] == "keys"


# --- versions ------------------------------------------------------------------------------------------------------


def test_versions_list_get_diff_and_restore(api, acme):
    api.create("brief", title="One", content="line one\nline two\n")
    api.call("PATCH", "contexts/brief", {"title": "Two", "content": "line one\nline 2\n"}, headers={"If-Match": '"v1"'})

    listing = api.get("contexts/brief/versions").json()
    assert [v["version"] for v in listing["results"]] == [2, 1] and listing["current_version"] == 2
    assert api.get("contexts/brief/versions/1").json()["content"] == "line one\nline two\n"
    assert problem_type(api.get("contexts/brief/versions/9")) == "version-not-found"
    diff = api.get("contexts/brief/diff", params={"from": "1", "to": "2"}).json()
    assert "-line two" in diff["content_diff"] and "+line 2" in diff["content_diff"]
    assert diff["changed_fields"] == {"title": {"from": "One", "to": "Two"}}

    restored = api.call("POST", "contexts/brief/versions/1/restore", headers={"If-Match": '"v2"'})
    assert restored.status_code == 200 and restored["ETag"] == '"v3"'
    context = stored(acme, "brief")
    assert (context.version, context.title, context.content) == (3, "One", "line one\nline two\n")
    assert api.call("POST", "contexts/brief/versions/1/restore").status_code == 428
    assert AuditLog.objects.filter(action="context.restored", details__restored_version=1).exists()


# --- summaries -----------------------------------------------------------------------------------------------------


def test_requesting_a_summary_answers_202_with_its_location_and_it_turns_stale_when_the_context_moves(api, acme):
    api.create("brief", content="Some text to summarise.")
    response = api.call("POST", "contexts/brief/summaries")
    assert response.status_code == 202
    summary = response.json()
    assert response["Location"] == summary["links"]["self"]
    assert (summary["status"], summary["context_version"], summary["stale"]) == ("pending", 1, False)

    api.call("PATCH", "contexts/brief", {"content": "New text."}, headers={"If-Match": '"v1"'})
    again = api.get(response["Location"].removeprefix("/api/v1/")).json()
    assert again["stale"] is True
    assert [s["id"] for s in api.get("contexts/brief/summaries").json()["results"]] == [summary["id"]]


def test_only_a_failed_summary_can_be_retried(api, acme):
    api.create("brief", content="text")
    summary_id = api.call("POST", "contexts/brief/summaries").json()["id"]
    conflict = api.call("POST", f"contexts/brief/summaries/{summary_id}/retry")
    assert conflict.status_code == 409 and problem_type(conflict) == "conflict"
    with tenant_context(acme):
        summary = Summary.objects.get(pk=summary_id)
        for _ in range(summary.max_attempts):
            summary = summary_failed(summary=summary, error="backend down")
        assert summary.status == "failed"
    retried = api.call("POST", f"contexts/brief/summaries/{summary_id}/retry")
    assert retried.status_code == 202 and retried.json()["status"] == "pending"
    assert retried.json()["last_error"] == "backend down"
    assert problem_type(api.get("contexts/brief/summaries/999999")) == "summary-not-found"


# --- credentials and scopes ------------------------------------------------------------------------------------------


def test_no_key_is_401_with_www_authenticate_and_is_audited(acme):
    response = Api("acme.localhost", None).get("contexts/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert problem_type(response) == "credential-missing"
    entry = AuditLog.objects.get(action="api.access_refused")
    assert (entry.outcome, entry.tenant_id, entry.details["reason"]) == ("denied", acme.pk, "credential-missing")


def test_a_key_in_the_query_string_is_never_accepted(acme):
    _, raw_key = api_key_create(tenant=acme, name="t", scopes=["contexts:read"])
    anonymous = Api("acme.localhost", None)
    for name in ("api_key", "access_token", "key"):
        response = anonymous.get("contexts/", params={name: raw_key})
        assert response.status_code == 401, name


def test_unknown_revoked_and_expired_keys_are_401_and_read_nothing(api, acme):
    api.create("brief")
    revoked, revoked_key = api_key_create(tenant=acme, name="old", scopes=["contexts:read"])
    api_key_revoke(api_key=revoked)
    expired, expired_key = api_key_create(tenant=acme, name="exp", scopes=["contexts:read"],
                                          expires_at=timezone.now() + dt.timedelta(days=1))
    ApiKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    forged = revoked_key[:-3] + "abc"
    for raw_key, problem in ((revoked_key, "credential-revoked"), (expired_key, "credential-expired"),
                             (forged, "credential-invalid"), ("not-a-key", "credential-invalid")):
        response = Api("acme.localhost", raw_key).get("contexts/brief")
        assert response.status_code == 401 and problem_type(response) == problem
        assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert stored(acme, "brief").access_count == 0
    refusals = AuditLog.objects.filter(action="api.access_refused")
    assert refusals.count() == 4 and not any(revoked_key.split("_", 2)[2] in str(e.details) for e in refusals)


def test_a_flood_of_refused_keys_is_429_after_the_budget_and_audited_once_past_it(api, acme, globex, settings,
                                                                               monkeypatch):
    """Each refusal is audited up to REFUSED_CREDENTIALS_PER_MINUTE from one address; past it the answer is 429 and
    one entry says the flood began, however long it lasts. Valid keys, and other hosts, are not held back."""
    settings.REFUSED_CREDENTIALS_PER_MINUTE = 3
    monkeypatch.setattr(rate_limits, "_now", lambda: 1_800_000_010.0)  # a minute that does not end in the test
    api.create("brief")
    forger = Api("acme.localhost", "mcpk_abcdefghijkl_" + "x" * 43)

    statuses = [forger.get("contexts/brief").status_code for _ in range(6)]

    assert statuses == [401, 401, 401, 429, 429, 429]
    throttled = forger.get("contexts/brief")
    assert (throttled.status_code, throttled["Retry-After"], problem_type(throttled)) == (429, "50", "rate-limited")
    assert AuditLog.objects.filter(action="api.access_refused").count() == 3
    (flood,) = AuditLog.objects.filter(action="api.refusals_throttled")
    assert (flood.tenant_id, flood.details["reason"], flood.details["refusals_per_minute"]) == (
        acme.pk, "credential-invalid", 3)
    assert api.get("contexts/brief").status_code == 200
    assert Api("globex.localhost", "mcpk_abcdefghijkl_" + "x" * 43).get("contexts/").status_code == 401
    assert stored(acme, "brief").access_count == 1


def test_a_missing_scope_is_403_naming_it(acme):
    reader = api_for(acme, scopes=["contexts:read"])
    response = reader.create("brief", content="x")
    assert response.status_code == 403 and problem_type(response) == "insufficient-scope"
    assert "'contexts:write'" in response.json()["detail"]
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    assert stored(acme, "brief") is None
    writer = api_for(acme, scopes=["contexts:read", "contexts:write"])
    writer.create("brief")
    summary = writer.call("POST", "contexts/brief/summaries")
    assert summary.status_code == 403 and "'summaries:write'" in summary.json()["detail"]
    with tenant_context(acme):
        assert not Summary.objects.exists()
    assert reader.call("POST", "contexts:batch-get", {"keys": ["brief"]}).status_code == 200


def test_a_suspended_tenants_api_is_403(api, acme):
    api.create("brief")
    tenant_suspend(tenant=acme, reason="unpaid")
    response = api.get("contexts/brief")
    assert response.status_code == 403 and problem_type(response) == "tenant-suspended"


def test_writes_through_the_api_are_audited_with_the_key_as_actor(api, acme):
    api.create("brief")
    entry = AuditLog.objects.get(action="context.created")
    key = ApiKey.objects.get(tenant=acme, name="tests")
    assert (entry.actor_type, entry.actor_id, entry.tenant_id) == ("api_key", key.pk, acme.pk)
    assert entry.actor_label == f"key {key.key_id} (tests)"
    assert entry.request_id


def test_an_unknown_path_under_the_api_is_a_problem_not_a_page(api):
    for path in ("nothing-here", "contexts/a//b", "v2/contexts/"):
        response = api.get(path)
        assert response.status_code == 404 and problem_type(response) == "not-found", path



def test_a_write_that_changes_nothing_makes_no_new_version(api, acme):
    api.create("brief", title="Brief", content="v1")
    for method, body in (("PATCH", {}), ("PATCH", {"content": "v1"}), ("PUT", {"title": "Brief", "content": "v1"})):
        response = api.call(method, "contexts/brief", body, headers={"If-Match": '"v1"'})
        assert response.status_code == 200 and response["ETag"] == '"v1"', method
    with tenant_context(acme):
        assert ContextVersion.objects.count() == 1
    assert AuditLog.objects.filter(action="context.updated").count() == 0
    stale = api.call("PATCH", "contexts/brief", {}, headers={"If-Match": '"v9"'})
    assert stale.status_code == 412  # the precondition still holds a no-op to the version read
