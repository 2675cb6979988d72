"""One migration run at a time: a PostgreSQL advisory lock.

Runs that change schemas take it exclusively, for the session; tenant creation
takes it shared, for its transaction, so that creations run side by side but
never during a run. The fleet executor holds it on the default connection
(a session never conflicts with itself, so a run may follow a creation in the
same transaction); django-tenants' own executors close that connection between
schemas, so for them it is held on a dedicated one. Either way PostgreSQL
releases it if the process dies.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.errors
from django.db import OperationalError, connection, transaction

from tenants.db_errors import backend_pid
from tenants.errors import MigrationLockBusy

# An arbitrary constant that names this lock among the database's advisory locks.
MIGRATION_LOCK_KEY = 0x6D63705F6D6967  # "mcp_mig"
LOCK_NOT_AVAILABLE = "55P03"


def _lock_connection() -> psycopg2.extensions.connection:
    params = connection.get_connection_params()
    params["application_name"] = "mcp migration lock"
    try:
        conn = psycopg2.connect(**params)
    except psycopg2.OperationalError as exc:
        raise OperationalError(str(exc)) from exc  # Django's, which the commands report in one line
    conn.autocommit = True
    return conn


def describe_holder(cursor: psycopg2.extensions.cursor) -> str:
    """Say who holds the lock and since when, from pg_stat_activity and the newest running run record."""
    cursor.execute(
        "SELECT a.pid, a.usename, a.client_addr, a.backend_start FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s "
        # Advisory locks are per database: a run on another database of the same server holds its own.
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "ORDER BY a.backend_start LIMIT 1",
        [MIGRATION_LOCK_KEY >> 32, MIGRATION_LOCK_KEY & 0xFFFFFFFF],
    )
    holder = cursor.fetchone()
    if holder is None:
        return "another run (it has just finished)"
    pid, db_user, client_addr, since = holder
    cursor.execute("SELECT to_regclass('public.migration_runs') IS NOT NULL")
    run = None
    if cursor.fetchone()[0]:
        cursor.execute(
            "SELECT command, os_user, host, started_at FROM public.migration_runs WHERE outcome = 'running' "
            "ORDER BY started_at DESC LIMIT 1"
        )
        run = cursor.fetchone()
    if run is not None:
        command, os_user, host, started_at = run
        return f"{command!r} by {os_user or db_user} on {host or client_addr} since {started_at:%Y-%m-%d %H:%M:%S %Z} (pid {pid})"
    return f"database user {db_user} from {client_addr or 'a local socket'} since {since:%Y-%m-%d %H:%M:%S %Z} (pid {pid})"


def _busy(wait_seconds: float, holder: str) -> MigrationLockBusy:
    return MigrationLockBusy(
        f"Another migration run holds the lock: {holder}. Waited {wait_seconds:g} s; "
        "try again when it is done (the wait is --lock-wait of migrate_schemas, or MIGRATION_LOCK_WAIT)."
    )


def _milliseconds(seconds: float) -> str:
    return f"{max(int(seconds * 1000), 1)}ms"


def _take_on_default_connection(lock_sql: str, *, wait_seconds: float) -> None:
    """Run lock_sql on the default connection, waiting at most wait_seconds."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        (previous,) = cursor.fetchone()
        # A savepoint (or a transaction of its own): a timeout leaves the caller's transaction usable.
        with _busy_if_timed_out(wait_seconds), transaction.atomic():
            # lock_timeout bounds the wait for an advisory lock too: no polling.
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [_milliseconds(wait_seconds)])
            cursor.execute(lock_sql, [MIGRATION_LOCK_KEY])
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


def hold_shared_migration_lock(
    *, wait_seconds: float, then: tuple[str, Sequence[Any]] | None = None
) -> tuple[object, ...] | None:
    """Take the lock shared until the current transaction ends (tenant creation); raise MigrationLockBusy.

    One round trip: creation is meant to take milliseconds. `then`, a query and
    its parameters, runs after the lock in that same round trip, and its first
    row is returned. The values inlined in the DO block are integers made here.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("hold_shared_migration_lock() needs a transaction")
    take = (
        "DO $$ DECLARE previous text := current_setting('lock_timeout'); BEGIN "
        f"PERFORM set_config('lock_timeout', '{_milliseconds(wait_seconds)}', true); "
        f"PERFORM pg_advisory_xact_lock_shared({int(MIGRATION_LOCK_KEY)}); "
        "PERFORM set_config('lock_timeout', previous, true); END $$"
    )
    query, params = then if then is not None else ("", None)
    with _busy_if_timed_out(wait_seconds), connection.cursor() as cursor:
        cursor.execute(f"{take};\n{query}" if query else take, params)
        return cursor.fetchone() if query else None


@contextmanager
def _busy_if_timed_out(wait_seconds: float) -> Iterator[None]:
    """Turn the default connection's lock timeout into MigrationLockBusy, naming who holds the lock."""
    try:
        yield
    except OperationalError as exc:
        if getattr(exc.__cause__, "pgcode", None) != LOCK_NOT_AVAILABLE:
            raise
        raise _busy(wait_seconds, _describe_holder_elsewhere()) from None


def _describe_holder_elsewhere() -> str:
    conn = _lock_connection()
    try:
        with conn.cursor() as cursor:
            return describe_holder(cursor)
    finally:
        conn.close()


@contextmanager
def migration_lock(*, wait_seconds: float, shared: bool = False, dedicated_connection: bool = False) -> Iterator[None]:
    """Hold the migration lock for the block, waiting up to wait_seconds; raise MigrationLockBusy if it stays taken."""
    suffix = "_shared" if shared else ""
    if not dedicated_connection:
        _take_on_default_connection(f"SELECT pg_advisory_lock{suffix}(%s)", wait_seconds=wait_seconds)
        session = backend_pid(connection)
        try:
            yield
        finally:
            # A session that ended (server restarted, backend terminated) took its lock with it; unlocking
            # on another would fail, or reconnect, and hide why the block ended.
            if backend_pid(connection) == session:
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT pg_advisory_unlock{suffix}(%s)", [MIGRATION_LOCK_KEY])
        return
    conn = _lock_connection()
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", [_milliseconds(wait_seconds)])
            try:
                cursor.execute(f"SELECT pg_advisory_lock{suffix}(%s)", [MIGRATION_LOCK_KEY])
            except psycopg2.errors.LockNotAvailable:
                raise _busy(wait_seconds, describe_holder(cursor)) from None
        yield
    finally:
        conn.close()  # releases the lock
