"""The OpenAPI document (/api/schema/) and its Swagger UI (/api/docs/): served on tenant hosts, complete, true."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import jsonschema
import pytest
from django.contrib.staticfiles import finders

from contexts.api.schema import KEY_PARAMETER_PATTERN
from contexts.api.serializers import ListingQuery
from contexts.errors import InvalidContext
from contexts.limits import MAX_KEY_LENGTH, validate_key
from tests.conftest import host_client, run_manage
from tests.contexts.api_client import Api, api_for

PROBLEM = "application/problem+json"
OPERATIONS = {
    ("get", "/api/v1/contexts/"): "contexts_list",
    ("get", "/api/v1/contexts/{key}"): "contexts_get",
    ("put", "/api/v1/contexts/{key}"): "contexts_put",
    ("patch", "/api/v1/contexts/{key}"): "contexts_patch",
    ("delete", "/api/v1/contexts/{key}"): "contexts_delete",
    ("post", "/api/v1/contexts:batch-get"): "contexts_batch_get",
    ("post", "/api/v1/contexts/{key}/archive"): "contexts_archive",
    ("post", "/api/v1/contexts/{key}/unarchive"): "contexts_unarchive",
    ("get", "/api/v1/contexts/{key}/versions"): "versions_list",
    ("get", "/api/v1/contexts/{key}/versions/{version}"): "versions_get",
    ("post", "/api/v1/contexts/{key}/versions/{version}/restore"): "versions_restore",
    ("get", "/api/v1/contexts/{key}/diff"): "versions_diff",
    ("get", "/api/v1/contexts/{key}/summaries"): "summaries_list",
    ("post", "/api/v1/contexts/{key}/summaries"): "summaries_request",
    ("get", "/api/v1/contexts/{key}/summaries/{summary_id}"): "summaries_get",
    ("post", "/api/v1/contexts/{key}/summaries/{summary_id}/retry"): "summaries_retry",
}
# The operations that change a context, and the precondition header each needs or takes.
WRITES = {"contexts_put": 428, "contexts_patch": 428, "contexts_delete": 428, "versions_restore": 428,
          "contexts_archive": None, "contexts_unarchive": None}
WITH_BODY = {"contexts_put", "contexts_patch", "contexts_batch_get", "summaries_request"}


@pytest.fixture
def document(acme) -> dict[str, Any]:
    response = host_client("acme.localhost").get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content[:500]
    return response.json()


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {operation["operationId"]: operation for path in document["paths"].values()
            for operation in path.values()}


def test_the_document_is_openapi_3_1_served_on_a_tenant_host_without_a_key(acme):
    as_json = host_client("acme.localhost").get("/api/schema/", {"format": "json"})
    as_yaml = host_client("acme.localhost").get("/api/schema/")
    with_a_wrong_key = host_client("acme.localhost").get("/api/schema/", HTTP_AUTHORIZATION="Bearer mcpk_1_nope")
    accepting_json = host_client("acme.localhost").get("/api/schema/", HTTP_ACCEPT="application/json; indent=1")
    again = host_client("acme.localhost").get("/api/schema/", {"format": "json"})  # rendered once, then reused

    assert as_json.status_code == 200 and as_json.json()["openapi"] == "3.1.0"
    assert as_json["Content-Type"] == "application/vnd.oai.openapi+json"
    assert accepting_json["Content-Type"] == "application/json" and accepting_json.json() == as_json.json()
    assert again.content == as_json.content
    assert as_yaml.status_code == 200 and as_yaml["Content-Type"].startswith("application/vnd.oai.openapi")
    assert as_yaml.content.startswith(b"openapi: 3.1.0")
    assert with_a_wrong_key.status_code == 200


def test_the_document_is_the_same_on_every_tenant_host_and_names_no_tenant(acme, globex):
    acme_document = host_client("acme.localhost").get("/api/schema/", {"format": "json"}).content
    globex_document = host_client("globex.localhost").get("/api/schema/", {"format": "json"}).content

    assert acme_document == globex_document
    assert b"acme" not in acme_document.lower().replace(b"projects/acme/notes", b"")


def test_the_public_host_serves_no_api_document(public_tenant):
    assert host_client("localhost").get("/api/schema/").status_code == 404
    assert host_client("localhost").get("/api/docs/").status_code == 404


def test_every_operation_has_its_own_meaningful_operation_id(document):
    found = {(method, path): operation["operationId"] for path, methods in document["paths"].items()
             for method, operation in methods.items()}

    assert found == OPERATIONS


def test_every_operation_needs_the_bearer_key_and_the_scheme_lets_a_person_paste_one(document):
    scheme = document["components"]["securitySchemes"]["ApiKey"]

    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert all(operation["security"] == [{"ApiKey": []}] for operation in operations(document).values())


def test_every_operation_documents_its_refusals_as_problem_json(document):
    for name, operation in operations(document).items():
        statuses = {int(status) for status in operation["responses"] if int(status) >= 400}
        expected = {401, 403, 406, 429} | ({400, 413, 415} if name in WITH_BODY else set())
        if WRITES.get(name):
            expected |= {412, 428}
        if "{key}" in next(path for path, methods in document["paths"].items() if name in
                           {op["operationId"] for op in methods.values()}):
            expected |= {400, 404}
        assert expected <= statuses, (name, sorted(expected - statuses))
        for status in statuses:
            content = operation["responses"][str(status)]["content"]
            assert list(content) == [PROBLEM], (name, status)
            assert content[PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}
        assert operation["responses"]["401"]["headers"]["WWW-Authenticate"]["required"] is True
        assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_writes_document_their_precondition_headers(document):
    by_name = operations(document)

    def headers(name: str) -> set[str]:
        return {parameter["name"] for parameter in by_name[name]["parameters"] if parameter["in"] == "header"}

    assert {"If-Match", "If-None-Match"} <= headers("contexts_put")
    assert by_name["contexts_put"]["responses"]["201"]["headers"]["Location"]["required"] is True
    for name in ("contexts_patch", "contexts_delete", "versions_restore", "contexts_archive", "contexts_unarchive"):
        assert "If-Match" in headers(name), name
    assert "If-None-Match" in headers("contexts_get")
    assert set(by_name["contexts_get"]["responses"]) >= {"200", "304"}
    assert by_name["contexts_get"]["responses"]["200"]["headers"]["ETag"]["required"] is True


def test_the_listing_documents_every_query_parameter_it_takes(document):
    parameters = {parameter["name"] for parameter in operations(document)["contexts_list"]["parameters"]
                  if parameter["in"] == "query"}
    diff_parameters = {parameter["name"] for parameter in operations(document)["versions_diff"]["parameters"]
                       if parameter["in"] == "query"}

    assert parameters == set(ListingQuery().fields)
    assert diff_parameters == {"from", "to"}


def test_request_bodies_refuse_unknown_fields_as_the_api_does(document):
    schemas = document["components"]["schemas"]

    for name in ("ContextWriteRequest", "PatchedContextWriteRequest", "BatchGetRequest", "EmptyBodyRequest"):
        assert schemas[name]["additionalProperties"] is False, name


@pytest.mark.parametrize("key", [
    "notes", "projects/acme/notes", "a", "a.b/c-d_e~f", "x" * MAX_KEY_LENGTH,
    "", ".hidden", "a//b", "a/", "/a", "notes/versions", "diff", "a/archive/b", "has space", "percent%2F",
    "notes\n", "x" * (MAX_KEY_LENGTH + 1), "naïve", "a\x00b",
])
def test_the_documented_key_pattern_accepts_exactly_the_keys_the_api_accepts(key):
    try:
        validate_key(key)
        accepted = True
    except InvalidContext:
        accepted = False

    documented = bool(re.search(KEY_PARAMETER_PATTERN, key)) and 1 <= len(key) <= MAX_KEY_LENGTH

    assert documented == accepted


def problem_validator(document: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": "#/components/schemas/Problem",
                                            "components": document["components"]})


def test_real_refusals_match_the_documented_problem(document, acme):
    api = api_for(acme)
    api.create("notes", content="text")
    refusals = [
        Api("acme.localhost", None).get("contexts/notes"),                            # 401
        api.get("contexts/missing"),                                                  # 404
        api.call("PUT", "contexts/notes", {"title": 5}, headers={"If-Match": '"v1"'}),  # 400 with errors[]
        api.call("PATCH", "contexts/notes", {"title": "x"}),                          # 428
        api.call("PATCH", "contexts/notes", {"title": "x"}, headers={"If-Match": '"v9"'}),  # 412
        api.call("PUT", "contexts/notes", raw="{", headers={"If-Match": '"v1"'}),     # 400 malformed
        api.call("POST", "contexts:batch-get", raw="keys=a", content_type="text/plain"),  # 415
    ]
    validator = problem_validator(document)

    assert [response.status_code for response in refusals] == [401, 404, 400, 428, 412, 400, 415]
    for response in refusals:
        assert response["Content-Type"] == PROBLEM
        errors = [error.message for error in validator.iter_errors(response.json())]
        assert errors == [], (response.status_code, response.json(), errors)


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if (tag, name) in (("script", "src"), ("link", "href"), ("img", "src")) and value:
                self.urls.append(value)


def test_the_docs_page_loads_swagger_ui_from_the_projects_own_static_files(acme):
    response = host_client("acme.localhost").get("/api/docs/")

    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assets = _Assets()
    assets.feed(page)
    assert len(assets.urls) >= 3  # the stylesheet, the bundle and the preset (and the favicon)
    for url in assets.urls:
        assert url.startswith("/static/drf_spectacular_sidecar/"), url
        assert finders.find(url.removeprefix("/static/")), url  # shipped in the sidecar's wheel
    assert not re.search(r"https?://", page.replace("http://www.w3.org", "")), "the page names another site"
    assert '"/api/schema/"' in page  # Swagger UI reads the document from this host


@pytest.mark.subprocess
def test_spectacular_validates_the_document_without_a_warning():
    result = run_manage("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")

    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and "Error" not in result.stderr
