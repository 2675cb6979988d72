"""contexts.api.negotiation answers as DRF's DefaultContentNegotiation does, whatever the Accept header."""

from __future__ import annotations

import pytest
from django.http import Http404
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from contexts.api.negotiation import ContentNegotiation
from tests.contexts.api_client import problem_type


def choice(negotiation: object, renderers: list, path: str, accept: str | None) -> object:
    extra = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(path, **extra))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)  # type: ignore[attr-defined]
    except NotAcceptable:
        return "406"
    except Http404:  # ?format= naming no renderer
        return "404"
    return type(renderer), media_type


@pytest.mark.parametrize("accept", [
    None, "*/*", "application/json", "", "text/html", "application/*", "application/json; indent=4",
    "application/json, text/plain", "text/plain;q=0.5, application/json", "application/problem+json", "*/*;q=0.1",
])
@pytest.mark.parametrize("path", ["/api/v1/contexts/a", "/api/v1/contexts/a?format=json", "/api/v1/contexts/a?format=api"])
@pytest.mark.parametrize("renderers", [[JSONRenderer()], [JSONRenderer(), BrowsableAPIRenderer()]])
def test_the_answer_is_drfs(accept, path, renderers):
    assert choice(ContentNegotiation(), renderers, path, accept) == choice(
        DefaultContentNegotiation(), renderers, path, accept)


def test_the_api_answers_an_accept_it_cannot_serve_with_a_406_problem(acme):
    from tests.contexts.api_client import api_for

    api = api_for(acme)
    api.create("brief", content="x")

    assert api.get("contexts/brief").status_code == 200
    assert api.get("contexts/brief", headers={"Accept": "application/json"}).status_code == 200
    refused = api.get("contexts/brief", headers={"Accept": "text/html"})
    assert refused.status_code == 406 and problem_type(refused) == "not-acceptable"
