"""Domains: one rule and one service, whichever door adds, changes or removes them."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditLog
from tenants.errors import DomainTaken, InvalidDomain, TenantError
from tenants.models import Domain
from tenants.services import domain_add, domain_change, domain_get, domain_remove
from tests.conftest import host_client, run_manage
from tests.tenants.test_admin import signed_in_client


def domains_of(tenant) -> dict[str, bool]:
    return dict(Domain.objects.filter(tenant=tenant).values_list("domain", "is_primary"))


def test_domain_add_normalises_the_name_serves_it_and_audits_it(acme):
    added = domain_add(tenant=acme, domain="API.Acme.Localhost", actor_label="test")

    assert added.domain == "api.acme.localhost" and not added.is_primary
    assert domains_of(acme) == {"acme.localhost": True, "api.acme.localhost": False}
    assert host_client("api.acme.localhost").get("/healthz").json()["tenant"] == "acme"
    entry = AuditLog.objects.get(action="domain.added")
    assert (entry.tenant_id, entry.details) == (acme.pk, {"domain": "api.acme.localhost", "is_primary": False})


def test_an_international_domain_is_stored_as_browsers_send_it(acme):
    domain_add(tenant=acme, domain="bücher.localhost")
    assert host_client("xn--bcher-kva.localhost").get("/healthz").json()["tenant"] == "acme"


@pytest.mark.parametrize(
    ("domain", "error"),
    [("globex.localhost", DomainTaken), ("acme.localhost:8000", InvalidDomain), ("http://x y", InvalidDomain),
     ("localhost", DomainTaken)],
)
def test_domain_add_refuses_and_changes_nothing(acme, globex, domain, error):
    before = (domains_of(acme), domains_of(globex))
    with pytest.raises(error):
        domain_add(tenant=acme, domain=domain)
    assert (domains_of(acme), domains_of(globex)) == before
    assert not AuditLog.objects.filter(action="domain.added").exists()


def test_making_a_domain_primary_takes_the_flag_from_the_old_one(acme):
    domain_add(tenant=acme, domain="acme.example", is_primary=True)
    assert domains_of(acme) == {"acme.localhost": False, "acme.example": True}
    old = Domain.objects.get(domain="acme.localhost")
    domain_change(domain=old, is_primary=True)
    assert domains_of(acme) == {"acme.localhost": True, "acme.example": False}


def test_the_primary_domain_can_neither_be_unflagged_nor_removed(acme):
    primary = Domain.objects.get(domain="acme.localhost")
    with pytest.raises(TenantError, match="make another domain primary"):
        domain_change(domain=primary, is_primary=False)
    with pytest.raises(TenantError, match="make another domain primary first"):
        domain_remove(domain=primary)
    assert domains_of(acme) == {"acme.localhost": True}


def test_renaming_and_removing_a_domain_are_audited(acme, globex):
    extra = domain_add(tenant=acme, domain="old.acme.test")
    with pytest.raises(DomainTaken):
        domain_change(domain=extra, new_domain="globex.localhost")
    renamed = domain_change(domain=extra, new_domain="New.Acme.Test")
    assert renamed.domain == "new.acme.test"
    domain_remove(domain=renamed)
    assert domains_of(acme) == {"acme.localhost": True}
    changed = AuditLog.objects.get(action="domain.changed")
    assert changed.details["previous_domain"] == "old.acme.test" and changed.details["domain"] == "new.acme.test"
    assert AuditLog.objects.get(action="domain.removed").details == {"domain": "new.acme.test"}


def tenant_change_form(tenant, domains: list[tuple[str, bool, bool]]) -> dict[str, str]:
    """The platform admin's tenant page as posted: its fields, and the domains inline (domain, primary, delete)."""
    existing = {d.domain: d.pk for d in Domain.objects.filter(tenant=tenant)}
    data = {
        "name": tenant.name, "plan": tenant.plan, "subscription_status": tenant.subscription_status,
        "billing_email": "", "billing_customer_id": "", "trial_ends_at_0": "", "trial_ends_at_1": "", "config": "{}",
        "domains-TOTAL_FORMS": str(len(domains)), "domains-INITIAL_FORMS": str(len(existing)),
        "domains-MIN_NUM_FORMS": "0", "domains-MAX_NUM_FORMS": "1000",
    }
    for index, (domain, primary, delete) in enumerate(domains):
        data[f"domains-{index}-domain"] = domain
        data[f"domains-{index}-tenant"] = str(tenant.pk)
        if domain in existing:
            data[f"domains-{index}-id"] = str(existing[domain])
        if primary:
            data[f"domains-{index}-is_primary"] = "on"
        if delete:
            data[f"domains-{index}-DELETE"] = "on"
    return data


@pytest.mark.parametrize("typed", ["acme.localhost:8000", "http://x y", "globex.localhost"])
def test_the_admin_domain_inline_refuses_what_is_not_a_free_host_name_and_saves_nothing(acme, globex, typed):
    client = signed_in_client("localhost", tenant=None)
    url = f"/admin/tenants/tenant/{acme.pk}/change/"

    response = client.post(url, tenant_change_form(acme, [("acme.localhost", True, False), (typed, False, False)]))

    assert response.status_code == 200  # the form again, with the error
    assert response.context["inline_admin_formsets"][0].formset.errors[1]["domain"]
    assert domains_of(acme) == {"acme.localhost": True}
    assert not AuditLog.objects.filter(action__startswith="domain.").exists()


def test_the_admin_domain_inline_goes_through_the_service(acme):
    client = signed_in_client("localhost", tenant=None)
    url = f"/admin/tenants/tenant/{acme.pk}/change/"

    added = client.post(url, tenant_change_form(acme, [("acme.localhost", False, False), ("ACME.example", True, False)]))
    assert added.status_code == 302, added.content.decode()[:3000]
    assert domains_of(acme) == {"acme.localhost": False, "acme.example": True}
    removed = client.post(url, tenant_change_form(acme, [("acme.localhost", False, True), ("acme.example", True, False)]))
    assert removed.status_code == 302
    assert domains_of(acme) == {"acme.example": True}
    assert [e.action for e in AuditLog.objects.filter(action__startswith="domain.").order_by("id")] == [
        "domain.added", "domain.removed",
    ]
    no_primary = client.post(url, tenant_change_form(acme, [("acme.example", False, False)]))
    assert "Exactly one domain is primary" in no_primary.content.decode()
    assert domains_of(acme) == {"acme.example": True}


def test_the_domain_commands_use_the_service(acme):
    out = StringIO()
    call_command("create_domain", "acme", "Api.Acme.Localhost", stdout=out)
    assert "Tenant acme is served at api.acme.localhost (domain)." in out.getvalue()
    with pytest.raises(CommandError, match="has a port"):
        call_command("create_domain", "acme", "x.test:80")
    with pytest.raises(CommandError, match="primary domain of 'acme': make another domain primary first"):
        call_command("delete_domain", "acme.localhost")
    call_command("delete_domain", "api.acme.localhost", stdout=out)
    assert domains_of(acme) == {"acme.localhost": True}
    assert domain_get(domain="ACME.localhost").tenant_id == acme.pk


@pytest.mark.subprocess
def test_a_refused_domain_command_prints_one_line_and_exits_non_zero(committed):
    from tenants.services import tenant_create

    tenant_create(slug="acme", name="Acme")
    result = run_manage("create_domain", "acme", "http://acme.example/")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "CommandError: The domain 'http://acme.example/' has a scheme: give the host name alone, e.g. acme.example.com."
    ]
