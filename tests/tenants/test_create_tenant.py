from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit.models import AuditLog
from tenants.models import Domain, Tenant, User
from tests.catalog import tables_in
from tests.conftest import run_manage, schema_names


def create_tenant(*args: str) -> str:
    out = StringIO()
    call_command("create_tenant", *args, stdout=out, stderr=StringIO())
    return out.getvalue()




def test_create_tenant_makes_the_row_the_domain_and_a_migrated_schema(public_tenant):
    output = create_tenant("--slug", "acme", "--name", "Acme", "--domain", "acme.localhost")

    tenant = Tenant.objects.get(slug="acme")
    assert tenant.schema_name == "tenant_acme"
    assert tenant.name == "Acme"
    assert tenant.plan == "free"
    assert tenant.status == "active"
    assert Domain.objects.get(domain="acme.localhost").tenant == tenant
    assert {"contexts", "context_versions", "summaries", "django_migrations"} <= tables_in("tenant_acme")
    # Shared tables never land in a tenant schema.
    assert not {"tenants", "users", "audit_logs"} & tables_in("tenant_acme")
    with connection.cursor() as cursor:
        cursor.execute('SELECT name FROM "tenant_acme".django_migrations WHERE app = %s', ["contexts"])
        assert ("0001_initial",) in cursor.fetchall()
    assert "Created tenant acme (schema tenant_acme) at acme.localhost." in output


def test_create_tenant_defaults_the_domain_to_slug_dot_base_domain(public_tenant, settings):
    settings.BASE_DOMAIN = "example.test"
    create_tenant("--slug", "acme-corp", "--name", "Acme Corp")
    assert Domain.objects.get(tenant__slug="acme-corp").domain == "acme-corp.example.test"
    assert "tenant_acme_corp" in schema_names()


def test_create_tenant_takes_plan_billing_email_and_creates_the_owner(public_tenant):
    output = create_tenant(
        "--slug", "acme", "--name", "Acme", "--plan", "team",
        "--billing-email", "billing@acme.test", "--admin-email", "Owner@Acme.test",
    )
    tenant = Tenant.objects.get(slug="acme")
    assert (tenant.plan, tenant.billing_email) == ("team", "billing@acme.test")
    owner = User.objects.get(tenant=tenant)
    assert (owner.email, owner.role, owner.is_staff) == ("owner@acme.test", "owner", False)
    password = output.rsplit(" ", 1)[-1].strip()
    assert owner.check_password(password)


def test_create_tenant_records_an_audit_entry(public_tenant):
    create_tenant("--slug", "acme", "--name", "Acme")
    entry = AuditLog.objects.get(action="tenant.created")
    assert entry.tenant_slug == "acme"
    assert entry.tenant_id == Tenant.objects.get(slug="acme").pk
    assert entry.actor_type == "command"
    assert entry.actor_label.startswith("create_tenant by ")


BAD_SLUGS = [
    ("Acme", "not valid"),
    ("acme corp", "not valid"),
    ("acme'; drop table tenants; --", "not valid"),
    ('acme"x', "not valid"),
    ("acme;x", "not valid"),
    ("", "empty"),
    ("public", "reserved"),
    ("pg_x", "reserved"),
    ("information_schema", "reserved"),
    ("a" * 57, "63-byte"),
]


@pytest.mark.parametrize(("slug", "message"), BAD_SLUGS)
def test_create_tenant_refuses_a_bad_slug_and_leaves_nothing(public_tenant, slug, message):
    tenants_before, schemas_before = set(Tenant.objects.values_list("slug", flat=True)), schema_names()

    with pytest.raises(CommandError, match=message):
        create_tenant("--slug", slug, "--name", "X")

    assert set(Tenant.objects.values_list("slug", flat=True)) == tenants_before
    assert schema_names() == schemas_before
    assert not Domain.objects.exclude(tenant__schema_name="public").exists()


def test_create_tenant_refuses_an_existing_slug_and_changes_nothing(acme):
    with pytest.raises(CommandError, match="A tenant with the slug 'acme' already exists"):
        create_tenant("--slug", "acme", "--name", "Other", "--domain", "other.localhost")
    assert Tenant.objects.get(slug="acme").name == "Acme"
    assert not Domain.objects.filter(domain="other.localhost").exists()


def test_create_tenant_refuses_an_existing_domain_and_leaves_nothing(acme):
    schemas_before = schema_names()
    with pytest.raises(CommandError, match="The domain 'acme.localhost' is already served"):
        create_tenant("--slug", "other", "--name", "Other", "--domain", "acme.localhost")
    assert not Tenant.objects.filter(slug="other").exists()
    assert schema_names() == schemas_before


def test_create_tenant_refuses_the_public_domain(public_tenant):
    with pytest.raises(CommandError, match="already served"):
        create_tenant("--slug", "other", "--name", "Other", "--domain", "localhost")
    assert not Tenant.objects.filter(slug="other").exists()


@pytest.mark.parametrize(
    ("domain", "message"), [("Other.Localhost:8000", "has a port"), ("other_x.localhost", "not a valid host name")]
)
def test_create_tenant_refuses_a_bad_domain(public_tenant, domain, message):
    with pytest.raises(CommandError, match=message):
        create_tenant("--slug", "other", "--name", "Other", "--domain", domain)
    assert not Tenant.objects.filter(slug="other").exists()


def test_create_tenant_refuses_when_the_schema_exists_without_a_tenant(public_tenant):
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "tenant_orphan"')
    with pytest.raises(CommandError, match="already exists; it belongs to no tenant row"):
        create_tenant("--slug", "orphan", "--name", "Orphan")
    assert not Tenant.objects.filter(slug="orphan").exists()


def test_a_failure_after_the_schema_is_built_leaves_no_row_and_no_schema(public_tenant, monkeypatch):
    from tenants import services

    real_replay = services.replay_script

    def replay_then_fail(script, schema_name):
        real_replay(script, schema_name)
        assert "tenant_acme" in schema_names()
        raise RuntimeError("failed after the schema was built")

    monkeypatch.setattr(services, "replay_script", replay_then_fail)
    with pytest.raises(RuntimeError, match="failed after the schema was built"):
        create_tenant("--slug", "acme", "--name", "Acme")
    assert not Tenant.objects.filter(slug="acme").exists()
    assert not Domain.objects.filter(domain="acme.localhost").exists()
    assert "tenant_acme" not in schema_names()


def test_create_tenant_help_says_it_replaces_the_interactive_one():
    result = run_manage("create_tenant", "--help")
    assert result.returncode == 0
    assert "takes the place of django-tenants' interactive one" in " ".join(result.stdout.split())
    for option in ("--slug", "--name", "--domain", "--plan", "--billing-email", "--admin-email"):
        assert option in result.stdout


@pytest.mark.subprocess
def test_create_tenant_in_a_shell_prints_one_line_and_exits_non_zero(committed):
    ok = run_manage("create_tenant", "--slug", "acme", "--name", "Acme")
    assert ok.returncode == 0, ok.stderr
    assert Tenant.objects.filter(slug="acme").exists()

    for args in (["--slug", "acme", "--name", "Again"], ["--slug", "Bad Slug", "--name", "X"]):
        refused = run_manage("create_tenant", *args)
        assert refused.returncode == 1
        assert refused.stderr.count("\n") == 1, refused.stderr
        assert refused.stderr.startswith("CommandError: ")
        assert "Traceback" not in refused.stderr
    assert Tenant.objects.filter(slug__in=["acme"]).count() == 1
    assert Tenant.objects.count() == 2  # public and acme


@pytest.mark.subprocess
def test_create_tenant_with_the_database_down_says_so_in_one_line():
    result = run_manage(
        "create_tenant", "--slug", "acme", "--name", "Acme",
        env={"DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere"},
    )
    assert result.returncode == 1
    assert result.stderr.startswith("CommandError: Cannot reach the database:")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(("option", "label"), [("--admin-email", "admin email"), ("--billing-email", "billing email")])
def test_create_tenant_refuses_a_malformed_email_in_one_line_and_leaves_nothing(public_tenant, option, label):
    with pytest.raises(CommandError, match=f"The {label} 'not-an-email' is not a valid email address."):
        create_tenant("--slug", "acme", "--name", "Acme", option, "not-an-email")
    assert not Tenant.objects.filter(slug="acme").exists()
    assert "tenant_acme" not in schema_names()
