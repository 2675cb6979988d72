from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditLog
from tenants.errors import TenantError
from tenants.models import Tenant
from tenants.services import tenant_suspend


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def test_suspend_and_activate_commands_flip_the_status_and_audit_it(acme):
    assert "Suspended tenant acme." in run("suspend_tenant", "acme", "--reason", "unpaid invoice")
    acme.refresh_from_db()
    assert acme.status == "suspended"
    assert acme.suspended_at is not None
    entry = AuditLog.objects.get(action="tenant.suspended")
    assert entry.details == {"reason": "unpaid invoice"}
    assert entry.actor_label.startswith("suspend_tenant by ")

    assert "Activated tenant acme." in run("activate_tenant", "acme")
    acme.refresh_from_db()
    assert (acme.status, acme.suspended_at) == ("active", None)
    assert AuditLog.objects.filter(action="tenant.activated", tenant_id=acme.pk).count() == 1


def test_suspending_twice_says_so_and_records_nothing_more(acme):
    run("suspend_tenant", "acme")
    assert "already suspended" in run("suspend_tenant", "acme")
    assert AuditLog.objects.filter(action="tenant.suspended").count() == 1


def test_suspend_of_an_unknown_slug_is_refused(public_tenant):
    with pytest.raises(CommandError, match="No tenant has the slug 'nobody'"):
        run("suspend_tenant", "nobody")


def test_the_public_tenant_cannot_be_suspended(public_tenant):
    with pytest.raises(TenantError, match="public tenant cannot be suspended"):
        tenant_suspend(tenant=public_tenant)
    public_tenant.refresh_from_db()
    assert public_tenant.status == Tenant.Status.ACTIVE
