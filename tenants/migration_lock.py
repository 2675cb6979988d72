"""One migration run at a time: a PostgreSQL advisory lock held on a connection of its own.

The lock lives on a dedicated connection so that nothing the run does to the
default connection (django-tenants closes it after migrating public) can drop
it; if the process dies, PostgreSQL releases it with the connection. Runs that
change schemas take it exclusively; tenant creation takes it shared, so that
creations run side by side but never during a run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import psycopg2.errors
from django.db import OperationalError, connection

from tenants.errors import TenantError

# An arbitrary constant that names this lock among the database's advisory locks.
MIGRATION_LOCK_KEY = 0x6D63705F6D6967  # "mcp_mig"


class MigrationLockBusy(TenantError):
    """Another run holds the migration lock."""


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
        return f"{command!r} by {os_user or db_user} on {host or client_addr or 'this host'} since {started_at:%Y-%m-%d %H:%M:%S %Z} (pid {pid})"
    return f"database user {db_user} from {client_addr or 'a local socket'} since {since:%Y-%m-%d %H:%M:%S %Z} (pid {pid})"


@contextmanager
def migration_lock(*, wait_seconds: float, shared: bool = False) -> Iterator[None]:
    """Hold the migration lock for the block, waiting up to wait_seconds; raise MigrationLockBusy if it stays taken."""
    conn = _lock_connection()
    try:
        with conn.cursor() as cursor:
            # lock_timeout bounds the wait for an advisory lock too: no polling.
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", [f"{max(int(wait_seconds * 1000), 1)}ms"])
            try:
                cursor.execute(
                    "SELECT pg_advisory_lock_shared(%s)" if shared else "SELECT pg_advisory_lock(%s)",
                    [MIGRATION_LOCK_KEY],
                )
            except psycopg2.errors.LockNotAvailable:
                raise MigrationLockBusy(
                    f"Another migration run holds the lock: {describe_holder(cursor)}. "
                    f"Waited {wait_seconds:g} s; try again later or raise --lock-wait."
                ) from None
        yield
    finally:
        conn.close()  # releases the lock
