"""The CLI refuses nonsense in one line, records every run, and leaves the connection where it found it."""

import re
import shlex
from io import StringIO

import psycopg2
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django_tenants.utils import tenant_context

from tenants.engine.lock import MIGRATION_LOCK_KEY, describe_holder
from tenants.models import MigrationRun, MigrationRunSchema, PooledSchema
from tenants.services import tenant_create
from tests.catalog import applied
from tests.conftest import PROJECT_DIR, run_manage, schema_names

# --- Arguments ----------------------------------------------------------------------------------


@pytest.mark.parametrize("count", ["-1", "0", "twenty"])
def test_provision_schemas_refuses_a_count_that_is_not_positive_and_provisions_nothing(public_tenant, count):
    before = schema_names()

    with pytest.raises(CommandError) as refused:
        call_command("provision_schemas", f"--count={count}", stdout=StringIO())

    assert str(refused.value) == f"Error: argument --count: must be a whole number of 1 or more, not {count!r}"
    assert PooledSchema.objects.count() == 0
    assert schema_names() == before


@pytest.mark.subprocess
def test_provision_schemas_refuses_a_negative_count_on_the_command_line_in_one_line_and_exit_code_2(db):
    result = run_manage("provision_schemas", "--count=-1")

    assert result.returncode == 2
    assert result.stderr == (
        "manage.py provision_schemas: error: argument --count: must be a whole number of 1 or more, not '-1' "
        "(see --help)\n"
    )
    assert result.stdout == ""


def test_migration_history_refuses_an_unknown_run_and_names_the_newest(public_tenant):
    newest = MigrationRun.objects.create(command="migrate_schemas --tenant", outcome=MigrationRun.Outcome.SUCCEEDED)

    with pytest.raises(CommandError) as refused:
        call_command("migration_history", "--run", str(newest.pk + 1000), stdout=StringIO())

    assert str(refused.value) == (
        f"No migration run #{newest.pk + 1000}; the newest is #{newest.pk} (manage.py migration_history lists them)."
    )


@pytest.mark.subprocess
def test_migration_history_of_an_unknown_run_fails_on_the_command_line_in_one_line(db):
    result = run_manage("migration_history", "--run", "987654")

    assert result.returncode == 1
    assert re.fullmatch(r"CommandError: No migration run #987654; [^\n]+\n", result.stderr), result.stderr
    assert result.stdout == ""


def test_migration_history_of_a_run_that_changed_no_schema_says_so(make_tenant):
    make_tenant("acme")
    call_command("migrate_schemas", "--tenant", stdout=StringIO())
    run = MigrationRun.objects.latest("started_at")

    out = StringIO()
    call_command("migration_history", "--run", str(run.pk), stdout=out)

    first, second = out.getvalue().splitlines()
    assert first.startswith(f"#{run.pk}  ") and "0 migrated, 1 current, 0 failed  migrate_schemas" in first
    assert second == "    It changed no schema (1 already current)."


# --- Every run in the history, --shared included ----------------------------------------------


def test_a_shared_run_is_in_the_history_with_public_as_its_schema(public_tenant):
    # Take sessions (a shared app) back to zero, then forward: the runs apply and unapply on public.
    call_command("migrate_schemas", "--shared", "sessions", "zero", stdout=StringIO())
    back = MigrationRun.objects.latest("started_at")
    out = StringIO()
    call_command("migrate_schemas", "--shared", stdout=out)
    forward = MigrationRun.objects.latest("started_at")

    assert "Migrated 1 schema(s), 0 already current, 0 failed" in out.getvalue()
    assert (forward.outcome, forward.schemas_total, forward.schemas_migrated) == ("succeeded", 1, 1)
    rows = {run: MigrationRunSchema.objects.get(run=run) for run in (back, forward)}
    assert (rows[back].schema_name, rows[back].migrations, rows[back].backwards) == (
        "public", ["sessions.0001_initial"], True
    )
    assert (rows[forward].schema_name, rows[forward].migrations, rows[forward].backwards) == (
        "public", ["sessions.0001_initial"], False
    )

    history = StringIO()
    call_command("migration_history", stdout=history)
    assert history.getvalue().splitlines()[0].startswith(f"#{forward.pk}  ")
    shown = StringIO()
    call_command("migration_history", "--run", str(forward.pk), stdout=shown)
    assert shown.getvalue().split("  ")[:3] == ["public", "sessions.0001_initial", "applied"]


def test_a_shared_run_with_nothing_to_do_is_in_the_history_too(public_tenant):
    call_command("migrate_schemas", "--shared", stdout=StringIO())
    run = MigrationRun.objects.latest("started_at")

    assert run.command == "migrate_schemas"
    assert (run.outcome, run.schemas_total, run.schemas_current) == ("succeeded", 1, 1)


# --- The README's showmigrations recipe ----------------------------------------------------------


def readme_recipe(command: str) -> list[str]:
    """The arguments of the README's recipe that starts with this command."""
    readme = (PROJECT_DIR / "README.md").read_text()
    match = re.search(rf"`manage\.py ({re.escape(command)}[^`]*)`", readme)
    assert match, f"the README has no `manage.py {command} …` recipe"
    return shlex.split(match.group(1))


@pytest.mark.subprocess
def test_the_readmes_showmigrations_recipe_shows_a_healthy_tenant_fully_applied(committed):
    tenant_create(slug="acme", name="Acme")  # committed: the recipe runs in a child process
    recipe = readme_recipe("tenant_command showmigrations")
    assert "tenant_acme" in recipe

    result = run_manage(*recipe)

    assert result.returncode == 0, result.stderr
    assert "[X] 0001_initial" in result.stdout
    assert "[ ]" not in result.stdout
    public = run_manage("showmigrations")  # the README's recipe for public
    assert public.returncode == 0 and "[X]" in public.stdout and "[ ]" not in public.stdout


# --- The lock's holder is looked up in this database only ----------------------------------------


def connect(**overrides: str) -> psycopg2.extensions.connection:
    params = {**connection.get_connection_params(), **overrides}
    conn = psycopg2.connect(**params)
    conn.autocommit = True
    return conn


def test_the_lock_holder_is_never_a_session_of_another_database(db):
    # Same server, another database, holding the same key first (so the oldest holder if not filtered).
    elsewhere = connect(dbname="postgres", application_name="other database")
    here = connect(application_name="test lock holder")
    probe = connect()
    try:
        elsewhere.cursor().execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        with probe.cursor() as cursor:
            assert describe_holder(cursor) == "another run (it has just finished)"

        here.cursor().execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        with probe.cursor() as cursor:
            holder = describe_holder(cursor)
        assert holder.endswith(f"(pid {here.info.backend_pid})"), holder
    finally:
        for conn in (elsewhere, here, probe):
            conn.close()


# --- In-process schema switches are undone -------------------------------------------------------


def test_tenant_command_puts_the_connection_back_on_public(make_tenant):
    make_tenant("acme")
    out = StringIO()

    call_command("tenant_command", "showmigrations", "contexts", schema_name="tenant_acme", stdout=out)

    assert "[X] 0001_initial" in out.getvalue()
    assert connection.schema_name == "public"


def test_tenant_command_puts_the_connection_back_even_when_the_inner_command_fails(make_tenant):
    make_tenant("acme")

    with pytest.raises(CommandError, match="No migration run #987654"):
        call_command("tenant_command", "migration_history", "--run", "987654", schema_name="tenant_acme")

    assert connection.schema_name == "public"


def test_tenant_command_from_inside_another_tenant_returns_to_that_tenant(make_tenant):
    acme, globex = make_tenant("acme"), make_tenant("globex")

    with tenant_context(globex):
        call_command("tenant_command", "showmigrations", "contexts", schema_name=acme.schema_name, stdout=StringIO())
        assert connection.schema_name == "tenant_globex"
        assert connection.tenant == globex


def test_all_tenants_command_puts_the_connection_back(make_tenant):
    make_tenant("acme")
    make_tenant("globex")
    out = StringIO()

    call_command("all_tenants_command", "check", stdout=out)

    assert connection.schema_name == "public"


def test_migrate_schemas_called_from_a_tenant_leaves_the_connection_on_that_tenant(make_tenant):
    acme = make_tenant("acme")

    with tenant_context(acme):
        call_command("migrate_schemas", "--shared", stdout=StringIO())
        assert connection.schema_name == "tenant_acme"
        call_command("migrate_schemas", "--tenant", "contexts", "zero", stdout=StringIO())
        assert connection.schema_name == "tenant_acme"
    assert applied("tenant_acme") == []


def test_create_missing_schemas_recreates_a_dropped_schema_and_puts_the_connection_back(make_tenant):
    make_tenant("acme")
    globex = make_tenant("globex")
    with connection.cursor() as cursor:
        cursor.execute('DROP SCHEMA "tenant_acme" CASCADE')

    every_migration = applied("tenant_globex")

    with tenant_context(globex):
        call_command("create_missing_schemas", stdout=StringIO())
        assert connection.schema_name == "tenant_globex"
    assert applied("tenant_acme") == every_migration
