"""Every migration is reversible; the tenant app's walk forward, back to zero and forward again on real rows."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.migrations.loader import MigrationLoader
from django_tenants.utils import tenant_context

from contexts.services import context_create
from tenants.services import tenant_create
from tests.catalog import tables_in

PROJECT_APPS = ("tenants", "audit", "contexts")


def project_migrations():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return [migration for (app, _), migration in sorted(loader.disk_migrations.items()) if app in PROJECT_APPS]


@pytest.mark.parametrize("migration", project_migrations(), ids=lambda m: f"{m.app_label}.{m.name}")
def test_every_operation_of_every_project_migration_is_reversible(migration):
    irreversible = [repr(op) for op in migration.operations if not op.reversible]
    assert irreversible == []




def migrate_tenant(schema: str, *target: str) -> None:
    call_command("migrate_schemas", *target, schema_name=schema, verbosity=0, stdout=StringIO())


def test_the_tenant_app_walks_forward_back_to_zero_and_forward_again_with_rows(committed):
    # Committed rows: dropping tables that have pending foreign-key checks in the same transaction is refused.
    acme, _ = tenant_create(slug="acme", name="Acme")
    with tenant_context(acme):
        context_create(key="kept-until-zero", content="x")
    tenant_tables = {"contexts", "context_versions", "summaries"}
    assert tenant_tables <= tables_in("tenant_acme")

    migrate_tenant("tenant_acme", "contexts", "zero")
    assert not tenant_tables & tables_in("tenant_acme")

    migrate_tenant("tenant_acme")
    assert tenant_tables <= tables_in("tenant_acme")
    with tenant_context(acme):
        context_create(key="after-the-round-trip")


def test_no_model_change_lacks_a_migration(db):
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=StringIO())
    assert "No changes detected" in out.getvalue()
