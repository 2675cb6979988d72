"""The migration linter's PostgreSQL checks, completed where they let a long lock through.

django-migration-linter 6.0.0 reads each migration's SQL (printed by our sqlmigrate) with
regular expressions. Its PostgreSQL analyser passes three things that hold a lock on a
table with rows for as long as PostgreSQL scans or rewrites it:

- a column added with a volatile default (`db_default=RandomUUID()`): PostgreSQL stores a
  constant or stable default (`0`, `now()`) in the catalog, but computes a volatile one for
  every row, rewriting the table under an exclusive lock;
- a CHECK or FOREIGN KEY constraint added to an existing table without NOT VALID, or a
  column added with a CHECK of its own (`PositiveIntegerField`): every row is checked
  under a lock that blocks writes;
- every index statement after a migration's first: its CREATE INDEX checks stop there
  (and take a `USING gin` or partial index's table for another one).

A stored generated column (GENERATED ALWAYS AS … STORED) added to an existing table is
computed for every row, rewriting the table like a volatile default.

ProjectPostgresqlAnalyser adds these three and reads every index statement. It also
refuses CREATE EXTENSION, which a tenant migration would install in one tenant's schema
(create extensions once in public; mark a shared app's migration that does so reviewed). The linter
picks its analyser by name from its registry (the `sql_analyser` option);
register_sql_analyser() puts this one there. This module is for development and CI only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from django_migration_linter.sql_analyser import PostgresqlAnalyser
from django_migration_linter.sql_analyser.analyser import ANALYSER_STRING_MAPPING
from django_migration_linter.sql_analyser.base import Check, CheckMode, CheckType

SQL_ANALYSER_NAME = "project_postgresql"

IDENTIFIER = r'(?:"(?:[^"]|"")+"|[a-z_][\w$]*)'
QUALIFIED_NAME = rf"{IDENTIFIER}(?:\.{IDENTIFIER})?"

CREATE_TABLE = re.compile(
    rf"\s*CREATE\s+(?:(?:TEMP|TEMPORARY|UNLOGGED)\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<table>{QUALIFIED_NAME})",
    re.IGNORECASE,
)
CREATE_INDEX = re.compile(
    rf"\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?P<concurrently>CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?"
    rf"(?:{IDENTIFIER}\s+)?ON\s+(?:ONLY\s+)?(?P<table>{QUALIFIED_NAME})",
    re.IGNORECASE,
)
ALTER_TABLE = re.compile(
    rf"\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?(?P<table>{QUALIFIED_NAME})(?P<actions>.*)",
    re.IGNORECASE | re.DOTALL,
)

# The volatile functions (pg_proc.provolatile = 'v') that can give a column its value: the
# core ones up to PostgreSQL 18 and those of the uuid-ossp and pgcrypto extensions. A default
# calling one is computed row by row; a stable one (now(), statement_timestamp()) only once.
VOLATILE_FUNCTIONS = (
    "clock_timestamp",
    "gen_random_bytes",
    "gen_random_uuid",
    "nextval",
    "random",
    "random_normal",
    "timeofday",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
)
VOLATILE_DEFAULT = re.compile(
    rf"\bADD\s+COLUMN\b.*?\bDEFAULT\b.*?\b(?:{'|'.join(VOLATILE_FUNCTIONS)})\s*\(", re.IGNORECASE | re.DOTALL
)
# A stored generated column is computed for every row when it is added: a rewrite under an exclusive lock.
GENERATED_STORED = re.compile(
    r"\bADD\s+COLUMN\b.*?\bGENERATED\s+ALWAYS\s+AS\b.*\bSTORED\b", re.IGNORECASE | re.DOTALL
)
# The constraints PostgreSQL checks against every row when they are added (a CHECK, named
# or on a new column, and a FOREIGN KEY), unless NOT VALID. A column added with an inline
# REFERENCES is all NULL, so PostgreSQL skips that check; its index is CREATE_INDEX's.
SCANNING_CONSTRAINT = re.compile(r"\bCHECK\s*\(|\bFOREIGN\s+KEY\b", re.IGNORECASE)
NOT_VALID = re.compile(r"\bNOT\s+VALID\b", re.IGNORECASE)
# A tenant app's migration runs with the tenant schema first on the search path, so an extension it
# creates lands in that one tenant's schema (and dropping that tenant would take it from all others).
CREATE_EXTENSION = re.compile(r"\s*CREATE\s+EXTENSION\b", re.IGNORECASE)


def table_key(name: str) -> str:
    """Return the table a (possibly schema-qualified, possibly quoted) name refers to, as PostgreSQL folds it."""
    table = re.findall(IDENTIFIER, name, re.IGNORECASE)[-1]
    return table[1:-1].replace('""', '"') if table.startswith('"') else table.lower()


def on_existing_tables(sql_statements: list[str], statement: re.Pattern[str]) -> Iterator[re.Match[str]]:
    """Yield each statement of this kind about a table that the migration has not created before it."""
    created_tables: set[str] = set()
    for sql in sql_statements:
        if created := CREATE_TABLE.match(sql):
            created_tables.add(table_key(created["table"]))
        elif (match := statement.match(sql)) and table_key(match["table"]) not in created_tables:
            yield match


def adds_column_with_volatile_default(sql_statements: list[str], **kwargs: object) -> bool:
    """Return whether the migration adds a column with a volatile default to an existing table."""
    return any(VOLATILE_DEFAULT.search(alter["actions"]) for alter in on_existing_tables(sql_statements, ALTER_TABLE))


def adds_stored_generated_column(sql_statements: list[str], **kwargs: object) -> bool:
    """Return whether the migration adds a stored generated column to an existing table."""
    return any(GENERATED_STORED.search(alter["actions"]) for alter in on_existing_tables(sql_statements, ALTER_TABLE))


def adds_constraint_without_not_valid(sql_statements: list[str], **kwargs: object) -> bool:
    """Return whether the migration adds a CHECK or FOREIGN KEY to an existing table without NOT VALID."""
    return any(
        SCANNING_CONSTRAINT.search(alter["actions"]) and not NOT_VALID.search(alter["actions"])
        for alter in on_existing_tables(sql_statements, ALTER_TABLE)
    )


def creates_extension(sql_statements: list[str], **kwargs: object) -> bool:
    """Return whether the migration creates an extension."""
    return any(CREATE_EXTENSION.match(sql) for sql in sql_statements)


def creates_index_on_existing_table(
    sql_statements: list[str], ignore_concurrently: bool = True, **kwargs: object
) -> bool:
    """Return whether any index statement of the migration builds a plain index on an existing table."""
    return any(
        not (ignore_concurrently and index["concurrently"])
        for index in on_existing_tables(sql_statements, CREATE_INDEX)
    )


def creates_index_in_locking_transaction(sql_statements: list[str], **kwargs: object) -> bool:
    """Return whether a transaction that alters a table also builds an index on an existing table.

    The linter's own CREATE_INDEX_EXCLUSIVE rule: the ALTER TABLE's lock is held until the
    index is built. Here every index statement is read, not only the first.
    """
    return (
        bool(sql_statements)
        and sql_statements[0].startswith("BEGIN")
        and any(ALTER_TABLE.match(sql) for sql in sql_statements)
        and creates_index_on_existing_table(sql_statements, ignore_concurrently=False)
    )


EVERY_INDEX_STATEMENT: dict[str, Callable[..., Any]] = {
    "CREATE_INDEX": creates_index_on_existing_table,
    "CREATE_INDEX_EXCLUSIVE": creates_index_in_locking_transaction,
}


class ProjectPostgresqlAnalyser(PostgresqlAnalyser):
    """The linter's PostgreSQL analyser, reading every index statement and refusing two more locks."""

    migration_checks: list[Check] = [
        *(
            replace(check, fn=EVERY_INDEX_STATEMENT.get(check.code, check.fn))
            for check in PostgresqlAnalyser.migration_checks
        ),
        Check(
            code="VOLATILE_DEFAULT",
            fn=adds_column_with_volatile_default,
            message="ADD COLUMN with a volatile default rewrites table",
            mode=CheckMode.TRANSACTION,
            type=CheckType.ERROR,
        ),
        Check(
            code="GENERATED_STORED",
            fn=adds_stored_generated_column,
            message="ADD COLUMN … GENERATED ALWAYS AS … STORED computes every row: rewrites table",
            mode=CheckMode.TRANSACTION,
            type=CheckType.ERROR,
        ),
        Check(
            code="CREATE_EXTENSION",
            fn=creates_extension,
            message="CREATE EXTENSION belongs in public, once: in a tenant migration it lands in a tenant schema",
            mode=CheckMode.TRANSACTION,
            type=CheckType.ERROR,
        ),
        Check(
            code="CONSTRAINT_MISSING_NOT_VALID",
            fn=adds_constraint_without_not_valid,
            message="CHECK or FOREIGN KEY without NOT VALID locks table while it checks every row",
            mode=CheckMode.TRANSACTION,
            type=CheckType.ERROR,
        ),
    ]


def register_sql_analyser() -> str:
    """Add ProjectPostgresqlAnalyser to the linter's registry; return its name for the sql_analyser option."""
    ANALYSER_STRING_MAPPING[SQL_ANALYSER_NAME] = ProjectPostgresqlAnalyser
    return SQL_ANALYSER_NAME
