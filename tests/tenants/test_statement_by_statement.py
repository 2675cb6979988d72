"""The engine's two ways of sending DDL: one string on one server, one statement at a time on a Citus coordinator.

The Citus way is tested here on a plain server (the coordinator check forced on), where it must build the same
schema; tests/citus runs it on a real cluster.
"""

from io import StringIO

from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tenants import citus
from tenants.engine import migrator, template
from tenants.engine.applied_migrations import view_statements
from tenants.models import TenantSchemaScript
from tenants.services import tenant_create
from tests.catalog import CATALOG_QUERIES, applied, catalog


def replayed(queries: CaptureQueriesContext) -> list[str]:
    """What the replay sent: from CREATE SCHEMA on (the backend sets the cursor's search path before it)."""
    sent = [query["sql"] for query in queries.captured_queries]
    start = next(index for index, sql in enumerate(sent) if sql.startswith("CREATE SCHEMA"))
    return sent[start:]


def test_on_one_server_a_schema_is_replayed_in_one_round_trip(public_tenant):
    tenant_create(slug="first", name="First")  # builds and stores the template
    script = TenantSchemaScript.objects.get()
    assert citus.citus_coordinator() is False
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        template.replay_script(script, "tenant_second")
    (sql,) = replayed(queries)
    assert sql.startswith('CREATE SCHEMA "tenant_second";') and "INSERT INTO django_migrations" in sql


def test_the_citus_way_sends_each_statement_alone_and_builds_the_same_schema(public_tenant, monkeypatch):
    tenant_create(slug="first", name="First")
    script = TenantSchemaScript.objects.get()
    monkeypatch.setattr(template, "citus_coordinator", lambda: True)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        template.replay_script(script, "tenant_second")

    sent = replayed(queries)
    # CREATE SCHEMA, its django_migrations view (this server has no Citus), SET LOCAL, the script, the migration rows
    assert len(sent) == len(citus.split_statements(script.sql)) + len(view_statements("tenant_second")) + 3
    assert sent[0] == 'CREATE SCHEMA "tenant_second"' and sent[-1].startswith("INSERT INTO django_migrations")
    assert all(len(citus.split_statements(sql)) == 1 for sql in sent)
    first, second = catalog("tenant_first"), catalog("tenant_second")
    for part in CATALOG_QUERIES:
        assert first[part] == second[part], part


def test_statements_are_split_where_they_end_not_inside_quotes_or_function_bodies():
    sql = (
        "CREATE TABLE \"a;b\" (note text DEFAULT 'x; y');\n"
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE 'no; never'; END $$;\n"
        "SET CONSTRAINTS \"c\" IMMEDIATE; ALTER TABLE \"t\" DROP CONSTRAINT \"c\";\n"
    )
    assert citus.split_statements(sql) == [
        "CREATE TABLE \"a;b\" (note text DEFAULT 'x; y')",
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE 'no; never'; END $$",
        'SET CONSTRAINTS "c" IMMEDIATE',
        'ALTER TABLE "t" DROP CONSTRAINT "c"',
    ]


def test_the_citus_way_replays_a_fleet_migration_statement_by_statement(make_tenant, settings, monkeypatch):
    for slug in ("acme", "globex", "initech"):
        make_tenant(slug)
    monkeypatch.setattr(migrator, "citus_coordinator", lambda: True)
    sent: list[list[str]] = []
    execute_each = migrator.execute_each

    def recording(cursor, statements):  # type: ignore[no-untyped-def]
        sent.append(list(statements))
        execute_each(cursor, sent[-1])

    monkeypatch.setattr(migrator, "execute_each", recording)
    settings.MIGRATION_MODULES = {"contexts": "tests.fleet_migrations.add_field"}

    call_command("migrate_schemas", "--tenant", stdout=StringIO())

    # The first schema through Django, the two others replayed: each its own statements, one at a time.
    assert [statements[1] for statements in sent] == [
        'SET LOCAL search_path = "tenant_globex", public', 'SET LOCAL search_path = "tenant_initech", public']
    assert all('ALTER TABLE "contexts" ADD COLUMN "note" text NULL' in statements for statements in sent)
    assert [applied(schema)[-1] for schema in ("tenant_acme", "tenant_globex", "tenant_initech")] == [
        "0002_context_note"] * 3
