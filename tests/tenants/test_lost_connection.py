"""A command whose database goes away under it fails in one line, leaves every schema consistent, and leaks nothing."""

import os
import subprocess
import sys
from io import StringIO

import psycopg2
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tenants.engine.lock import MIGRATION_LOCK_KEY
from tenants.management.base import errors_in_one_line
from tenants.models import MigrationRun, MigrationRunSchema
from tests.catalog import applied, tables_in
from tests.conftest import PROJECT_DIR, child_database_url, run_manage
from tests.tenants.test_migrate_interrupted import (  # noqa: F401 - three_tenants_at_zero is a fixture
    a_migration_run_is_waiting_for_a_lock,
    block_migrations_of,
    no_other_backend_is_working,
    three_tenants_at_zero,
    wait_until,
)


def terminate_the_waiting_run() -> None:
    """End the backend of the run blocked on a lock, as a server restart or an administrator would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'mcp' AND wait_event_type = 'Lock' AND pid <> pg_backend_pid() "
            "AND datname = current_database()"  # never a backend of another run on the server (pytest-xdist)
        )
        assert [row[0] for row in cursor.fetchall()] == [True]


def migration_lock_holders() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            # This database's only: advisory locks of other databases on the server (other runs) are not ours.
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [MIGRATION_LOCK_KEY >> 32, MIGRATION_LOCK_KEY & 0xFFFFFFFF],
        )
        return cursor.fetchone()[0]


@pytest.mark.subprocess
def test_a_run_whose_session_is_terminated_fails_in_one_line_and_the_next_run_finishes(
    three_tenants_at_zero,  # noqa: F811 - the fixture, imported above
):
    holder = block_migrations_of("tenant_globex")
    env = {**os.environ, "DATABASE_URL": child_database_url(), "DEBUG": "true"}
    run = subprocess.Popen(
        [sys.executable, "manage.py", "migrate_schemas", "--tenant", "--lock-timeout", "600000"],
        cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_until(a_migration_run_is_waiting_for_a_lock)  # acme is done, globex is blocked mid-transaction
        terminate_the_waiting_run()
        stdout, stderr = run.communicate(timeout=60)
    finally:
        holder.rollback()
        holder.close()

    assert run.returncode == 1
    assert len(stderr.splitlines()) == 1 and "Traceback" not in stderr, stderr
    assert stderr.startswith(("CommandError: Lost the connection to the database: ",
                              "CommandError: Cannot reach the database: ")), stderr
    assert stdout.startswith("[1/3] tenant_acme  contexts.0001_initial") and "  applied  " in stdout
    # Every schema is consistent: acme migrated, globex rolled back by the server, initech never reached.
    wait_until(no_other_backend_is_working)
    every_migration = applied("tenant_acme")
    assert every_migration[0] == "0001_initial" and "contexts" in tables_in("tenant_acme")
    assert applied("tenant_globex") == [] and "contexts" not in tables_in("tenant_globex")
    assert applied("tenant_initech") == [] and "contexts" not in tables_in("tenant_initech")
    # The run recorded what it did, on a new session; the lock died with the old one.
    failed = MigrationRun.objects.latest("started_at")
    assert failed.outcome == "failed" and failed.error.startswith("Lost the connection to the database: ")
    assert (failed.schemas_migrated, failed.schemas_current) == (1, 0)
    assert list(MigrationRunSchema.objects.filter(run=failed).values_list("schema_name", flat=True)) == ["tenant_acme"]
    assert migration_lock_holders() == 0

    again = run_manage("migrate_schemas", "--tenant")
    assert again.returncode == 0, again.stderr
    assert "Migrated 2 schema(s), 1 already current, 0 failed" in again.stdout
    assert all(applied(f"tenant_{s}") == every_migration for s in ("acme", "globex", "initech"))


# Each project command, with the connection closed under it (every command talks to the database first).
COMMANDS = [
    ("migrate_schemas", "--tenant"),
    ("migrate_schemas", "--shared"),
    ("migration_status",),
    ("migration_history",),
    ("provision_schemas", "--count", "1"),
    ("create_tenant", "--slug", "acme", "--name", "Acme"),
    ("suspend_tenant", "acme"),
    ("activate_tenant", "acme"),
    ("delete_tenant", "acme", "--confirm", "acme"),
    ("prune_audit_logs", "--older-than", "365d"),
    ("export_sql", "--tenant", "acme"),
    ("sqlmigrate", "contexts", "0001"),
    ("sqlmigrate_schema", "--schema", "tenant_acme", "contexts", "0001"),
    ("tenant_command", "migration_status", "--schema", "tenant_acme"),
    ("all_tenants_command", "check"),
    ("create_missing_schemas",),
    ("seed_demo",),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command))
def test_every_command_on_a_closed_connection_fails_in_one_line(committed, command):
    connection.ensure_connection()
    connection.connection.close()  # the driver's connection, under Django: what a server restart leaves
    try:
        with pytest.raises(CommandError) as failed:
            call_command(*command, stdout=StringIO(), stderr=StringIO())
    finally:
        connection.close()

    message = str(failed.value)
    assert message.startswith("Lost the connection to the database: connection already closed (the server restarted")
    assert "\n" not in message


def test_the_drivers_own_errors_are_reported_in_one_line(db):
    # A raw connection (as replays and the lock use) raises psycopg2's errors, not Django's wrappers.
    raw = psycopg2.connect(**connection.get_connection_params())
    try:
        with pytest.raises(CommandError) as refused, errors_in_one_line(), raw.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")
    finally:
        raw.close()

    assert str(refused.value) == (
        'The database refused: relation "no_such_table" does not exist '
        "(a table is missing: run manage.py migrate_schemas)"
    )


def test_a_closed_driver_connection_is_reported_as_lost(db):
    raw = psycopg2.connect(**connection.get_connection_params())
    raw.close()

    with pytest.raises(CommandError) as refused, errors_in_one_line():
        raw.cursor()

    assert str(refused.value).startswith("Lost the connection to the database: connection already closed")


def test_with_traceback_the_database_error_itself_is_raised(db):
    raw = psycopg2.connect(**connection.get_connection_params())
    raw.close()

    with pytest.raises(psycopg2.InterfaceError), errors_in_one_line(traceback=True):
        raw.cursor()
