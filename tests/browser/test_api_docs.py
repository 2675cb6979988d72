"""The API's Swagger UI in a real browser: it loads only from its own host, and a pasted key makes real calls."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from django_tenants.utils import tenant_context

from contexts.models import Context
from tenants.api_keys import api_key_create
from tenants.models import ApiKey
from tenants.services import tenant_create

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]

HOST = "docs.localhost"
PUT = "#operations-contexts-contexts_put"


def test_the_docs_load_from_this_host_alone_and_a_pasted_key_creates_a_context(
    new_page: Callable[[], Page], live_site: LiveServer
) -> None:
    tenant, _ = tenant_create(slug="docs", name="Docs")
    _, key = api_key_create(tenant=tenant, name="swagger", scopes=list(ApiKey.Scope.values))
    page = new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(live_site.url(HOST, "/api/docs/"))
    page.wait_for_selector(f"{PUT} .opblock-summary")
    page.shot("docs")  # type: ignore[attr-defined]
    page.click("button.authorize")
    page.fill(".modal-ux input", key)
    page.click(".modal-ux button.authorize")
    page.click(".modal-ux button.btn-done")
    page.click(f"{PUT} .opblock-summary")
    page.click(f"{PUT} .try-out__btn")
    page.fill(f"{PUT} tr[data-param-name='key'] input", "notes/from-the-docs")
    page.select_option(f"{PUT} tr[data-param-name='If-None-Match'] select", "*")
    page.fill(f"{PUT} textarea.body-param__text", '{"title": "From the docs", "tags": ["docs"]}')
    page.click(f"{PUT} .execute")
    status = page.locator(f"{PUT} .live-responses-table tbody .response-col_status").first
    status.wait_for()
    page.shot("created")  # type: ignore[attr-defined]

    assert status.inner_text().strip() == "201"
    with tenant_context(tenant):
        assert Context.objects.get(key="notes/from-the-docs").title == "From the docs"
    origin = live_site.url(HOST, "/")
    assert requested and all(url.startswith(origin) for url in requested), requested
    assert any(re.search(r"/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle\.js$", url)
               for url in requested)
