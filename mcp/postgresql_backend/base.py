"""django-tenants' PostgreSQL backend, with the search path set once per transaction and a lighter health check.

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

Once per transaction, not before every cursor
---------------------------------------------
Django takes a cursor for each statement of the ORM and for each savepoint,
so a transaction sent the same `SET LOCAL` before nearly every statement: 7
of the 17 round trips of a tenant's creation from the pool (issue 12). The
transaction's path is now sent once, in front of its first statement in the
same query string (`SET LOCAL search_path = …; SELECT …`; alone before DDL,
which Citus forwards as it is, and not at all in a failed transaction, which
only takes its rollback), and remembered after it, on the driver's connection
(`_DriverConnection.transaction_search_path`): the next cursor of the same
transaction with the same path sends nothing. A first statement that may have
moved the path itself is not taken for it. A wrong path reads
another tenant's rows, so whatever may have undone or moved it forgets it and
the next cursor sends it again (a false alarm costs one round trip):

- the end of the transaction: the driver's commit(), rollback() and reset()
  (which Django's and anyone's go through), a transaction that is no longer
  open when the next cursor asks (the driver's own transaction status, read
  locally), autocommit switched either way, the connection closed (a new
  driver connection remembers nothing);
- a savepoint rolled back (`ROLLBACK TO SAVEPOINT` undoes a `SET LOCAL` sent
  after the savepoint): Django's `_savepoint_rollback`, and any statement that
  says ROLLBACK;
- a schema switch (set_tenant, set_schema, set_schema_to_public), and a
  different path asked for in any way (the path sent is compared as text);
- any statement, sent through any cursor of the connection (Django's, the raw
  driver's the migration engine uses, `cursor_without_search_path`), whose
  text names `search_path` (a replayed template sets the new schema's path
  itself, a migration replay in a savepoint leaves its schema's path behind)
  or may end the transaction or reset the session (COMMIT, ROLLBACK, ABORT,
  END, BEGIN, RESET, DISCARD, PREPARE TRANSACTION): the driver's cursor class
  (`_DriverCursor`) reads each statement's text while a path is remembered;
- a cursor opened with another cursor class, which would not be read: the
  connection then stops remembering for good.

What is not seen is a function that changes the path from its body
(`set_config('search_path', …)` inside a PL/pgSQL function): none here does.
A broken transaction (needs_rollback) sends nothing until it is rolled back,
which forgets. Citus resolves names on the coordinator with the path as it is
when each statement runs, the same whether the SET came one statement or ten
before. With SEARCH_PATH_PER_TRANSACTION=false nothing is remembered (django-
tenants' session SET before every cursor, as before; TENANT_LIMIT_SET_CALLS is
its own cache, for sessions).

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
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg2
import psycopg2.extensions
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper
from django_tenants.utils import quote_schema_name
from psycopg2 import sql as psycopg2_sql

from mcp.postgresql_backend.introspection import DatabaseIntrospection

HEALTH_CHECK_INTERVAL = 1.0  # seconds

# The statements that carry the path with them in autocommit: queries, DML and their EXPLAIN, which PostgreSQL
# runs in the implicit transaction of a multi-statement string (Django may open a compound query with a parenthesis).
_STATEMENT_START = r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*\(*\s*"
_QUERY_AND_DML = "SELECT|INSERT|UPDATE|DELETE|WITH|VALUES|TABLE|MERGE|EXPLAIN"
_CARRIES_PATH = re.compile(rf"{_STATEMENT_START}(?:{_QUERY_AND_DML})\b", re.IGNORECASE | re.DOTALL)
# In a transaction the path's SET LOCAL also rides with savepoint commands and DO blocks (the migration lock's),
# which run in the transaction they would have run in anyway; DDL still gets it on its own (Citus, above).
_CARRIES_PATH_IN_TRANSACTION = re.compile(
    rf"{_STATEMENT_START}(?:{_QUERY_AND_DML}|SAVEPOINT|RELEASE|ROLLBACK\s+TO|DO)\b", re.IGNORECASE | re.DOTALL
)


# Statements after which the transaction's path is no longer known (the module's docstring): any that names the
# search path, or may end the transaction (and begin another), roll back to a savepoint or reset the session.
# BEGIN and END count at the start of a statement, followed as in SQL and not as in a PL/pgSQL block, whose
# `BEGIN PERFORM …` and `END $$` would otherwise make the migration lock's DO block a false alarm.
_MAY_MOVE_PATH = re.compile(
    r"search_path|\b(?:commit|rollback|abort|reset|discard|prepare\s+transaction)\b"
    r"|(?:^|;)\s*(?:begin|start\s+transaction|end)\s*(?:$|;|(?:transaction|work|isolation|read|not|deferrable|and)\b)",
    re.IGNORECASE,
)


class _DriverConnection(psycopg2.extensions.connection):
    """The driver's connection, remembering the search path its open transaction has been given with SET LOCAL.

    The state lives here, not on Django's wrapper, so that it ends with the
    connection and so that what bypasses the wrapper (the driver's own
    commit() and cursors) still makes it forget.
    """

    transaction_search_path: str | None = None  # as sent, `"tenant_acme","public"`; None: send it
    watched = True  # False once a cursor of another class, whose statements go unread, was opened

    def forget_search_path(self) -> None:
        self.transaction_search_path = None

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        factory = kwargs.get("cursor_factory", args[1] if len(args) > 1 else None)
        if factory is not None and not issubclass(factory, _DriverCursor):
            self.watched = False
            self.transaction_search_path = None
        return super().cursor(*args, **kwargs)

    def commit(self) -> None:
        self.transaction_search_path = None
        super().commit()

    def rollback(self) -> None:
        self.transaction_search_path = None
        super().rollback()

    def reset(self) -> None:
        self.transaction_search_path = None
        super().reset()

    def tpc_prepare(self) -> None:
        self.transaction_search_path = None
        super().tpc_prepare()

    def tpc_commit(self, *args: Any) -> None:
        self.transaction_search_path = None
        super().tpc_commit(*args)

    def tpc_rollback(self, *args: Any) -> None:
        self.transaction_search_path = None
        super().tpc_rollback(*args)


class _DriverCursor(psycopg2.extensions.cursor):
    """The driver's cursor: a statement that may move the path makes its connection forget the one it set."""

    connection: _DriverConnection

    def _read(self, query: Any) -> None:
        if self.connection.transaction_search_path is None:
            return  # nothing remembered: nothing to read for (autocommit, or the path not yet sent)
        if isinstance(query, psycopg2_sql.Composable):
            query = query.as_string(self)
        elif isinstance(query, bytes):
            query = query.decode(errors="replace")
        if not isinstance(query, str) or _MAY_MOVE_PATH.search(query):
            self.connection.transaction_search_path = None

    def execute(self, query: Any, vars: Any = None) -> Any:  # noqa: A002 - the driver's parameter name
        self._read(query)
        return super().execute(query, vars)

    def executemany(self, query: Any, vars_list: Any) -> Any:
        self._read(query)
        return super().executemany(query, vars_list)

    def callproc(self, procname: Any, parameters: Any = None) -> Any:
        self.connection.transaction_search_path = None  # a procedure's body is not read
        return super().callproc(procname, parameters)


def search_path_per_transaction() -> bool:
    """Whether the search path is set per transaction (the default) rather than on the session, as django-tenants does."""
    return bool(getattr(settings, "SEARCH_PATH_PER_TRANSACTION", True))


class PathCarryingCursor:
    """A driver cursor whose statements carry the search path with them: `SET LOCAL search_path = …; <sql>`.

    In autocommit (see the module's docstring), every statement, each a
    transaction of its own. In a transaction (`remember` given), only the first:
    its SET LOCAL lasts to the end of the transaction, which then remembers it
    (the connection's next cursors send nothing), so the path costs no round
    trip of its own. Everything else is the driver's.
    """

    def __init__(self, cursor: Any, search_path: str, *, remember: Callable[[], None] | None = None) -> None:
        self._cursor = cursor
        self._set_local = f"SET LOCAL search_path = {search_path}"
        self._set_session = f"SET search_path = {search_path}"
        self._in_transaction = remember is not None
        self._remember = remember  # called once, when the transaction has the path
        self._sent = False  # in a transaction: the path went with a statement of this cursor
        self._moves_path = False  # and that statement may have moved it again (_MAY_MOVE_PATH)

    def _with_path(self, sql: Any) -> Any:
        """The statement to send: the path in front when it may ride along; else the path is sent first, alone."""
        if self._in_transaction and self._sent:
            return sql
        text = sql.as_string(self._cursor) if isinstance(sql, psycopg2_sql.Composable) else sql
        text = text.decode() if isinstance(text, bytes) else text
        if self._in_transaction:
            self._sent, self._moves_path = True, bool(_MAY_MOVE_PATH.search(text))
            if self._cursor.connection.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_INERROR:
                self._moves_path = True  # a failed transaction takes only its rollback, which needs no path
                return sql
            if _CARRIES_PATH_IN_TRANSACTION.match(text):
                return f"{self._set_local}; {text}"
            self._cursor.execute(self._set_local)  # DDL alone, as below
            return sql
        if not _CARRIES_PATH.match(text):
            # DDL and utility commands: some refuse a transaction block (CREATE INDEX CONCURRENTLY, VACUUM), and
            # Citus forwards a DDL string to its workers as it is. Migration work, on a direct connection.
            self._cursor.execute(self._set_session)
            return sql
        return f"{self._set_local}; {text}"

    def _run(self, send: Callable[[Any], Any], sql: Any) -> Any:
        try:
            result = send(self._with_path(sql))
        except BaseException:
            self._sent = False  # the transaction failed (or a savepoint will undo it): send it again next time
            raise
        if self._remember is not None and self._sent:
            if not self._moves_path:  # a replayed template sets the new schema's path itself: not remembered
                self._remember()
            self._remember = None
        return result

    def execute(self, sql: Any, params: Any = None) -> Any:
        return self._run(lambda statement: self._cursor.execute(statement, params), sql)

    def executemany(self, sql: Any, param_list: Sequence[Any]) -> Any:
        return self._run(lambda statement: self._cursor.executemany(statement, param_list), sql)

    def callproc(self, procname: str, params: Any = None) -> Any:
        # No query string to carry it; Django itself never calls it. Not remembered: the body is not read.
        self._cursor.execute(self._set_local if self._in_transaction else self._set_session)
        self._sent, self._moves_path = True, True
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
        self.introspection = DatabaseIntrospection(self)  # django-tenants sets its own in __init__, not by class
        self.health_checked_at = float("-inf")  # time.monotonic() of the last connect or passed check

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        options = self.settings_dict["OPTIONS"]
        if "connection_factory" not in options and "cursor_factory" not in options:
            params.update(connection_factory=_DriverConnection, cursor_factory=_DriverCursor)
        return params

    def _remembered_search_path(self) -> str | None:
        """The path this connection's open transaction was given with SET LOCAL and still has, if known."""
        driver = self.connection
        if (
            not isinstance(driver, _DriverConnection)
            or driver.transaction_search_path is None
            or driver.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_INTRANS
        ):
            return None
        return driver.transaction_search_path

    def _remember_search_path(self, search_path: str) -> None:
        driver = self.connection
        if isinstance(driver, _DriverConnection) and driver.watched:
            driver.transaction_search_path = search_path

    def _forget_search_path(self) -> None:
        if isinstance(self.connection, _DriverConnection):
            self.connection.forget_search_path()

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None:
        super().set_tenant(tenant, include_public)
        self._forget_search_path()

    def _set_autocommit(self, autocommit: bool) -> None:
        self._forget_search_path()
        super()._set_autocommit(autocommit)

    def _commit(self) -> None:
        self._forget_search_path()
        super()._commit()

    def _rollback(self) -> None:
        self._forget_search_path()
        super()._rollback()

    def _savepoint_rollback(self, sid: str) -> None:
        try:
            super()._savepoint_rollback(sid)
        finally:  # undone if it was sent after the savepoint; forgotten even if the rollback failed
            self._forget_search_path()

    def close(self) -> None:
        self._forget_search_path()
        super().close()

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
        # never outliving it on the server connection. Once: the transaction's next cursors find it remembered.
        if self._remembered_search_path() == search_path:
            return
        if cursor is not None:  # sent with the cursor's first statement, then remembered
            cursor.cursor = PathCarryingCursor(
                cursor.cursor, search_path, remember=lambda: self._remember_search_path(search_path)
            )
            return
        # A named cursor (server-side cursors are off in settings, so never in a request): the path goes first.
        with self.connection.cursor() as driver_cursor:
            try:
                driver_cursor.execute(f"SET LOCAL search_path = {search_path}")
            except psycopg2.InternalError:
                # As django-tenants: in a transaction that has already failed, the next statement fails anyway.
                self.search_path_set_schemas = None
                self._forget_search_path()
            else:
                self._remember_search_path(search_path)

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
