"""Printed URLs name the scheme and port people reach the service on; the addresses the banner shows serve it."""

from io import StringIO

import pytest
from django.core.management import call_command

from tenants.links import admin_url, site_url
from tests.conftest import host_client, run_manage


def test_urls_take_the_scheme_and_port_of_site_url(settings):
    assert settings.SITE_URL == "http://localhost:8000"  # the development default: where make run serves
    assert admin_url("acme.localhost") == "http://acme.localhost:8000/admin/"
    settings.SITE_SCHEME, settings.SITE_PORT = "https", None
    assert admin_url("acme.example.com") == "https://acme.example.com/admin/"
    settings.SITE_SCHEME, settings.SITE_PORT = "https", 443
    assert site_url("acme.example.com", "/x") == "https://acme.example.com/x"


def test_create_tenant_prints_the_owners_sign_in_url_with_the_port(public_tenant):
    out = StringIO()
    call_command("create_tenant", "--slug", "acme", "--name", "Acme", "--admin-email", "boss@acme.test", stdout=out)
    assert "Owner boss@acme.test can sign in at http://acme.localhost:8000/admin/ with the temporary password" in (
        out.getvalue()
    )


def test_seed_demo_prints_urls_that_work_with_make_run(public_tenant):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "Platform admin: http://localhost:8000/admin/" in out.getvalue()
    assert "Demo tenant:    http://demo.localhost:8000/admin/" in out.getvalue()


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "0.0.0.0:8000", "localhost:8000"])
def test_the_addresses_the_runserver_banner_shows_serve_the_public_host(public_tenant, host):
    response = host_client(host).get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert host_client(host).get("/healthz").json()["tenant"] == "public"


def test_an_address_that_is_no_alias_is_still_no_tenant(public_tenant, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "10.1.2.3"]
    assert host_client("10.1.2.3").get("/healthz").status_code == 404


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("site_url", "message"),
    [
        ("ftp://localhost", "must be http(s)://localhost[:port]"),
        ("http://example.com:8000", "must be http(s)://localhost[:port]"),
        ("http://localhost:80x", "has a port that is not a number"),
        ("http://localhost:8000/app", "must be http(s)://localhost[:port]"),
    ],
)
def test_a_wrong_site_url_is_one_line_configuration_error(site_url, message):
    result = run_manage("check", env={"SITE_URL": site_url})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Configuration error: SITE_URL=") and message in lines[0], lines
