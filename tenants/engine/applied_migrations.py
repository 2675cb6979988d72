"""Every tenant schema's django_migrations as a view over one table in public, so the fleet's state is one read.

What each schema has applied was 10,000 tables to read at 10,000 tenants: about
0.25 ms each (opening the relation, planning its scan), 2.5 s of every no-op run
and of every `migration_status`. Here the rows of every tenant schema live in
one table, public.tenant_django_migrations, keyed by schema name, and each
tenant schema's `django_migrations` is a view of its own rows:

    CREATE VIEW tenant_acme.django_migrations AS
        SELECT id, app, name, applied, schema_name FROM public.tenant_django_migrations
        WHERE schema_name = 'tenant_acme'::regnamespace::text WITH CHECK OPTION;
    ALTER VIEW tenant_acme.django_migrations ALTER COLUMN schema_name
        SET DEFAULT 'tenant_acme'::regnamespace::text;

(`'tenant_acme'::regnamespace` is stored as the schema's oid and read back as
its name when a statement runs: the view follows its schema through a rename.)

Django (its recorder, through the standard executor or a plain `migrate`), the
engine and a DBA in psql keep reading and writing `django_migrations` as
before: the view is automatically updatable, so inserts, deletes and RETURNING
go through to the table. Nothing can drift, as a summary kept beside the
tables could: there is one copy of each row. The view's own column default
files a row under its schema whatever the search path (a qualified insert
from another schema's path included), and the check option refuses a row
filed under another schema. Reading the whole fleet is then one query on one
table (read_schema_states).

Why not the alternatives, measured or tried: a summary table kept by a trigger
per schema was correct but made every long connection quadratic (PL/pgSQL
keeps a compiled copy of the trigger function per trigger: README,
"Migrations across every schema"); a partitioned table with each schema's
table as a partition reads all 10,000 partitions to read the whole; a summary
written by the engine alone would miss what Django's own `migrate` records.

The rows are keyed by name, not by the schema's oid: oids change in a dump and
restore and in pg_upgrade (which refuses regnamespace columns outright), names
do not (a view's definition is dumped with the name, and made anew with the new
oid). So a schema is renamed through rename_statements (the pool's claim does),
which refiles its rows under the new name, and a dropped schema's rows go with
it (drop_statements; tenant_delete does). A schema renamed by hand shows no
rows until they are refiled: the engine then finds it "missing" and fails to
migrate it (its tables exist), never applying anything twice.
Rows of a schema that no longer exists are never read as anyone's: the reader
takes rows only for schemas whose django_migrations is such a view, and a new
schema of the same name starts by forgetting them.

Every view depends on the table's columns (pg_depend holds a few rows per tenant schema), so the table's
shape is fixed as django_migrations' own is: changing a column's type would mean making every view again.
For the same reason its key is a bigserial, not an identity column (tenants migration 0009 says why).

On a Citus coordinator tenant schemas keep a table of their own: each tenant
schema is a distributed schema whose tables live on a worker, and a view there
over a table of the coordinator is not something Citus distributes. The reader
reads both kinds.
"""

from __future__ import annotations

import re

from tenants.citus import citus_coordinator
from tenants.naming import quote_schema

APPLIED_TABLE = "public.tenant_django_migrations"
PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def applied_in_public() -> bool:
    """Whether new tenant schemas get the view (everywhere but on a Citus coordinator)."""
    return not citus_coordinator()


def _literal(schema_name: str) -> str:
    if not PLAIN_NAME.fullmatch(schema_name):
        # regnamespace reads a name back quoted when it needs quotes, and would not match the rows' plain name.
        raise ValueError(f"{schema_name!r} is not a lowercase identifier, as every tenant and pool schema name is")
    return f"'{schema_name}'"


def _view(identifier: str, literal: str) -> list[str]:
    this_schema = f"{literal}::regnamespace::text"  # the schema's name when a statement runs, through renames
    return [
        f"CREATE VIEW {identifier}.django_migrations AS SELECT id, app, name, applied, schema_name "
        f"FROM {APPLIED_TABLE} WHERE schema_name = {this_schema} WITH CHECK OPTION",
        f"ALTER VIEW {identifier}.django_migrations ALTER COLUMN schema_name SET DEFAULT {this_schema}",
    ]


def view_statements(schema_name: str, *, as_sql: tuple[str, str] | None = None) -> list[str]:
    """Give a new schema its django_migrations view, after forgetting any rows left by a schema of that name.

    Nothing on a Citus coordinator, where the schema keeps a table of its own. as_sql: the schema as an identifier
    and as a literal, when it is not known yet (psql variables, export_sql).
    """
    if not applied_in_public():
        return []
    identifier, literal = as_sql or (quote_schema(schema_name), _literal(schema_name))
    return [_forget(literal), *_view(identifier, literal)]


def forget_statements(schema_name: str) -> list[str]:
    """Forget the applied migrations filed under schema_name (its schema is being dropped, or made anew)."""
    return [_forget(_literal(schema_name))]


def _forget(literal: str) -> str:
    return f"DELETE FROM {APPLIED_TABLE} WHERE schema_name = {literal}"


def drop_statements(schema_name: str) -> list[str]:
    """Drop a schema with everything in it, and forget its applied migrations (rows in public are not in it)."""
    return [f"DROP SCHEMA IF EXISTS {quote_schema(schema_name)} CASCADE", *forget_statements(schema_name)]


def rename_statements(old: str, new: str) -> list[str]:
    """Rename a schema and refile its applied migrations under the new name, in the caller's transaction.

    The view follows the rename by itself; a schema with a table of its own (Citus) needs only the rename.
    """
    rename = f"ALTER SCHEMA {quote_schema(old)} RENAME TO {quote_schema(new)}"
    if not applied_in_public():
        return [rename]
    return [
        rename,
        *forget_statements(new),
        f"UPDATE {APPLIED_TABLE} SET schema_name = {_literal(new)} WHERE schema_name = {_literal(old)}",
    ]
