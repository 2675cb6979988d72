"""Commands that hold a session (the migration lock, a transaction per schema) connect to PostgreSQL directly.

Behind PgBouncer in transaction mode a session lasts one transaction: the
migration lock a run takes for its session would be held by whichever server
connection took it, and released (or not) by another, and the engine's
per-schema work could land on server connections that other clients use
meanwhile. So a command that needs its session (ProjectCommand.needs_session)
runs on MIGRATION_DATABASE_URL when it is set, the default alias's connection
settings swapped for the command's duration (every piece of the migration
tooling, django-tenants' included, uses the default alias), and refuses in one
line when it finds its connection pooled per transaction without it.

How it finds out, without PgBouncer's admin console (which answers SHOW only on
its own database): the process id the server announced at login (the cancel
key's) is the one serving us on a direct connection, and through a proxy that
passes the login through (a TCP balancer); PgBouncer gives each client a key
of its own instead. One query on a direct connection. When the two differ, a
pooler stands between: in session mode the server connection stays ours, so a
second client of ours never gets it and ours never changes; in transaction
mode PgBouncer hands the server connection we just released to the next client
(it reuses the most recent one first), or, when other clients keep it busy,
gives our next transaction another one. Either is proof, never seen on a
session; a few rounds make missing it on a busy pool unlikely.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from tenants.django_internals import driver_connection
from tenants.errors import TenantError

PROBE_ROUNDS = 5
# What MIGRATION_DATABASE_URL replaces in the default alias: where and as whom to connect.
CONNECTION_KEYS = ("NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")


class SessionUnavailable(TenantError):
    """The command's connection goes through a pooler that keeps no session between transactions."""


def _backend_pid(raw: Any) -> int:
    with raw.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def transactions_are_pooled(connection: BaseDatabaseWrapper) -> bool:
    """Whether this connection's transactions may run on different server sessions (a transaction pooler)."""
    raw = driver_connection(connection)
    if raw.info.backend_pid == _backend_pid(raw):
        return False  # the server that greeted us serves us: a session of our own
    if connection.in_atomic_block:
        return True  # a pooler, and no way to tell its mode while we hold a server connection: take the safe answer
    other = psycopg2.connect(**connection.get_connection_params())
    try:
        other.autocommit = True
        for _ in range(PROBE_ROUNDS):
            ours = _backend_pid(raw)
            if _backend_pid(other) == ours or _backend_pid(raw) != ours:
                return True
        return False
    finally:
        other.close()


@contextmanager
def session_database(alias: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Run the block on MIGRATION_DATABASE_URL if it is set; refuse a connection pooled per transaction."""
    connection = connections[alias]
    direct = settings.MIGRATION_DATABASE
    if direct is None:
        if transactions_are_pooled(connection):
            raise SessionUnavailable(
                "DATABASE_URL goes through a pooler in transaction mode (PgBouncer pool_mode = transaction), where "
                "this command cannot keep its session (the migration lock, a transaction per schema): set "
                "MIGRATION_DATABASE_URL to a direct connection to PostgreSQL and run it again."
            )
        yield
        return
    original = {key: connection.settings_dict.get(key) for key in CONNECTION_KEYS}
    connection.close()
    connection.settings_dict.update({key: direct.get(key) for key in CONNECTION_KEYS})
    connection.settings_dict["OPTIONS"] = {**(direct.get("OPTIONS") or {})}
    connection.settings_dict["OPTIONS"].setdefault("application_name", "mcp migrations")
    try:
        if transactions_are_pooled(connection):
            raise SessionUnavailable(
                "MIGRATION_DATABASE_URL goes through a pooler in transaction mode too; point it at PostgreSQL "
                "itself (or at a PgBouncer database in pool_mode = session)."
            )
        yield
    finally:
        connection.close()
        connection.settings_dict.update(original)
