import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from mcp.problems import problem_type_uri
from tenants.models import Domain, Tenant
from tenants.services import tenant_activate, tenant_suspend
from tests.conftest import host_client


def test_the_public_host_serves_the_platform_admin(public_tenant):
    response = host_client("localhost").get("/admin/login/")
    assert response.status_code == 200
    assert b"MCP platform administration" in response.content


def test_a_tenant_host_serves_that_tenant(acme):
    response = host_client("acme.localhost").get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "tenant": "acme"}


def test_an_unknown_host_gets_a_plain_404(public_tenant):
    response = host_client("nobody.localhost").get("/admin/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"No tenant is served at nobody.localhost.\n"


def test_a_request_leaves_the_connection_on_its_tenant_schema_only_for_that_request(acme, globex):
    assert host_client("acme.localhost").get("/healthz").json()["tenant"] == "acme"
    assert host_client("globex.localhost").get("/healthz").json()["tenant"] == "globex"
    assert host_client("localhost").get("/healthz").json()["tenant"] == "public"


def test_migrate_schemas_shared_makes_the_public_tenant_and_its_domain(db, settings):
    settings.BASE_DOMAIN = "platform.test"
    Tenant.objects.filter(schema_name="public").delete()  # the test database was built with one

    call_command("migrate_schemas", "--shared", verbosity=0, stdout=StringIO())

    public = Tenant.objects.get(schema_name="public")
    assert public.slug == "public"
    assert Domain.objects.get(domain="platform.test").tenant == public
    # Running it again changes nothing.
    call_command("migrate_schemas", "--shared", verbosity=0, stdout=StringIO())
    assert Tenant.objects.filter(schema_name="public").count() == 1
    assert Domain.objects.filter(tenant=public).count() == 1


def test_tenant_id_env_migrates_only_that_tenants_schema(acme, globex, monkeypatch):
    with connection.cursor() as cursor:
        for schema in ("tenant_acme", "tenant_globex"):
            cursor.execute(f"DELETE FROM \"{schema}\".django_migrations WHERE app = 'contexts'")
            cursor.execute(f'DROP TABLE "{schema}".summaries, "{schema}".context_versions, "{schema}".contexts')
    monkeypatch.setenv("TENANT_ID", "acme")

    call_command("migrate_schemas", verbosity=0, stdout=StringIO())

    with connection.cursor() as cursor:
        cursor.execute("SELECT schemaname FROM pg_tables WHERE tablename = 'contexts'")
        assert {row[0] for row in cursor.fetchall()} == {"tenant_acme"}


def test_tenant_id_naming_no_tenant_is_refused(public_tenant, monkeypatch):
    from django.core.management.base import CommandError

    monkeypatch.setenv("TENANT_ID", "nobody")
    with pytest.raises(CommandError, match="TENANT_ID='nobody' names no tenant"):
        call_command("migrate_schemas", verbosity=0, stdout=StringIO())


def test_migrate_schemas_for_a_missing_schema_is_one_clear_error(public_tenant):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match='Schema "tenant_nobody" does not exist'):
        call_command("migrate_schemas", "--schema", "tenant_nobody", verbosity=0, stdout=StringIO())


def test_a_suspended_tenant_host_answers_403_and_activation_restores_it(acme):
    client = host_client("acme.localhost")
    tenant_suspend(tenant=acme, reason="unpaid")

    response = client.get("/healthz")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    problem = json.loads(response.content)
    assert problem["type"].endswith("/tenant-suspended")
    assert "'acme' is suspended" in problem["detail"]
    assert problem["request_id"] == response["X-Request-ID"]
    assert client.get("/admin/login/").status_code == 403

    tenant_activate(tenant=acme)
    assert client.get("/healthz").status_code == 200


def test_a_browser_on_a_suspended_tenant_host_gets_a_page_saying_so(acme):
    client = host_client("acme.localhost")
    tenant_suspend(tenant=acme, reason="unpaid")
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

    page = client.get("/admin/", HTTP_ACCEPT=browser)
    document = client.get("/admin/", HTTP_ACCEPT="*/*")

    assert (page.status_code, page["Content-Type"]) == (403, "text/html; charset=utf-8")
    text = page.content.decode()
    assert "<h1>Tenant suspended</h1>" in text and "The tenant &#x27;acme&#x27; is suspended" in text
    assert page["X-Request-ID"] in text and f'href="{problem_type_uri("tenant-suspended")}"' in text
    assert (document.status_code, document["Content-Type"]) == (403, "application/problem+json")


def test_suspending_one_tenant_leaves_the_others_served(acme, globex):
    tenant_suspend(tenant=acme)
    assert host_client("globex.localhost").get("/healthz").status_code == 200
    assert host_client("localhost").get("/healthz").status_code == 200


def test_migrate_schemas_names_a_tenant_whose_schema_is_gone(acme, globex):
    from django.core.management.base import CommandError

    with connection.cursor() as cursor:
        cursor.execute('DROP SCHEMA "tenant_globex" CASCADE')
    with pytest.raises(CommandError, match=r"tenant\(s\) globex does not exist; run manage.py create_missing_schemas"):
        call_command("migrate_schemas", verbosity=0, stdout=StringIO())
