"""The pool of ready schemas: claimed on creation, migrated with the tenants, never claimed when behind."""

from io import StringIO

from django.core.management import call_command
from django.db import connection

from tenants.models import PooledSchema
from tenants.services import tenant_create
from tests.catalog import catalog
from tests.conftest import schema_names
from tests.fleet_migrations import LATEST_REAL

ADD_FIELD = {"contexts": "tests.fleet_migrations.add_field"}


def provision(count: int) -> str:
    out = StringIO()
    call_command("provision_schemas", "--count", str(count), stdout=out)
    return out.getvalue()


def columns(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT column_name FROM information_schema.columns "
                       "WHERE table_schema = %s AND table_name = 'contexts'", [schema])
        return {row[0] for row in cursor.fetchall()}


def test_provisioning_tops_the_pool_up_and_says_so(public_tenant):
    output = provision(3)
    assert "Added 3 schema(s) to the pool" in output and "it holds 3." in output
    pooled = list(PooledSchema.objects.values_list("schema_name", flat=True))
    assert len(pooled) == 3 and all(name.startswith("pool_") and name in schema_names() for name in pooled)
    assert "Added 0 schema(s) to the pool" in provision(3)


def test_creation_claims_a_pooled_schema_which_equals_a_template_built_one(public_tenant):
    tenant_create(slug="built", name="Built")
    provision(2)
    claimed = PooledSchema.objects.order_by("id").first().schema_name

    tenant_create(slug="pooled", name="Pooled")

    assert claimed not in schema_names() and "tenant_pooled" in schema_names()
    assert PooledSchema.objects.count() == 1
    assert catalog("tenant_pooled") == catalog("tenant_built")


def test_pooled_schemas_are_migrated_with_the_tenants_and_then_claimed(public_tenant, settings):
    provision(2)
    settings.MIGRATION_MODULES = ADD_FIELD
    out = StringIO()
    call_command("migrate_schemas", "--tenant", stdout=out)
    assert "Migrated 2 schema(s)" in out.getvalue()
    for name in PooledSchema.objects.values_list("schema_name", flat=True):
        assert "note" in columns(name)

    tenant_create(slug="acme", name="Acme")
    assert PooledSchema.objects.count() == 1  # claimed
    assert "note" in columns("tenant_acme")


def test_a_pooled_schema_behind_the_code_is_never_claimed(public_tenant, settings):
    provision(1)
    settings.MIGRATION_MODULES = ADD_FIELD  # the code moved on; the pool was not migrated

    tenant_create(slug="acme", name="Acme")

    assert PooledSchema.objects.count() == 1
    assert "note" in columns("tenant_acme")


def test_after_a_rollback_the_pool_is_not_claimable_until_migrated_forward(public_tenant, settings):
    settings.MIGRATION_MODULES = ADD_FIELD
    provision(1)
    call_command("migrate_schemas", "--tenant", *LATEST_REAL, stdout=StringIO())
    tenant_create(slug="acme", name="Acme")
    assert PooledSchema.objects.count() == 1 and "note" in columns("tenant_acme")

    call_command("migrate_schemas", "--tenant", stdout=StringIO())
    tenant_create(slug="globex", name="Globex")
    assert PooledSchema.objects.count() == 0 and "note" in columns("tenant_globex")


def test_migration_status_lists_pooled_schemas(public_tenant):
    provision(1)
    out = StringIO()
    call_command("migration_status", stdout=out)
    pooled = PooledSchema.objects.get().schema_name
    assert [line.split() for line in out.getvalue().splitlines() if line.startswith(pooled)] == [
        [pooled, "(pool)", LATEST_REAL[1], "0", "current"]
    ]


def test_concurrent_creations_each_claim_a_different_pooled_schema_or_build_one(committed):
    from tests.tenants.test_template import create_concurrently

    provision(5)
    slugs = [f"c{n:02d}" for n in range(12)]
    results = create_concurrently(slugs)

    assert [results.get(slug) for slug in slugs] == ["created"] * len(slugs)
    assert PooledSchema.objects.count() == 0
    assert not [name for name in schema_names() if name.startswith("pool_")]
    assert all("key" in columns(f"tenant_{slug}") for slug in slugs)
