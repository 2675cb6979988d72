import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.fleet_migrations import LATEST_REAL, REAL_MIGRATIONS

ADD_FIELD = {"contexts": "tests.fleet_migrations.add_field"}


def status(*args: str) -> str:
    out = StringIO()
    call_command("migration_status", *args, stdout=out)
    return out.getvalue()


def test_the_table_shows_each_schema_its_last_migration_pending_and_state(make_tenant):
    make_tenant("acme")
    make_tenant("globex")
    lines = status().splitlines()
    assert lines[0].split() == ["schema", "tenant", "contexts", "pending", "state"]
    assert lines[1].split() == ["public", "public", "-", "0", "current"]
    assert lines[2].split() == ["tenant_acme", "acme", LATEST_REAL[1], "0", "current"]
    assert lines[3].split() == ["tenant_globex", "globex", LATEST_REAL[1], "0", "current"]
    assert lines[-1].startswith("3 schemas: 3 current, 0 behind (0 migrations pending), 0 ahead, 0 missing.")
    assert "Tenant template: current" in lines[-1]


def test_a_new_migration_shows_every_tenant_behind_and_check_fails(make_tenant, settings):
    make_tenant("acme")
    settings.MIGRATION_MODULES = ADD_FIELD
    document = json.loads(status("--json"))
    acme = next(s for s in document["schemas"] if s["tenant"] == "acme")
    assert acme["pending"] == ["contexts.0002_context_note"]
    assert acme["state"] == "behind"
    assert document["totals"]["behind"] == 1
    with pytest.raises(SystemExit) as exit_info:
        status("--check")
    assert exit_info.value.code == 1

    call_command("migrate_schemas", "--tenant", stdout=StringIO())
    status("--check")  # no exit: everything current


def test_a_schema_with_a_migration_the_code_lacks_is_ahead(make_tenant):
    make_tenant("acme")
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO tenant_acme.django_migrations (app, name, applied) "
                       "VALUES ('contexts', '0099_from_newer_code', now())")
    document = json.loads(status("--json"))
    acme = next(s for s in document["schemas"] if s["tenant"] == "acme")
    assert (acme["state"], acme["unknown"]) == ("ahead", ["contexts.0099_from_newer_code"])
    with pytest.raises(SystemExit):
        status("--check")


def test_a_schema_without_its_tables_is_missing(make_tenant):
    make_tenant("acme")
    with connection.cursor() as cursor:
        cursor.execute("DROP VIEW tenant_acme.django_migrations")
    lines = status("--behind").splitlines()
    assert [line.split() for line in lines[1:-1]] == [["tenant_acme", "acme", "-", str(len(REAL_MIGRATIONS)), "missing"]]


def test_status_costs_the_same_queries_for_any_number_of_tenants(make_tenant):
    make_tenant("acme")
    with CaptureQueriesContext(connection) as one:
        status()
    for slug in ("b1", "b2", "b3"):
        make_tenant(slug)
    with CaptureQueriesContext(connection) as four:
        status()
    assert len(four.captured_queries) == len(one.captured_queries)
    # tenants, the pool, the catalog, every tenant schema's rows (one table), public's own table, the template
    # (plus SET search_path)
    assert len([q for q in four.captured_queries if not q["sql"].startswith("SET ")]) == 6
