"""A tenant created from the template script is the same schema as one built by running every migration."""

import threading
from io import StringIO

from django.core.management import call_command
from django.db import connection, connections

from tenants.engine.graph import MigrationGraph
from tenants.engine.migrator import Migrator
from tenants.engine.schema_state import SchemaState
from tenants.engine.template import graph_fingerprint
from tenants.errors import TenantExists
from tenants.models import Tenant, TenantSchemaScript
from tenants.naming import quote_schema
from tenants.services import tenant_create
from tests.catalog import CATALOG_QUERIES, catalog
from tests.fleet_migrations import REAL_MIGRATIONS


def migrate_from_zero(schema: str) -> None:
    """Build a schema the slow, sure way: every tenant migration through Django."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {quote_schema(schema)}")
    migrator = Migrator()
    state = SchemaState(schema, has_table=False)
    outcome = migrator.migrate_one(schema, state, migrator.plan_for(state))
    assert not outcome.failed, outcome.error


def test_a_schema_from_the_template_equals_a_schema_built_by_every_migration(public_tenant):
    tenant_create(slug="from-template", name="T")
    migrate_from_zero("tenant_migrated")

    templated, migrated = catalog("tenant_from_template"), catalog("tenant_migrated")

    assert templated["columns"] and templated["indexes"] and templated["constraints"] and templated["sequences"]
    for part in CATALOG_QUERIES:
        assert templated[part] == migrated[part], part


def test_the_template_is_stored_once_per_state_of_the_migrations(public_tenant):
    tenant_create(slug="first", name="First")
    tenant_create(slug="second", name="Second")
    assert TenantSchemaScript.objects.count() == 1
    assert TenantSchemaScript.objects.get().fingerprint == graph_fingerprint(MigrationGraph())


def test_when_the_code_has_a_new_migration_creation_runs_it_rather_than_faking_it(public_tenant, settings):
    tenant_create(slug="before", name="Before")
    settings.MIGRATION_MODULES = {"contexts": "tests.fleet_migrations.add_field"}

    tenant_create(slug="after", name="After")

    assert TenantSchemaScript.objects.count() == 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT column_name FROM information_schema.columns "
                       "WHERE table_schema = 'tenant_after' AND table_name = 'contexts' AND column_name = 'note'")
        assert cursor.fetchone() == ("note",)
        cursor.execute("SELECT name FROM tenant_after.django_migrations WHERE app = 'contexts' ORDER BY id")
        assert cursor.fetchall() == [(name,) for name in (*REAL_MIGRATIONS, "0002_context_note")]


def test_a_migrate_run_keeps_the_template_current(public_tenant, settings):
    tenant_create(slug="acme", name="Acme")
    settings.MIGRATION_MODULES = {"contexts": "tests.fleet_migrations.add_field"}
    call_command("migrate_schemas", "--tenant", stdout=StringIO())
    assert TenantSchemaScript.objects.filter(fingerprint=graph_fingerprint(MigrationGraph())).exists()


def create_in_thread(slug: str, results: dict, barrier: threading.Barrier) -> None:
    try:
        barrier.wait()
        tenant_create(slug=slug, name=slug)
        results[slug] = "created"
    except TenantExists as exc:
        results.setdefault("refused", []).append(str(exc))
    finally:
        connections.close_all()


def create_concurrently(slugs: list[str]) -> dict:
    """Create a tenant per slug, each in its own thread and connection, all starting at once."""
    results: dict = {}
    barrier = threading.Barrier(len(slugs))
    threads = [threading.Thread(target=create_in_thread, args=(slug, results, barrier)) for slug in slugs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_twenty_concurrent_creations_with_distinct_slugs_all_succeed(committed):
    slugs = [f"t{n:02d}" for n in range(20)]
    results = create_concurrently(slugs)

    assert {slug: results.get(slug) for slug in slugs} == dict.fromkeys(slugs, "created")
    assert set(Tenant.objects.exclude(schema_name="public").values_list("slug", flat=True)) == set(slugs)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'contexts' AND schemaname LIKE 'tenant_t%%'")
        assert cursor.fetchone()[0] == 20


def test_two_concurrent_creations_of_one_slug_give_one_tenant_and_one_clear_refusal(committed):
    results = create_concurrently(["acme", "acme"])

    assert results.get("acme") == "created"
    assert results.get("refused") == ["A tenant with the slug 'acme' already exists."]
    assert Tenant.objects.filter(slug="acme").count() == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tenant\\_%%'")
        assert cursor.fetchone()[0] == 1


def test_a_non_atomic_migration_does_not_stop_tenant_creation(committed, settings):
    settings.MIGRATION_MODULES = {"contexts": "tests.fleet_migrations.concurrent_index"}
    tenant_create(slug="acme", name="Acme")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'tenant_acme' AND indexname = 'contexts_title_idx'")
        assert cursor.fetchone() == ("contexts_title_idx",)
    assert catalog("tenant_acme")["migrations"] == [("contexts", name) for name in (*REAL_MIGRATIONS, "0002_context_title_index")]


def test_a_migrate_run_extends_the_template_with_what_it_ran_instead_of_migrating_a_scratch_schema(
    public_tenant, settings, monkeypatch
):
    from tenants.engine import template

    tenant_create(slug="acme", name="Acme")  # stores the script of the real migrations
    settings.MIGRATION_MODULES = {"contexts": "tests.fleet_migrations.add_field"}
    built: list[MigrationGraph] = []
    build_script = template.build_script
    monkeypatch.setattr(template, "build_script", lambda graph: (built.append(graph), build_script(graph))[1])

    call_command("migrate_schemas", "--tenant", stdout=StringIO())

    assert built == []
    script = TenantSchemaScript.objects.get(fingerprint=graph_fingerprint(MigrationGraph()))
    assert script.migrations[-1] == ["contexts", "0002_context_note"]
    tenant_create(slug="from-extended", name="T")
    migrate_from_zero("tenant_migrated")
    extended, migrated = catalog("tenant_from_extended"), catalog("tenant_migrated")
    assert any("note" in str(column) for column in extended["columns"])
    for part in CATALOG_QUERIES:
        assert extended[part] == migrated[part], part


def test_a_stored_script_another_django_or_other_migration_files_built_is_not_extended(
    public_tenant, settings, monkeypatch
):
    from tenants.engine import template

    tenant_create(slug="acme", name="Acme")
    TenantSchemaScript.objects.update(fingerprint="built-by-another-django-version")
    settings.MIGRATION_MODULES = {"contexts": "tests.fleet_migrations.add_field"}
    built: list[MigrationGraph] = []
    build_script = template.build_script
    monkeypatch.setattr(template, "build_script", lambda graph: (built.append(graph), build_script(graph))[1])

    call_command("migrate_schemas", "--tenant", stdout=StringIO())

    assert len(built) == 1
    assert TenantSchemaScript.objects.filter(fingerprint=graph_fingerprint(MigrationGraph())).exists()
