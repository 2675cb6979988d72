"""Every significant action leaves one entry, whichever path it takes; refusals too; rollbacks none."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction
from django_tenants.utils import tenant_context

from audit.models import AuditLog
from audit.services import audit_record
from contexts.models import Context
from contexts.services import context_create
from contexts.summaries import summary_failed, summary_request, summary_succeeded
from tenants.errors import TenantError
from tenants.models import Tenant, User
from tenants.services import tenant_create
from tests.conftest import host_client
from tests.tenants.test_admin import PASSWORD, make_user, sign_in, signed_in_client


def entries(action: str, **filters) -> list[AuditLog]:
    return list(AuditLog.objects.filter(action=action, **filters).order_by("id"))


def test_tenant_updated_in_the_admin_is_recorded_with_the_fields(acme):
    client = signed_in_client("localhost", tenant=None)
    response = client.post(f"/admin/tenants/tenant/{acme.pk}/change/", {
        "name": "Acme Corporation", "plan": "team", "subscription_status": "active", "billing_email": "",
        "billing_customer_id": "", "trial_ends_at": "", "config": "{}",
        "domains-TOTAL_FORMS": "1", "domains-INITIAL_FORMS": "1", "domains-MIN_NUM_FORMS": "0",
        "domains-MAX_NUM_FORMS": "1000", "domains-0-id": acme.domains.get().pk, "domains-0-tenant": acme.pk,
        "domains-0-domain": "acme.localhost", "domains-0-is_primary": "on",
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    (entry,) = entries("tenant.updated", tenant_id=acme.pk)
    assert entry.details == {"fields": ["name", "plan", "subscription_status"]}
    assert entry.actor_label == "owner@localhost" and entry.actor_type == "user"


def test_domains_added_and_removed_in_the_admin_are_recorded(acme):
    client = signed_in_client("localhost", tenant=None)
    primary = acme.domains.get()
    base = {
        "name": "Acme", "plan": "free", "subscription_status": "none", "billing_email": "",
        "billing_customer_id": "", "trial_ends_at": "", "config": "{}",
        "domains-INITIAL_FORMS": "1", "domains-MIN_NUM_FORMS": "0", "domains-MAX_NUM_FORMS": "1000",
        "domains-0-id": primary.pk, "domains-0-tenant": acme.pk, "domains-0-domain": "acme.localhost",
        "domains-0-is_primary": "on",
    }
    client.post(f"/admin/tenants/tenant/{acme.pk}/change/", {
        **base, "domains-TOTAL_FORMS": "2", "domains-1-tenant": acme.pk, "domains-1-domain": "acme.example.test",
    })
    (added,) = entries("domain.added", tenant_id=acme.pk)
    assert added.details == {"domain": "acme.example.test", "is_primary": False}

    second = acme.domains.get(domain="acme.example.test")
    client.post(f"/admin/tenants/tenant/{acme.pk}/change/", {
        **base, "domains-TOTAL_FORMS": "2", "domains-INITIAL_FORMS": "2", "domains-1-id": second.pk,
        "domains-1-tenant": acme.pk, "domains-1-domain": "acme.example.test", "domains-1-DELETE": "on",
    })
    (removed,) = entries("domain.removed", tenant_id=acme.pk)
    assert removed.details == {"domain": "acme.example.test"}


def test_deleting_a_tenant_drops_its_schema_and_is_recorded(acme):
    from tests.conftest import schema_names

    User.objects.create_user("pat@acme.test", PASSWORD, tenant=acme, role="member")
    out = StringIO()
    call_command("delete_tenant", "acme", "--confirm", "acme", stdout=out)
    assert "Deleted tenant acme and its schema tenant_acme." in out.getvalue()
    assert not Tenant.objects.filter(slug="acme").exists() and "tenant_acme" not in schema_names()
    (entry,) = entries("tenant.deleted")
    assert (entry.tenant_id, entry.tenant_slug, entry.details["users_deleted"]) == (acme.pk, "acme", 1)


def test_delete_tenant_wants_the_slug_repeated(acme):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--confirm must repeat the slug"):
        call_command("delete_tenant", "acme", "--confirm", "acm", stdout=StringIO())
    assert Tenant.objects.filter(slug="acme").exists() and not entries("tenant.deleted")


def test_a_refused_creation_rolls_back_but_is_recorded_in_its_own_transaction(acme):
    with pytest.raises(TenantError), transaction.atomic():
        tenant_create(slug="acme", name="Again", actor_label="signup form")
    (entry,) = entries("tenant.created", outcome="failure")
    assert entry.details["slug"] == "acme" and "already exists" in entry.details["error"]
    assert entry.actor_label == "signup form"


def test_an_action_that_is_rolled_back_leaves_no_entry(acme):
    with pytest.raises(RuntimeError), transaction.atomic(), tenant_context(acme):
        context_create(key="doomed")
        raise RuntimeError("the caller changes its mind")
    assert not entries("context.created")


def test_an_entry_that_cannot_be_written_does_not_break_the_action(acme, caplog):
    with transaction.atomic(), tenant_context(acme):
        assert audit_record(action="x" * 200) is None  # too long for the column
        context_create(key="still-works")
        assert Context.objects.filter(key="still-works").exists()
    assert "Could not write the audit entry" in caplog.text


def test_users_created_renamed_in_role_regrouped_and_repassworded_are_recorded(acme):
    pat = User.objects.create_user("pat@acme.test", PASSWORD, tenant=acme, role="member")
    (created,) = entries("user.created", target_id=str(pat.pk))
    assert created.details == {"email": "pat@acme.test", "role": "member", "is_staff": False}

    pat.role = "admin"
    pat.save()
    pat.groups.add(Group.objects.create(name="support"))
    pat.set_password("another long passphrase")
    pat.save()

    changes = [e.details for e in entries("user.permissions_changed", target_id=str(pat.pk))]
    assert {"email": "pat@acme.test", "changes": {"role": ["member", "admin"]}} in changes
    assert any("groups" in details for details in changes)
    assert len(entries("user.password_changed", target_id=str(pat.pk))) == 1


def test_logins_logouts_and_failures_are_recorded_on_their_host(acme):
    make_user("owner@acme.test", tenant=acme)
    client = host_client("acme.localhost")
    assert sign_in(client, "owner@acme.test") == 302
    client.post("/admin/logout/")
    client.post("/admin/login/", {"username": "owner@acme.test", "password": "wrong"})

    (login,) = entries("auth.login_succeeded")
    (logout,) = entries("auth.logout")
    (failed,) = entries("auth.login_failed")
    assert (login.tenant_slug, login.actor_label) == ("acme", "owner@acme.test")
    assert logout.actor_label == "owner@acme.test"
    assert (failed.outcome, failed.tenant_slug, failed.details) == ("denied", "acme", {"email": "owner@acme.test"})


def test_context_changes_through_the_admin_are_recorded(acme):
    client = signed_in_client("acme.localhost", tenant=acme)
    client.post("/admin/contexts/context/add/", {
        "key": "brief", "title": "Brief", "content": "text", "tags": "a,b", "metadata": "{}", "expires_at": "",
        "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0",
    })
    with tenant_context(acme):
        context = Context.objects.get(key="brief")
    client.post(f"/admin/contexts/context/{context.pk}/change/", {
        "title": "Brief v2", "content": "text", "tags": "a,b", "metadata": "{}", "expires_at": "",
        "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0",
    })
    client.post("/admin/contexts/context/", {"action": "archive_selected", "_selected_action": [context.pk]})
    client.post("/admin/contexts/context/", {"action": "unarchive_selected", "_selected_action": [context.pk]})
    client.post(f"/admin/contexts/context/{context.pk}/delete/", {"post": "yes"})

    actions = [e.action for e in AuditLog.objects.filter(target_type="contexts.context").order_by("id")]
    assert actions == ["context.created", "context.updated", "context.archived", "context.unarchived",
                       "context.deleted"]
    assert {e.tenant_id for e in AuditLog.objects.filter(target_type="contexts.context")} == {acme.pk}
    assert all(e.actor_label == "owner@acme.localhost" for e in AuditLog.objects.filter(action__startswith="context."))


def test_summaries_requested_succeeded_and_failed_are_recorded(acme):
    with tenant_context(acme):
        context = context_create(key="brief", content="long text")
        first = summary_request(context=context, backend="extractive")
        summary_succeeded(summary=first, text="short", quality_score=0.8)
        second = summary_request(context=context, max_attempts=2)
        retried = summary_failed(summary=second, error="model timeout")
        gave_up = summary_failed(summary=retried, error="model timeout")
    assert (retried.status, gave_up.status, gave_up.attempts) == ("pending", "failed", 2)
    assert [e.action for e in AuditLog.objects.filter(target_type="contexts.summary").order_by("id")] == [
        "summary.requested", "summary.succeeded", "summary.requested", "summary.failed", "summary.failed"
    ]
    failures = entries("summary.failed")
    assert [f.details["will_retry"] for f in failures] == [True, False]
    assert all(f.outcome == "failure" and f.tenant_id == acme.pk for f in failures)


def test_migration_runs_are_recorded_with_per_schema_outcomes(make_tenant, settings):
    from django.core.management.base import CommandError

    make_tenant("acme")
    globex = make_tenant("globex")
    with tenant_context(globex):
        context_create(key="a", title="Same title")
        context_create(key="b", title="Same title")
    settings.MIGRATION_MODULES = {"contexts": "tests.fleet_migrations.unique_title"}
    with pytest.raises(CommandError):
        call_command("migrate_schemas", "--tenant", stdout=StringIO(), stderr=StringIO())

    (started,) = entries("migration.started")
    (failed,) = entries("migration.failed")
    assert started.actor_type == "command" and started.target_id == failed.target_id
    assert failed.outcome == "failure" and failed.details["applied"] == ["tenant_acme"]
    assert [f["schema"] for f in failed.details["failures"]] == ["tenant_globex"]
    assert "could not create unique index" in failed.details["failures"][0]["error"]


def test_an_entry_about_one_tenant_never_carries_another_tenants_id(acme, globex):
    for tenant in (acme, globex):
        client = signed_in_client(f"{tenant.slug}.localhost", tenant=tenant)
        client.post("/admin/contexts/context/add/", {
            "key": "same-key", "title": "", "content": "", "tags": "", "metadata": "{}", "expires_at": "",
            "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0",
        })
    for tenant in (acme, globex):
        mine = AuditLog.objects.filter(action="context.created", tenant_slug=tenant.slug)
        assert mine.count() == 1 and mine.get().tenant_id == tenant.pk
    assert not AuditLog.objects.exclude(tenant_id__in=[acme.pk, globex.pk]).filter(
        tenant_slug__in=["acme", "globex"]).exists()


def test_a_user_created_by_a_management_command_names_the_command_and_os_user(committed):
    from tests.conftest import run_manage

    result = run_manage("createsuperuser", "--noinput", "--email", "root@platform.test",
                        env={"DJANGO_SUPERUSER_PASSWORD": PASSWORD})
    assert result.returncode == 0, result.stderr
    (entry,) = entries("user.created")
    assert entry.actor_type == "command" and entry.actor_label.startswith("createsuperuser by ")
