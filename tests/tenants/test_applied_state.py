"""What each schema has applied, kept in public by a trigger (tenants migration 0009), and read from there: right
whoever writes django_migrations, and never trusted for a schema it does not describe."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from tenants.engine.pool import pool_provision
from tenants.engine.schema_state import read_schema_states
from tenants.naming import quote_schema
from tenants.services import tenant_create
from tests.fleet_migrations import REAL_MIGRATIONS

TRIGGER = "0006_watch_applied_migrations"  # the contexts migration that installs the trigger
BEFORE_TRIGGER = REAL_MIGRATIONS[REAL_MIGRATIONS.index(TRIGGER) - 1]


def summarised(schema: str) -> list[str] | None:
    """The summary's row for a schema's django_migrations, if it describes the table as it is."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.applied FROM public.schema_applied_migrations s JOIN pg_class c ON c.oid = s.table_oid "
            "AND c.xmin = s.table_xmin WHERE s.table_oid = to_regclass(%s)", [f"{quote_schema(schema)}.django_migrations"])
        row = cursor.fetchone()
    return row[0] if row else None


def recorded(schema: str) -> list[str]:
    """What the schema's django_migrations holds, read directly, as the summary spells it."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT app || '.' || name FROM {quote_schema(schema)}.django_migrations ORDER BY app, name")
        return [row[0] for row in cursor.fetchall()]


def direct_reads(queries: CaptureQueriesContext) -> list[str]:
    """The statements that read schemas' django_migrations themselves."""
    return [q["sql"] for q in queries.captured_queries if ".django_migrations" in q["sql"] and ", app, name FROM" in q["sql"]]


def migrate(*args: str) -> str:
    out = StringIO()
    call_command("migrate_schemas", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_a_new_tenant_is_summarised_and_read_from_the_summary_without_touching_its_schema(make_tenant):
    make_tenant("acme")
    make_tenant("globex")

    with CaptureQueriesContext(connection) as queries:
        states = read_schema_states(["tenant_acme", "tenant_globex"])

    assert summarised("tenant_acme") == recorded("tenant_acme")
    assert [f"contexts.{name}" for name in REAL_MIGRATIONS] == [e for e in recorded("tenant_acme") if e.startswith("contexts.")]
    assert states["tenant_acme"].applied == states["tenant_globex"].applied
    assert {f"{app}.{name}" for app, name in states["tenant_acme"].applied} == set(recorded("tenant_acme"))
    assert not [q for q in queries.captured_queries if "tenant_acme" in q["sql"]], "a tenant schema was read"


def test_rows_written_by_hand_are_summarised_and_read_back(make_tenant):
    make_tenant("acme")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM tenant_acme.django_migrations WHERE app = 'contexts' AND name = %s",
                       [REAL_MIGRATIONS[-2]])
        cursor.execute("INSERT INTO tenant_acme.django_migrations (app, name, applied) VALUES ('other', 'x', now())")

    state = read_schema_states(["tenant_acme"])["tenant_acme"]

    assert summarised("tenant_acme") == recorded("tenant_acme")
    assert ("contexts", REAL_MIGRATIONS[-2]) not in state.applied and ("other", "x") in state.applied


def test_a_schema_the_summary_does_not_describe_is_read_directly(make_tenant):
    make_tenant("acme")
    make_tenant("globex")
    with connection.cursor() as cursor:  # as for a schema migrated before the trigger existed
        cursor.execute("DELETE FROM public.schema_applied_migrations WHERE table_oid = "
                       "'tenant_acme.django_migrations'::regclass")
        cursor.execute("DELETE FROM tenant_globex.django_migrations WHERE name = %s", [REAL_MIGRATIONS[0]])

    with CaptureQueriesContext(connection) as queries:
        states = read_schema_states(["tenant_acme", "tenant_globex"])

    assert {f"{app}.{name}" for app, name in states["tenant_acme"].applied} == set(recorded("tenant_acme"))
    assert ("contexts", REAL_MIGRATIONS[0]) not in states["tenant_globex"].applied
    (direct,) = direct_reads(queries)
    assert "tenant_acme" in direct and "tenant_globex" not in direct


def test_a_table_made_again_is_not_taken_for_the_old_one(make_tenant):
    make_tenant("acme")
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE tenant_acme.django_migrations")
        cursor.execute("CREATE TABLE tenant_acme.django_migrations (id bigserial PRIMARY KEY, app varchar(255), "
                       "name varchar(255), applied timestamptz)")

    state = read_schema_states(["tenant_acme"])["tenant_acme"]

    assert state.has_table and state.applied == frozenset()


def test_a_claimed_pool_schema_keeps_its_summary_under_its_new_name(public_tenant):
    pool_provision(count=1)
    tenant_create(slug="acme", name="Acme")

    assert summarised("tenant_acme") == recorded("tenant_acme") != []
    assert read_schema_states(["tenant_acme"])["tenant_acme"].applied


def django_migrate(target: tuple[str, str] | None = None) -> None:
    """Django's own executor and recorder in each tenant schema, as `migrate` run by hand there would."""
    for schema in ("tenant_acme", "tenant_globex"):
        with schema_context(schema):
            executor = MigrationExecutor(connection)
            targets = [target] if target else executor.loader.graph.leaf_nodes("contexts")
            executor.migrate(targets)


@pytest.mark.parametrize("via", ["engine", "django"])
def test_rolling_back_past_the_trigger_forgets_the_schema_and_migrating_again_summarises_it(make_tenant, via):
    make_tenant("acme")
    make_tenant("globex")
    before = read_schema_states(["tenant_acme"])["tenant_acme"].applied

    if via == "engine":
        migrate("--tenant", "contexts", BEFORE_TRIGGER)
    else:
        django_migrate(("contexts", BEFORE_TRIGGER))

    for schema in ("tenant_acme", "tenant_globex"):  # on the engine the second replays the first's statements
        assert summarised(schema) is None
        assert f"contexts.{TRIGGER}" not in recorded(schema)
        state = read_schema_states([schema])[schema]
        assert ("contexts", TRIGGER) not in state.applied and state.has_table

    if via == "engine":
        migrate("--tenant")
    else:
        django_migrate()

    for schema in ("tenant_acme", "tenant_globex"):
        assert summarised(schema) == recorded(schema)
    # (Django's executor also records the shared apps' migrations, which the tenant router let it skip.)
    after = read_schema_states(["tenant_acme"])["tenant_acme"].applied
    assert {key for key in after if key[0] == "contexts"} == {key for key in before if key[0] == "contexts"}


def test_deleting_a_tenant_deletes_its_summary_row(make_tenant):
    from tenants.services import tenant_delete

    acme = make_tenant("acme")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'tenant_acme.django_migrations'::regclass::oid")
        (table_oid,) = cursor.fetchone()

    tenant_delete(tenant=acme, actor_label="test")

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM public.schema_applied_migrations WHERE table_oid = %s", [table_oid])
        assert cursor.fetchone() == (0,)
