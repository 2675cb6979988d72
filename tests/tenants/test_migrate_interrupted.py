"""Runs that are blocked, killed or refused a lock leave every schema at a clean migration state."""

import os
import signal
import subprocess
import sys
import time

import psycopg2
import pytest
from django.db import connection

from tenants.models import MigrationRun
from tenants.services import tenant_create
from tests.catalog import applied, tables_in
from tests.conftest import PROJECT_DIR, child_database_url, run_manage
from tests.fleet_migrations import REAL_MIGRATIONS


def other_connection() -> psycopg2.extensions.connection:
    params = connection.get_connection_params()
    params["application_name"] = "test lock holder"
    return psycopg2.connect(**params)


def block_migrations_of(schema: str) -> psycopg2.extensions.connection:
    """Hold, in another session's open transaction, the row that records the schema's first migration.

    Migrating the schema then waits at its django_migrations INSERT, the last statement of its transaction:
    the unique key (schema_name, app, name) of public.tenant_django_migrations makes it wait for this session.
    Rows of other schemas are not held (locking the view would lock that whole table: every schema).
    """
    holder = other_connection()
    holder.cursor().execute(
        "BEGIN; INSERT INTO public.tenant_django_migrations (schema_name, app, name) VALUES (%s, %s, %s)",
        [schema, "contexts", REAL_MIGRATIONS[0]],
    )
    return holder


def wait_until(condition, *, seconds: float = 30) -> None:
    """Wait for a state of the database (not for time to pass); fail if it never comes."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.05)


def a_migration_run_is_waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mcp' AND wait_event_type = 'Lock' "
            "AND datname = current_database()"  # this run's own database: other runs share the server
        )
        return cursor.fetchone()[0] > 0


def no_other_backend_is_working() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mcp' AND pid <> pg_backend_pid() "
            "AND state <> 'idle' AND datname = current_database()"
        )
        return cursor.fetchone()[0] == 0


@pytest.fixture
def three_tenants_at_zero(committed):
    for slug in ("acme", "globex", "initech"):
        tenant_create(slug=slug, name=slug)
    result = run_manage("migrate_schemas", "--tenant", "contexts", "zero", "-v", "0")
    assert result.returncode == 0, result.stderr
    assert all(applied(f"tenant_{s}") == [] for s in ("acme", "globex", "initech"))


def test_a_run_killed_halfway_leaves_clean_schemas_and_the_next_run_finishes(three_tenants_at_zero):
    holder = block_migrations_of("tenant_globex")
    env = {**os.environ, "DATABASE_URL": child_database_url(), "DEBUG": "true"}
    run = subprocess.Popen(
        [sys.executable, "manage.py", "migrate_schemas", "--tenant", "--lock-timeout", "600000"],
        cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        wait_until(a_migration_run_is_waiting_for_a_lock)  # acme is done, globex is blocked mid-transaction
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
    finally:
        holder.rollback()
        holder.close()

    wait_until(no_other_backend_is_working)  # what the killed run had sent is finished or undone
    assert applied("tenant_acme") == REAL_MIGRATIONS and "contexts" in tables_in("tenant_acme")
    # globex was mid-transaction: it is either untouched or wholly migrated (if its statements had all
    # reached the server), never in between.
    assert (applied("tenant_globex") == REAL_MIGRATIONS) == ("contexts" in tables_in("tenant_globex"))
    # initech was replayed in the same round trip as globex (each in a transaction of its own): the server goes
    # on with what it received, so it is wholly migrated or untouched too.
    assert (applied("tenant_initech") == REAL_MIGRATIONS) == ("contexts" in tables_in("tenant_initech"))

    again = run_manage("migrate_schemas", "--tenant")
    assert again.returncode == 0, again.stderr
    assert "already current, 0 failed" in again.stdout
    assert all(applied(f"tenant_{s}") == REAL_MIGRATIONS for s in ("acme", "globex", "initech"))
    outcomes = list(MigrationRun.objects.order_by("started_at").values_list("outcome", flat=True))
    assert outcomes[-2:] == ["interrupted", "succeeded"]


def test_a_schema_whose_table_stays_locked_fails_with_a_lock_timeout_and_the_rest_migrate(three_tenants_at_zero):
    holder = block_migrations_of("tenant_globex")
    try:
        result = run_manage("migrate_schemas", "--tenant", "--lock-timeout", "200")
    finally:
        holder.rollback()
        holder.close()

    assert result.returncode == 1
    assert "tenant_globex: lock timeout: canceling statement due to lock timeout" in result.stderr
    assert "Migrated 2 schema(s), 0 already current, 1 failed" in result.stdout
    assert applied("tenant_globex") == [] and "contexts" not in tables_in("tenant_globex")
    assert applied("tenant_acme") == applied("tenant_initech") == REAL_MIGRATIONS

    retry = run_manage("migrate_schemas", "--tenant")
    assert retry.returncode == 0, retry.stderr
    assert applied("tenant_globex") == REAL_MIGRATIONS


def test_django_tenants_own_executors_still_work(three_tenants_at_zero):
    for executor in ("standard", "multiprocessing"):
        result = run_manage("migrate_schemas", "--tenant", "--executor", executor, "-v", "0")
        assert result.returncode == 0, result.stderr
        assert all(applied(f"tenant_{s}") == REAL_MIGRATIONS for s in ("acme", "globex", "initech"))
        back = run_manage("migrate_schemas", "--tenant", "--executor", executor, "contexts", "zero", "-v", "0")
        assert back.returncode == 0, back.stderr
        assert all(applied(f"tenant_{s}") == [] for s in ("acme", "globex", "initech"))
