"""Capture the statements that change a schema while Django migrates it, so they can be replayed elsewhere.

What migrations run on one schema is, for schema-only operations, exactly
what they would run on any other schema in the same state: table names are
unqualified and resolved through the search path. The engine uses this to
migrate the fleet at the cost of the SQL, and to build the tenant template.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

from tenants.django_internals import as_sql_literal
from tenants.errors import NotCapturable

# Statements that change nothing a replay must repeat: django-tenants' search_path (SET LOCAL inside a
# transaction, from mcp.postgresql_backend), savepoints (the replay has its own transaction), and
# Django's reads of the system catalogs (introspection) and of django_migrations. Anything else is kept whole, even a string
# that starts with SET or SELECT (Django's "SET CONSTRAINTS … IMMEDIATE; ALTER TABLE … DROP CONSTRAINT …"
# is one execute; RunSQL may call a function with SELECT).
SAVEPOINT_COMMANDS = ("savepoint ", "release savepoint ", "rollback to savepoint ")
MIGRATION_ROW_PREFIXES = ("insert into", "delete from", "update")
CATALOG_READ = re.compile(r"^select\b[^;]*\b(pg_catalog|pg_[a-z_]+|information_schema)\b[^;]*$", re.S)
# Django's recorder reading what is applied, and django-tenants' introspection asking for the search path:
# reads, which a replay would only repeat (in every schema of a run).
OWN_READ = re.compile(r'^(show\s+search_path|select\b[^;]*\bfrom\s+"?django_migrations"?(\s|$)[^;]*)$', re.S)


def _changes_schema(lowered: str) -> bool:
    if ";" not in lowered and (lowered.startswith(("set search_path", "set local search_path", *SAVEPOINT_COMMANDS))
                               or CATALOG_READ.match(lowered) or OWN_READ.match(lowered)):
        return False
    # The django_migrations rows are written by whoever replays, with their own times.
    return not (lowered.startswith(MIGRATION_ROW_PREFIXES) and "django_migrations" in lowered)


@contextmanager
def capture_statements(statements: list[str]) -> Iterator[None]:
    """Append to statements, as literal SQL, every schema-changing statement run on the default connection."""

    def collect(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        text = sql.strip().rstrip(";")
        if _changes_schema(text.lower()):
            if many:
                raise NotCapturable("executemany() cannot be captured")
            if params is not None:
                text = as_sql_literal(context["cursor"], sql, params).strip().rstrip(";")
            statements.append(text)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(collect):
        yield
