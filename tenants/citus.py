"""Citus schema-based sharding: whether the database is a Citus coordinator, and how DDL must reach it there.

With citus.enable_schema_based_sharding on, each tenant schema is a distributed
schema whose tables live together on one worker. Citus propagates a DDL command
on those tables by forwarding the command's query string to the worker as it
is, over the extended protocol: a string of several statements (the engine's
one-round-trip replays) is refused there ("cannot insert multiple commands into
a prepared statement"). So on a coordinator the engine sends the same
statements one at a time, in the same transaction, on the raw connection.

Two shortcuts were measured and rejected: a DO block that EXECUTEs each
statement is one round trip, but Citus does not distribute a table created
inside a function (it stays a local table of the coordinator, in a distributed
schema); and psycopg2 has no pipeline mode. Each statement costs the worker's
round trip anyway (10-20 ms for a CREATE TABLE on a local cluster, against some
0.05 ms for the client's), so sending them one by one costs under 2 % more than
pipelining would.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlparse
from django.db import connection

_coordinators: dict[tuple[str, str, str], bool] = {}
_split: dict[str, list[str]] = {}


def citus_coordinator() -> bool:
    """Whether the default database has the Citus extension (asked once per process and database)."""
    settings = connection.settings_dict
    key = (str(settings.get("HOST") or ""), str(settings.get("PORT") or ""), str(settings.get("NAME") or ""))
    if key not in _coordinators:
        with connection.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')")
            _coordinators[key] = bool(cursor.fetchone()[0])
    return _coordinators[key]


def split_statements(sql: str) -> list[str]:
    """Split an SQL script into its statements (dollar quotes and literals respected), remembered per script."""
    if sql not in _split:
        if len(_split) > 64:  # scripts are few (one per state of the migrations); bound it all the same
            _split.clear()
        _split[sql] = [text for part in sqlparse.split(sql) if (text := part.strip().rstrip(";").strip())]
    return _split[sql]


def execute_each(cursor: Any, statements: Iterable[str]) -> None:
    """Send statements one at a time on a cursor (Django's or the driver's): each reaches a worker as one command."""
    for statement in statements:
        cursor.execute(statement)
