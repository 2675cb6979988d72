"""What a database failure is, wherever it comes from: Django's wrappers or the driver's own errors."""

from __future__ import annotations

import psycopg2
from django.db import Error as DjangoDatabaseError
from django.db import InterfaceError, OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper

from tenants.django_internals import driver_connection

# Django wraps the driver's errors raised through its cursors; the driver's own reach us from raw
# connections (a replay, the lock's connection). InterfaceError is an Error but not a DatabaseError.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (DjangoDatabaseError, psycopg2.Error)
# Using a connection that is already closed.
CLOSED_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (InterfaceError, psycopg2.InterfaceError)


def sqlstate(exc: BaseException) -> str | None:
    """Return the SQLSTATE the server sent with this error (on the driver's error, or on Django's cause)."""
    return getattr(exc, "pgcode", None) or getattr(exc.__cause__, "pgcode", None)


def connection_lost(exc: BaseException) -> bool:
    """Whether the error means the session is gone (closed, terminated, never opened), not a refused statement."""
    if isinstance(exc, CLOSED_CONNECTION_ERRORS):
        return True
    if not isinstance(exc, (OperationalError, psycopg2.OperationalError)):
        return False
    code = sqlstate(exc)
    # No SQLSTATE: the server never answered or closed the socket. 08: connection exceptions;
    # 57P: the server shut down, or an administrator terminated the backend (57014, a cancel, is not here).
    return code is None or code.startswith(("08", "57P"))


def backend_pid(connection: BaseDatabaseWrapper) -> int | None:
    """The server process of the connection's session; None when it has none, or the driver saw it close."""
    raw = driver_connection(connection, connect=False)
    if raw is None or raw.closed:
        return None
    return raw.info.backend_pid


def first_loss(exc: BaseException) -> BaseException:
    """Return the error that lost the connection: errors raised while handling it (a rollback) only repeat it."""
    found, seen = exc, {id(exc)}
    earlier = exc.__context__
    while earlier is not None and id(earlier) not in seen:
        seen.add(id(earlier))
        if connection_lost(earlier):
            found = earlier
        earlier = earlier.__context__
    return found
