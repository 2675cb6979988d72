"""django-tenants' PostgreSQL backend, with the search path set per transaction and a lighter health check.

The search path, per transaction (PgBouncer in transaction mode)
-----------------------------------------------------------------
django-tenants points a connection at its tenant with a session-level
`SET search_path` before every cursor. Behind PgBouncer with
pool_mode = transaction a session is not ours: each transaction may run on
another server connection, so that SET (a transaction of its own, in
autocommit) may land on one server connection and the query after it on
another, which still has the path some other client left there, another
tenant's schema (django-tenants issues #545 and #1112). Here the path belongs
to the transaction that uses it, and nothing is left on the session:

- inside a transaction (atomic blocks, a request's writes, the summary worker's
  steps) it is `SET LOCAL search_path`, sent where django-tenants sends its
  SET; it ends with the transaction (or the savepoint rolled back), and
  PgBouncer keeps a transaction on one server connection;
- in autocommit (most reads of a request) each statement is a transaction of
  its own, so the SET must travel with the statement: it is sent in the same
  query string, `SET LOCAL search_path = …; SELECT …`, which PostgreSQL runs
  as one implicit transaction on one server connection. That is one round trip
  where django-tenants spent two, so it costs nothing on a direct connection
  either, and is always on (SEARCH_PATH_PER_TRANSACTION=false restores
  django-tenants' session-level SET, for the test that shows the leak).

Why not the alternatives: wrapping every request in a transaction
(ATOMIC_REQUESTS) adds a BEGIN and a COMMIT round trip to every request, a
read by key's one statement becoming three; qualifying every name is what the
hottest paths already do (contexts.services' counted read, the database cache),
but the ORM, the admin and Django's own apps cannot be made to; and
django-tenants' TENANT_LIMIT_SET_CALLS caches a session's path, which is
exactly what a pooler breaks. One place, here, covers every door (REST, MCP,
admin, commands, the worker), because they all get their cursors from it.

Only queries and DML carry it in autocommit. DDL and utility commands there
get django-tenants' session-level SET before them instead: some refuse any
transaction block (CREATE INDEX CONCURRENTLY, VACUUM), and Citus forwards a
DDL command's query string to its workers as it is, where two statements are
refused. DDL in autocommit is migration work (requests and the worker change
schemas inside transactions), which holds session state anyway (the advisory
lock) and connects directly (MIGRATION_DATABASE_URL; tenants.session_database
refuses to run it through a transaction pooler). Named (server-side) cursors
get the session SET too, which is why the settings disable them
(DISABLE_SERVER_SIDE_CURSORS, as Django advises behind PgBouncer).

The health check, at most once a second per connection
-------------------------------------------------------
Django checks a persistent connection (CONN_HEALTH_CHECKS, mcp.env) with a
`SELECT 1` before the first query of every request, so that a connection the
server dropped while it sat idle (a restart, an idle timeout in a proxy) is
replaced before it fails a request. On a busy worker that is a round trip per
request, and it cost a read by key about a fifth of its CPU (bench/api.py). A
connection that was opened or answered the check less than
HEALTH_CHECK_INTERVAL ago is taken as sound instead: an idle connection is
still checked before it is used. The trade: a connection that dies within the
second after its check (the server restarts under load) fails the one request
that uses it, which Django answers with a 500 and after which it closes the
connection (errors_occurred), so that the worker's next request reconnects,
as it would have without any health check.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from typing import Any

import django.db.utils
import psycopg2
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper
from django_tenants.utils import quote_schema_name
from psycopg2 import sql as psycopg2_sql

HEALTH_CHECK_INTERVAL = 1.0  # seconds

# The statements that carry the path with them in autocommit: queries, DML and their EXPLAIN, which PostgreSQL
# runs in the implicit transaction of a multi-statement string (Django may open a compound query with a parenthesis).
_CARRIES_PATH = re.compile(
    r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*\(*\s*(?:SELECT|INSERT|UPDATE|DELETE|WITH|VALUES|TABLE|MERGE|EXPLAIN)\b",
    re.IGNORECASE | re.DOTALL,
)


def search_path_per_transaction() -> bool:
    """Whether the search path is set per transaction (the default) rather than on the session, as django-tenants does."""
    return bool(getattr(settings, "SEARCH_PATH_PER_TRANSACTION", True))


class PathCarryingCursor:
    """A driver cursor whose every statement carries the search path with it: `SET LOCAL search_path = …; <sql>`.

    For cursors taken in autocommit, where each statement is a transaction of
    its own (see the module's docstring). Everything else is the driver's.
    """

    def __init__(self, cursor: Any, search_path: str) -> None:
        self._cursor = cursor
        self._set_local = f"SET LOCAL search_path = {search_path}; "
        self._set_session = f"SET search_path = {search_path}"

    def _carrying(self, sql: Any) -> str | None:
        if isinstance(sql, psycopg2_sql.Composable):
            sql = sql.as_string(self._cursor)
        elif isinstance(sql, bytes):
            sql = sql.decode()
        if not _CARRIES_PATH.match(sql):
            # DDL and utility commands: some refuse a transaction block (CREATE INDEX CONCURRENTLY, VACUUM), and
            # Citus forwards a DDL string to its workers as it is. Migration work, on a direct connection.
            self._cursor.execute(self._set_session)
            return None
        return self._set_local + sql

    def execute(self, sql: Any, params: Any = None) -> Any:
        return self._cursor.execute(self._carrying(sql) or sql, params)

    def executemany(self, sql: Any, param_list: Sequence[Any]) -> Any:
        return self._cursor.executemany(self._carrying(sql) or sql, param_list)

    def callproc(self, procname: str, params: Any = None) -> Any:
        self._cursor.execute(self._set_session)  # no query string to carry it; Django itself never calls it
        return self._cursor.callproc(procname, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)

    def __enter__(self) -> PathCarryingCursor:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._cursor.close()


class DatabaseWrapper(TenantDatabaseWrapper):
    _setting_search_path: bool  # django-tenants' guard against re-entering _cursor() while it sets the path
    health_check_done: bool  # Django's, typed here for mypy (django-tenants' wrapper is untyped)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.health_checked_at = float("-inf")  # time.monotonic() of the last connect or passed check

    def _handle_search_path(self, cursor: Any = None) -> None:
        """Point the statements of this cursor at the connection's schema, for their transaction only."""
        if not search_path_per_transaction() or self._setting_search_path:
            super()._handle_search_path(cursor)
            return
        if not self.schema_name:
            raise ImproperlyConfigured("Database schema not set. Did you forget to call set_schema() or set_tenant()?")
        search_path = ",".join(quote_schema_name(name) for name in self._get_cursor_search_paths())
        if "%" in search_path:  # the prefix would meet the driver's parameter markers; our schema names have none
            super()._handle_search_path(cursor)
            return
        if self.get_autocommit():
            if cursor is None:  # a named cursor: server-side cursors are off (settings), so never in a request
                super()._handle_search_path(cursor)
            else:
                cursor.cursor = PathCarryingCursor(cursor.cursor, search_path)
            return
        # In a transaction: until it ends (or the savepoint around it is rolled back), as django-tenants' SET but
        # never outliving it on the server connection.
        self._setting_search_path = True
        target = self.connection.cursor() if cursor is None else cursor
        try:
            target.execute(f"SET LOCAL search_path = {search_path}")
        except (django.db.utils.DatabaseError, psycopg2.InternalError):
            # As django-tenants: in a transaction that has already failed, the next statement fails anyway.
            self.search_path_set_schemas = None
        finally:
            self._setting_search_path = False
            if cursor is None:
                target.close()

    def connect(self) -> None:
        super().connect()
        self.health_checked_at = time.monotonic()

    def close_if_health_check_failed(self) -> None:
        if self.connection is None or not self.health_check_enabled or self.health_check_done:
            return
        if time.monotonic() - self.health_checked_at < HEALTH_CHECK_INTERVAL:
            self.health_check_done = True  # it answered within the interval: no SELECT 1 for this request
            return
        super().close_if_health_check_failed()
        if self.connection is not None:  # it passed (a connection that failed was closed; connect() stamps anew)
            self.health_checked_at = time.monotonic()
