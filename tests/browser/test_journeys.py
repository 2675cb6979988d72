"""The admin journeys in a real browser: Chromium against a server in a child process, on real host names.

Every page loaded is measured at 1280 px: no table may be wider than its container.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from audit.models import AuditLog
from contexts.models import Context
from tenants.models import Domain, Tenant, User
from tenants.services import tenant_create
from tests.browser.browsing import assert_no_overflow, form_errors, messages, session_cookie, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.browser.conftest import Credentials, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]

PLATFORM_HOST = "localhost"
NewPage = Callable[[], "Page"]


def path_of(page: Page) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url)


def tenant_slugs() -> set[str]:
    return set(Tenant.objects.values_list("slug", flat=True))


def schema_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {row[0] for row in cursor.fetchall()}


def seed_tenant(slug: str, *, owner: bool = True) -> tuple[Tenant, Credentials | None]:
    """Create a tenant through the service (committed), with an owner account when asked."""
    from tests.browser.conftest import Credentials

    email = f"owner@{slug}.localhost"
    tenant, password = tenant_create(slug=slug, name=slug.title(), admin_email=email if owner else None)
    return tenant, (Credentials(email=email, password=password) if password else None)


def sign_in_platform(page: Page, live_site: LiveServer, admin: Credentials) -> None:
    sign_in(page, live_site.url(PLATFORM_HOST, "/admin/"), admin.email, admin.password)
    assert path_of(page) == "/admin/", f"The platform sign-in did not reach the admin: {page.url} {form_errors(page)}"


def run_tenant_action(page: Page, live_site: LiveServer, tenant: Tenant, action_label: str) -> None:
    """On the tenants list, select one tenant and run an action (the Go button)."""
    page.goto(live_site.url(PLATFORM_HOST, "/admin/tenants/tenant/"))
    page.check(f"input[name=_selected_action][value='{tenant.pk}']")
    page.select_option("select[name=action]", label=action_label)
    with page.expect_navigation():
        page.get_by_role("button", name="Go").click()


def password_in(text: str) -> str | None:
    """Find a generated password in a message: a run of URL-safe characters that is not an English word."""
    for token in re.findall(r"(?<![\w@./:-])[A-Za-z0-9_-]{12,}(?![\w@/:-])", text):
        if not re.fullmatch(r"[a-z]+", token):
            return token
    return None


def test_platform_staff_sign_in_and_every_page_of_the_index_fits(
    new_page: NewPage, live_site: LiveServer, platform_admin: Credentials
) -> None:
    seed_tenant("acme")
    page = new_page()

    sign_in_platform(page, live_site, platform_admin)

    assert session_cookie(page) is not None
    assert page.locator("#site-name").inner_text().strip() == "MCP platform administration"
    page.shot("platform-index")  # type: ignore[attr-defined]
    visit_every_page_of_the_index(page, live_site, PLATFORM_HOST)
    assert_no_overflow(page)


def visit_every_page_of_the_index(page: Page, live_site: LiveServer, host: str) -> None:
    """Open each list and add form the admin index links to (each load is measured for overflow)."""
    paths = page.locator("#content-main a[href^='/admin/']").evaluate_all(
        "links => [...new Set(links.map((link) => link.getAttribute('href')))]"
    )
    assert paths, "The admin index links to nothing."
    for path in paths:
        response = page.goto(live_site.url(host, path))
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        page.shot(path.strip("/").replace("/", "-"))  # type: ignore[attr-defined]


def test_platform_staff_create_a_tenant_with_an_owner_who_can_sign_in(
    new_page: NewPage, live_site: LiveServer, platform_admin: Credentials
) -> None:
    page = new_page()
    sign_in_platform(page, live_site, platform_admin)

    page.locator("#content-main tr.model-tenant th a").click()  # the model's link, not the app's
    page.get_by_role("link", name=re.compile(r"^Add tenant")).click()
    page.wait_for_url("**/admin/tenants/tenant/add/")
    page.fill("#id_slug", "wayne-ent")
    page.fill("#id_name", "Wayne Enterprises")
    # The domain is left empty: wayne-ent.localhost.
    page.select_option("#id_plan", "team")
    page.fill("#id_billing_email", "billing@wayne.example")
    assert page.locator("#id_owner_email").count() == 1, "The tenant add form has no owner_email field."
    page.fill("#id_owner_email", "Bruce@Wayne.example")
    page.shot("tenant-add-filled")  # type: ignore[attr-defined]
    with page.expect_navigation():
        page.click("input[name=_save]")
    page.shot("tenant-added")  # type: ignore[attr-defined]

    assert not form_errors(page), f"The tenant was refused: {form_errors(page)}"
    tenant = Tenant.objects.get(slug="wayne-ent")
    assert (tenant.name, tenant.plan, tenant.billing_email) == ("Wayne Enterprises", "team", "billing@wayne.example")
    assert Domain.objects.filter(tenant=tenant, domain="wayne-ent.localhost", is_primary=True).exists()
    assert "tenant_wayne_ent" in schema_names()
    owner = User.objects.get(tenant=tenant)
    assert (owner.email, owner.role) == ("bruce@wayne.example", User.Role.OWNER)

    # The temporary password is shown once, in the messages.
    shown = [text for text in messages(page) if password_in(text) and "password" in text.lower()]
    assert len(shown) == 1, f"No single message shows the owner's temporary password: {messages(page)}"
    password = password_in(shown[0])
    assert password is not None
    # Nowhere after that page: not in a message waiting for the next one, the tenant's page or the audit log.
    for path in ["/admin/tenants/tenant/", f"/admin/tenants/tenant/{tenant.pk}/change/", "/admin/audit/auditlog/"]:
        page.goto(live_site.url(PLATFORM_HOST, path))
        page.shot(path.strip("/").replace("/", "-"))  # type: ignore[attr-defined]
        assert password not in page.content(), f"{path} shows the owner's password again"
    assert_no_overflow(page)

    # The owner signs in on the tenant's own host with it.
    owner_page = new_page()
    sign_in(owner_page, live_site.url("wayne-ent.localhost", "/admin/"), "bruce@wayne.example", password)
    assert path_of(owner_page) == "/admin/", f"The owner could not sign in: {form_errors(owner_page)}"
    assert owner_page.locator("#site-name").inner_text().strip() == "Wayne Enterprises administration"
    assert_no_overflow(owner_page)


# (what the slug is, the slug, a phrase of the refusal)
HOSTILE_SLUGS = [
    ("capitals", "Acme", "not valid"),
    ("a space", "a b", "not valid"),
    ("SQL", "x'; drop table tenants; --", "not valid"),
    ("reserved", "public", "reserved"),
    ("pg prefix", "pg_x", "reserved"),
    ("57 characters", "a" * 57, "the most is 56"),
    ("an existing slug", "globex", "already exists"),
]


def test_hostile_slugs_are_refused_with_their_messages_and_create_nothing(
    new_page: NewPage, live_site: LiveServer, platform_admin: Credentials, subtests: Any
) -> None:
    seed_tenant("globex", owner=False)
    page = new_page()
    sign_in_platform(page, live_site, platform_admin)

    for label, slug, refusal in HOSTILE_SLUGS:
        with subtests.test(msg=label, slug=slug):
            before = (tenant_slugs(), schema_names(), Domain.objects.count())
            page.goto(live_site.url(PLATFORM_HOST, "/admin/tenants/tenant/add/"))
            page.fill("#id_slug", slug)
            page.fill("#id_name", "Hostile")
            with page.expect_navigation():
                page.click("input[name=_save]")
            page.shot(f"slug-{label}")  # type: ignore[attr-defined]

            errors = form_errors(page)
            assert any(refusal in error.lower() for error in errors), f"{slug!r}: no {refusal!r} among {errors}"
            assert path_of(page).endswith("/admin/tenants/tenant/add/"), f"{slug!r}: left the form for {page.url}"
            assert (tenant_slugs(), schema_names(), Domain.objects.count()) == before, f"{slug!r} created something"
    assert_no_overflow(page)


def test_platform_staff_suspend_a_tenant_with_a_reason_and_activate_it(
    new_page: NewPage, live_site: LiveServer, platform_admin: Credentials
) -> None:
    tenant, _ = seed_tenant("initech")
    reason = "Unpaid invoice INV-2024-117; billing to call back."
    tenant_admin_url = live_site.url("initech.localhost", "/admin/login/")
    page = new_page()
    sign_in_platform(page, live_site, platform_admin)

    run_tenant_action(page, live_site, tenant, "Suspend the selected tenants")
    page.shot("suspend-confirm")  # type: ignore[attr-defined]
    assert page.locator("[name=reason]").count() == 1, f"No confirmation page with a reason field: {page.url}"
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE, "The tenant was suspended before the confirmation."
    assert_no_overflow(page)
    page.fill("[name=reason]", reason)
    with page.expect_navigation():
        page.locator("form:has([name=reason]) [type=submit]").first.click()
    page.shot("suspended")  # type: ignore[attr-defined]
    assert any("suspended" in text.lower() for text in messages(page, "success")), messages(page)

    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.SUSPENDED
    entry = AuditLog.objects.get(action="tenant.suspended", tenant_id=tenant.pk)
    assert entry.details.get("reason") == reason
    assert entry.actor_label == platform_admin.email
    refused = page.goto(tenant_admin_url)
    assert refused is not None and refused.status == 403
    assert "suspended" in refused.text()
    page.shot("suspended-host")  # type: ignore[attr-defined]

    run_tenant_action(page, live_site, tenant, "Activate the selected tenants")
    assert any("activated" in text.lower() for text in messages(page, "success")), messages(page)
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE
    assert AuditLog.objects.filter(action="tenant.activated", tenant_id=tenant.pk).count() == 1
    served = page.goto(tenant_admin_url)
    assert served is not None and served.status == 200
    assert_no_overflow(page)


def test_the_owner_signs_in_on_the_tenant_host_and_creates_and_edits_a_context(
    new_page: NewPage, live_site: LiveServer
) -> None:
    tenant, owner = seed_tenant("hooli")
    assert owner is not None
    page = new_page()

    sign_in(page, live_site.url("hooli.localhost", "/admin/"), owner.email, owner.password)
    assert path_of(page) == "/admin/", f"The owner could not sign in: {form_errors(page)}"
    assert page.locator("#site-name").inner_text().strip() == "Hooli administration"
    page.shot("tenant-index")  # type: ignore[attr-defined]
    visit_every_page_of_the_index(page, live_site, "hooli.localhost")
    page.goto(live_site.url("hooli.localhost", "/admin/"))

    page.locator("#content-main tr.model-context th a").click()
    page.get_by_role("link", name=re.compile(r"^Add context")).click()
    page.wait_for_url("**/admin/contexts/context/add/")
    page.fill("#id_key", "onboarding/welcome")
    page.fill("#id_title", "Welcome")
    page.fill("#id_content", "New starters read this first.")
    page.fill("#id_tags", "onboarding,welcome")
    with page.expect_navigation():
        page.click("input[name=_save]")
    assert not form_errors(page), form_errors(page)
    assert any("onboarding/welcome" in text for text in messages(page, "success")), messages(page)
    page.shot("context-list")  # type: ignore[attr-defined]

    page.locator("#result_list").get_by_role("link", name="onboarding/welcome", exact=True).first.click()
    page.fill("#id_content", "New starters read this first, then the handbook.")
    with page.expect_navigation():
        page.click("input[name=_continue]")
    assert not form_errors(page), form_errors(page)
    page.shot("context-edited")  # type: ignore[attr-defined]
    assert page.locator(".field-version .readonly").inner_text().strip() == "2"

    with tenant_context(tenant):
        context = Context.objects.get(key="onboarding/welcome")
        assert (context.version, context.title, context.tags) == (2, "Welcome", ["onboarding", "welcome"])
        assert context.content == "New starters read this first, then the handbook."
        assert list(context.versions.order_by("version").values_list("version", flat=True)) == [1, 2]
        owner_id = User.objects.get(email=owner.email, tenant=tenant).pk
        assert (context.created_by_id, context.updated_by_id) == (owner_id, owner_id)
    assert_no_overflow(page)


def test_sign_in_on_another_organisations_host_is_refused_without_telling_whether_the_email_exists(
    new_page: NewPage, live_site: LiveServer, platform_admin: Credentials, subtests: Any
) -> None:
    _, owner = seed_tenant("umbrella")
    assert owner is not None
    attempts = [
        ("the tenant owner on the platform host", PLATFORM_HOST, owner),
        ("platform staff on the tenant host", "umbrella.localhost", platform_admin),
    ]
    for label, host, person in attempts:
        with subtests.test(msg=label):
            page = new_page()
            sign_in(page, live_site.url(host, "/admin/"), person.email, person.password)
            page.shot(f"refused-{host}")  # type: ignore[attr-defined]

            assert path_of(page).startswith("/admin/login/"), f"{label}: signed in ({page.url})"
            assert session_cookie(page) is None, f"{label}: a session was created"
            assert page.locator(".errornote").count() == 1, f"{label}: no refusal shown"
            refusal = page.locator(".errornote").inner_text().strip()
            assert re.search(r"organi[sz]ation", refusal, re.IGNORECASE), (
                f"{label}: the refusal does not point to their own organisation's address: {refusal!r}"
            )

            # An email no one has on this host gets the very same answer.
            sign_in(page, live_site.url(host, "/admin/"), f"nobody-{secrets.token_hex(4)}@example.com", person.password)
            assert page.locator(".errornote").inner_text().strip() == refusal
            assert session_cookie(page) is None
            assert_no_overflow(page)


def test_the_audit_log_filtered_by_tenant_from_the_tenant_page(
    new_page: NewPage, live_site: LiveServer, platform_admin: Credentials
) -> None:
    acme, _ = seed_tenant("acme")
    globex, _ = seed_tenant("globex")
    page = new_page()
    sign_in_platform(page, live_site, platform_admin)

    page.goto(live_site.url(PLATFORM_HOST, "/admin/tenants/tenant/"))
    page.get_by_role("link", name="acme", exact=True).click()
    page.get_by_role("link", name="This tenant's audit entries").click()
    page.wait_for_url("**/admin/audit/auditlog/**")
    page.shot("audit-acme")  # type: ignore[attr-defined]

    expected = set(AuditLog.objects.filter(tenant_id=acme.pk).values_list("id", flat=True))
    assert expected and AuditLog.objects.filter(tenant_id=globex.pk).exists()
    assert shown_audit_entry_ids(page) == expected
    page.locator("#result_list tbody tr a[href*='/auditlog/']").first.click()
    page.wait_for_url(re.compile(r".*/auditlog/\d+/"))
    page.shot("audit-entry")  # type: ignore[attr-defined]
    page.go_back()

    # The sidebar shows the tenant filter applied, and a way to clear it.
    selected = page.locator("#changelist-filter li.selected").all_inner_texts()
    assert any("acme" in text for text in selected), f"The sidebar does not show the tenant filter: {selected}"
    clear = page.locator("#changelist-filter a", has_text=re.compile("clear", re.IGNORECASE))
    assert clear.count() >= 1, "The sidebar has no link that clears the filter."
    clear.first.click()
    page.wait_for_load_state()
    page.shot("audit-cleared")  # type: ignore[attr-defined]
    assert not [name for name in parse_qs(urlsplit(page.url).query) if name.startswith("tenant")], page.url
    assert shown_audit_entry_ids(page) >= expected | set(
        AuditLog.objects.filter(tenant_id=globex.pk).values_list("id", flat=True)
    )
    assert_no_overflow(page)


def shown_audit_entry_ids(page: Page) -> set[int]:
    """Return the ids of the audit entries listed on the page (from their rows' links)."""
    hrefs = page.locator("#result_list tbody tr a[href*='/auditlog/']").evaluate_all(
        "links => links.map((link) => link.getAttribute('href'))"
    )
    return {int(match.group(1)) for href in hrefs if (match := re.search(r"/auditlog/(\d+)/", href))}
