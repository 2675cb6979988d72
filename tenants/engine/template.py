"""The tenant-template script: a fully migrated tenant schema in one round trip.

Replaying every migration through Django costs tens of milliseconds of Python
per tenant; django-tenants' clone_schema is slower still and renames
constraints. Instead, the tenant apps' migrations are run once on a scratch
schema while every statement they execute is captured. What they ran on an
empty schema is exactly what a new, empty tenant schema needs, so replaying it
(plus the django_migrations rows) builds an identical schema. The script is
stored in public under a fingerprint of the migration files: when the code's
migrations change, the next creation builds a new one by running them, so a
migration is never recorded as applied without having been run.
"""

from __future__ import annotations

import hashlib
import secrets
import weakref
from pathlib import Path

import django
from django.conf import settings
from django.db import IntegrityError, connection, transaction

from tenants.citus import citus_coordinator, execute_each, split_statements
from tenants.django_internals import as_sql_literal
from tenants.engine.applied_migrations import drop_statements, view_statements
from tenants.engine.graph import MigrationGraph, MigrationKey
from tenants.engine.schema_state import SchemaState
from tenants.engine.sql_capture import capture_statements
from tenants.errors import NotCapturable, TemplateUnavailable
from tenants.models import TenantSchemaScript
from tenants.naming import quote_schema

SCHEMA_PLACEHOLDER = "{{schema}}"


_graph_fingerprints: weakref.WeakKeyDictionary[MigrationGraph, str] = weakref.WeakKeyDictionary()


def graph_fingerprint(graph: MigrationGraph) -> str:
    """Hash the tenant apps' migrations as they are on disk: names, order and file contents (once per graph)."""
    fingerprint = _graph_fingerprints.get(graph)
    if fingerprint is None:
        fingerprint = _graph_fingerprints[graph] = _hash_migration_files(graph)
    return fingerprint


def _hash_migration_files(graph: MigrationGraph, keys: list[MigrationKey] | None = None) -> str:
    digest = hashlib.sha256(f"django {django.get_version()}\0".encode())  # its SQL may change between versions
    for app_label, name in graph.tenant_plan if keys is None else keys:
        migration = graph.loader.graph.nodes[(app_label, name)]
        module_file = getattr(__import__(migration.__module__, fromlist=["_"]), "__file__", None)
        digest.update(f"{app_label}.{name}\0".encode())
        if module_file:
            digest.update(Path(module_file).read_bytes())
    return digest.hexdigest()


_fingerprints: dict[str, str] = {}
_scripts: dict[str, TenantSchemaScript] = {}


def code_fingerprint() -> str:
    """The fingerprint of the code's migrations, computed once per process (and per MIGRATION_MODULES)."""
    key = repr(sorted(getattr(settings, "MIGRATION_MODULES", {}).items()))
    if key not in _fingerprints:
        _fingerprints[key] = graph_fingerprint(MigrationGraph())
    return _fingerprints[key]


def current_script(
    graph: MigrationGraph | None = None, *, replays: dict[tuple[frozenset[MigrationKey], tuple], str] | None = None
) -> TenantSchemaScript:
    """Return the script for the code's migrations, building and storing it if there is none yet.

    `replays`, what a migrate run captured ({(applied, plan): statements}, Migrator._replays), lets a
    run extend the previous script instead of migrating a scratch schema again (extended_script).
    """
    fingerprint = graph_fingerprint(graph) if graph is not None else code_fingerprint()
    # Creation (no graph given) may use the process's copy: a fingerprint's script never changes.
    # Migrate runs pass their graph and always look in the database, so the stored row is kept current.
    if graph is None and fingerprint in _scripts:
        return _scripts[fingerprint]
    script = TenantSchemaScript.objects.filter(fingerprint=fingerprint).first()
    if script is not None:
        _remember(script)
        return script
    extended = extended_script(graph, replays) if graph is not None and replays else None
    sql, migrations = extended or build_script(graph or MigrationGraph())
    try:
        with transaction.atomic():
            script = TenantSchemaScript.objects.create(fingerprint=fingerprint, sql=sql, migrations=migrations)
    except IntegrityError:  # another process stored the same script a moment ago
        script = TenantSchemaScript.objects.get(fingerprint=fingerprint)
    _remember(script)
    return script


def _remember(script: TenantSchemaScript) -> None:
    # Only once its row is committed: a copy of a row that was rolled back would hide that it is missing.
    transaction.on_commit(lambda: _scripts.setdefault(script.fingerprint, script))


def extended_script(
    graph: MigrationGraph, replays: dict[tuple[frozenset[MigrationKey], tuple], str]
) -> tuple[str, list[list[str]]] | None:
    """The script for the code's migrations as a stored script plus what a run captured after it; None if none fits.

    A run that took schemas from the migrations of a stored script to the code's (forwards, every
    migration replayable) captured exactly what build_script would capture for those migrations on a
    scratch schema in that state: the stored script followed by those statements is the new script,
    without migrating a scratch schema again (a quarter to half a second). The stored script is used
    only if its fingerprint is what these migration files and this Django version give for its
    migrations, so that an older Django's SQL or a since-edited migration is never carried forward.
    """
    tenant_plan = graph.tenant_plan
    for (applied, plan), statements in replays.items():
        if any(backwards for _, backwards in plan):
            continue
        before = [key for key in tenant_plan if key in applied]
        if before + [key for key, _ in plan] != tenant_plan or not before or before != tenant_plan[:len(before)]:
            continue
        script = TenantSchemaScript.objects.filter(fingerprint=_hash_migration_files(graph, before)).first()
        if script is None or [tuple(key) for key in script.migrations] != before:
            continue
        added = statements.replace("CREATE INDEX CONCURRENTLY", "CREATE INDEX")
        return script.sql + (f"{added};\n" if added else ""), [list(key) for key in tenant_plan]
    return None


def build_script(graph: MigrationGraph) -> tuple[str, list[list[str]]]:
    """Run the tenant migrations on a scratch schema, capture their statements, and drop the scratch schema."""
    from tenants.engine.migrator import Migrator

    scratch = f"template_scratch_{secrets.token_hex(4)}"  # outside the tenant_ namespace: no tenant has it
    statements: list[str] = []
    migrator = Migrator(graph=graph)
    state = SchemaState(scratch, has_table=False)
    plan = migrator.plan_for(state)
    if any(not graph.loader.graph.nodes[key].atomic for key, _ in plan) and connection.in_atomic_block:
        raise TemplateUnavailable("a non-atomic migration cannot be captured inside a transaction")
    sid = transaction.savepoint() if connection.in_atomic_block else None
    # Its django_migrations view first, as replay_script makes it: the recorder then finds it and the script
    # holds no CREATE TABLE of its own (on a Citus coordinator, the table the recorder creates is the script's).
    scaffold = [f"CREATE SCHEMA {quote_schema(scratch)}", *view_statements(scratch)]
    with connection.cursor() as cursor:
        execute_each(cursor, scaffold)
    try:
        with capture_statements(statements):
            outcome = migrator.migrate_one(scratch, state, plan)
        if outcome.failed:
            raise TemplateUnavailable(f"migrating a scratch schema failed: {outcome.error}")
    except NotCapturable as exc:
        raise TemplateUnavailable(str(exc)) from exc
    finally:
        if sid is not None:
            transaction.savepoint_rollback(sid)
        else:
            with connection.cursor() as cursor:
                execute_each(cursor, drop_statements(scratch))
    # CONCURRENTLY is for tables in use; on a new, empty schema the plain form builds the same index.
    sql = ";\n".join(statements).replace("CREATE INDEX CONCURRENTLY", "CREATE INDEX")
    sql = sql.replace(quote_schema(scratch), SCHEMA_PLACEHOLDER)
    if scratch in sql:
        raise TemplateUnavailable(f"the migrations name their schema unquoted ({scratch}); cannot template it")
    return sql + ";\n" if sql else "", [list(key) for key, _ in plan]


def replay_script(script: TenantSchemaScript, schema_name: str) -> None:
    """Create schema_name from the script in one round trip, inside the caller's transaction.

    On a Citus coordinator, one statement at a time instead (tenants.citus says why).

    The search path set here lasts until django-tenants sets its own, which it
    does on the next cursor.
    """
    schema = quote_schema(schema_name)
    head = [
        f"CREATE SCHEMA {schema}",
        *view_statements(schema_name),  # where its django_migrations rows go
        f"SET LOCAL search_path = {schema}, public",
    ]
    with connection.cursor() as cursor:
        tail = []
        if script.migrations:
            rows = ", ".join(
                as_sql_literal(cursor, "(%s, %s, now())", [app, name]) for app, name in script.migrations
            )
            tail.append(f"INSERT INTO django_migrations (app, name, applied) VALUES {rows}")
        if citus_coordinator():  # one statement at a time: Citus forwards each as it is to the schema's worker
            body = [statement.replace(SCHEMA_PLACEHOLDER, schema) for statement in split_statements(script.sql)]
            execute_each(cursor, [*head, *body, *tail])
            return
        body_sql = script.sql.replace(SCHEMA_PLACEHOLDER, schema)
        cursor.execute("".join(f"{s};\n" for s in head) + body_sql + "".join(f"{s};\n" for s in tail))
