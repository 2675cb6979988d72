"""Each tenant schema's django_migrations is a view of its own rows of public.tenant_django_migrations.

(tenants.engine.applied_migrations says why.) These tests try to file a row under the wrong schema, to
read another schema's rows, and to inherit the rows of a dropped schema; and they check that Django's own
recorder, the engine's reader and a rollback past contexts 0006 all see the same thing.
"""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django_tenants.utils import tenant_context

from tenants.engine.applied_migrations import rename_statements, view_statements
from tenants.engine.pool import pool_provision
from tenants.engine.schema_state import read_schema_states
from tenants.models import PooledSchema
from tenants.services import tenant_create, tenant_delete
from tests.catalog import applied
from tests.fleet_migrations import REAL_MIGRATIONS

ALL_APPLIED = [("contexts", name) for name in REAL_MIGRATIONS]
BEFORE_THE_VIEW = "0005_contexts_fillfactor"  # the migration before contexts 0006 made django_migrations a view


def filed_under(schema: str) -> list[tuple[str, str]]:
    """The rows public.tenant_django_migrations holds for a schema, in order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT app, name FROM public.tenant_django_migrations WHERE schema_name = %s ORDER BY app, name", [schema]
        )
        return cursor.fetchall()


def kind_of_django_migrations(schema: str) -> str | None:
    """'v' for the view, 'r' for a table of the schema's own, None for neither."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relkind FROM pg_class WHERE relnamespace = %s::regnamespace AND relname = 'django_migrations'",
            [schema],
        )
        row = cursor.fetchone()
        return row[0] if row else None


def migrate_tenants(*args: str) -> None:
    call_command("migrate_schemas", "--tenant", *args, stdout=StringIO(), stderr=StringIO())


def test_a_new_tenant_files_its_applied_migrations_in_public_through_its_view(acme):
    assert kind_of_django_migrations("tenant_acme") == "v"
    assert filed_under("tenant_acme") == ALL_APPLIED
    assert [("contexts", name) for name in applied("tenant_acme")] == ALL_APPLIED
    assert read_schema_states(["tenant_acme"])["tenant_acme"].applied == frozenset(ALL_APPLIED)


def test_a_row_written_through_a_schemas_view_is_filed_under_it_whatever_the_search_path(acme, globex):
    with tenant_context(globex), connection.cursor() as cursor:
        cursor.execute("INSERT INTO tenant_acme.django_migrations (app, name, applied) VALUES ('probe', 'one', now())")
        cursor.execute("SELECT app FROM django_migrations WHERE app = 'probe'")  # globex's own view
        assert cursor.fetchall() == []
    assert ("probe", "one") in filed_under("tenant_acme")
    assert ("probe", "one") not in filed_under("tenant_globex")
    states = read_schema_states(["tenant_acme", "tenant_globex"])
    assert ("probe", "one") in states["tenant_acme"].applied
    assert states["tenant_globex"].applied == frozenset(ALL_APPLIED)


def test_a_view_refuses_a_row_filed_under_another_schema_and_changes_nothing(acme, globex):
    with tenant_context(acme), connection.cursor() as cursor:
        with pytest.raises(DatabaseError, match="check option"), transaction.atomic():
            cursor.execute(
                "INSERT INTO django_migrations (app, name, applied, schema_name) "
                "VALUES ('probe', 'one', now(), 'tenant_globex')"
            )
        with pytest.raises(DatabaseError, match="check option"), transaction.atomic():
            cursor.execute("UPDATE django_migrations SET schema_name = 'tenant_globex', name = 'moved' WHERE id = "
                           "(SELECT min(id) FROM django_migrations)")
    assert filed_under("tenant_acme") == filed_under("tenant_globex") == ALL_APPLIED


def test_each_view_shows_its_own_schemas_rows_only(acme, globex):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM tenant_globex.django_migrations WHERE name = %s", [REAL_MIGRATIONS[-1]])
    assert [("contexts", name) for name in applied("tenant_acme")] == ALL_APPLIED
    assert [("contexts", name) for name in applied("tenant_globex")] == ALL_APPLIED[:-1]


def test_djangos_own_recorder_reads_and_writes_a_tenant_through_its_view(acme):
    with tenant_context(acme):
        recorder = MigrationRecorder(connection)
        assert recorder.has_table()  # the backend's introspection reports the view as the table it stands for
        assert sorted(recorder.applied_migrations()) == ALL_APPLIED
        recorder.ensure_schema()  # finds it: no CREATE TABLE, which would fail
        recorder.record_applied("probe", "one")
        assert ("probe", "one") in filed_under("tenant_acme")
        recorder.record_unapplied("probe", "one")
    assert filed_under("tenant_acme") == ALL_APPLIED


def test_rolling_back_past_0006_gives_back_a_table_and_migrating_forward_the_view(acme, globex):
    migrate_tenants("--schema", "tenant_acme", "contexts", BEFORE_THE_VIEW)

    assert kind_of_django_migrations("tenant_acme") == "r" and filed_under("tenant_acme") == []
    assert applied("tenant_acme") == REAL_MIGRATIONS[:REAL_MIGRATIONS.index(BEFORE_THE_VIEW) + 1]
    # A fleet of both kinds reads the same as a fleet of one.
    states = read_schema_states(["tenant_acme", "tenant_globex"])
    assert sorted(states["tenant_acme"].applied) == ALL_APPLIED[:REAL_MIGRATIONS.index(BEFORE_THE_VIEW) + 1]
    assert states["tenant_globex"].applied == frozenset(ALL_APPLIED)

    migrate_tenants()

    assert kind_of_django_migrations("tenant_acme") == "v" and filed_under("tenant_acme") == ALL_APPLIED
    assert applied("tenant_acme") == applied("tenant_globex") == REAL_MIGRATIONS


def test_moving_a_table_into_the_view_drops_rows_a_dropped_schema_of_that_name_left(acme):
    migrate_tenants("--schema", "tenant_acme", "contexts", BEFORE_THE_VIEW)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO public.tenant_django_migrations (schema_name, app, name) VALUES ('tenant_acme', 'old', 'x')"
        )
    migrate_tenants()
    assert filed_under("tenant_acme") == ALL_APPLIED


def test_deleting_a_tenant_forgets_its_rows_and_a_new_schema_never_inherits_any(make_tenant):
    acme = make_tenant("acme")
    tenant_delete(tenant=acme)
    assert filed_under("tenant_acme") == []

    with connection.cursor() as cursor:  # what a schema dropped by hand leaves behind
        cursor.execute(
            "INSERT INTO public.tenant_django_migrations (schema_name, app, name) VALUES ('tenant_globex', 'old', 'x')"
        )
    tenant_create(slug="globex", name="Globex")
    assert filed_under("tenant_globex") == ALL_APPLIED


def test_a_claimed_pooled_schema_takes_its_rows_to_its_new_name(public_tenant):
    pool_provision(count=1)
    pooled = PooledSchema.objects.get().schema_name
    assert filed_under(pooled) == ALL_APPLIED

    tenant_create(slug="acme", name="Acme")

    assert not PooledSchema.objects.exists() and filed_under(pooled) == []
    assert filed_under("tenant_acme") == ALL_APPLIED
    with connection.cursor() as cursor:  # the view was made again for the new name: its default files rows there
        cursor.execute("INSERT INTO tenant_acme.django_migrations (app, name, applied) VALUES ('probe', 'one', now())")
    assert ("probe", "one") in filed_under("tenant_acme")


def test_a_view_follows_its_schema_through_a_rename_once_its_rows_are_refiled(acme):
    with connection.cursor() as cursor:
        for statement in rename_statements("tenant_acme", "tenant_renamed"):
            cursor.execute(statement)
        cursor.execute("INSERT INTO tenant_renamed.django_migrations (app, name, applied) VALUES ('probe', 'one', now())")
    assert filed_under("tenant_acme") == []
    assert filed_under("tenant_renamed") == sorted([*ALL_APPLIED, ("probe", "one")])


def test_a_schema_name_the_catalog_would_quote_is_refused():
    with pytest.raises(ValueError, match="not a lowercase identifier"):
        view_statements("Tenant-Acme")
