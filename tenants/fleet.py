"""What every schema has applied, read in a constant number of queries, against the migration graph.

Stock django-tenants runs a full `migrate` in every schema to find out that
there is nothing to do. Here one catalog query finds which schemas have a
django_migrations table and one UNION ALL reads all of them; the graph is
loaded once from disk. Schemas with nothing to do are never visited.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from django.db import connection
from django.db.migrations.loader import MigrationLoader

from tenants.naming import quote_schema

MigrationKey = tuple[str, str]  # (app_label, migration_name)


class MigrationGraph:
    """The project's migrations as on disk, loaded once, without touching the database."""

    def __init__(self) -> None:
        self.loader = MigrationLoader(None, ignore_no_migrations=True)

    @cached_property
    def full_plan(self) -> list[MigrationKey]:
        """Every migration in the order a new database would apply them."""
        graph = self.loader.graph
        seen: set[MigrationKey] = set()
        plan: list[MigrationKey] = []
        for leaf in sorted(graph.leaf_nodes()):
            for node in graph.forwards_plan(leaf):
                if node not in seen:
                    seen.add(node)
                    plan.append(node)
        return plan

    @cached_property
    def known(self) -> frozenset[MigrationKey]:
        return frozenset(self.loader.graph.nodes)

    def plan_to(self, targets: list[MigrationKey], applied: set[MigrationKey]) -> list[tuple[MigrationKey, bool]]:
        """Return [(migration, backwards)] that takes a schema with `applied` to `targets` (Django's rules)."""
        from django.db.migrations.executor import MigrationExecutor

        executor = MigrationExecutor.__new__(MigrationExecutor)
        executor.loader = self.loader
        self.loader.applied_migrations = {key: None for key in applied}
        return [((m.app_label, m.name), backwards) for m, backwards in executor.migration_plan(targets)]

    def leaf_targets(self) -> list[MigrationKey]:
        return sorted(self.loader.graph.leaf_nodes())

    def target_for(self, app_label: str, migration_name: str) -> MigrationKey | None:
        """Resolve `app 0003` or `app zero` like migrate does; None means zero (unapply all)."""
        if migration_name == "zero":
            return None
        return self.loader.get_migration_by_prefix(app_label, migration_name).app_label, \
            self.loader.get_migration_by_prefix(app_label, migration_name).name


@dataclass
class SchemaState:
    """What one schema has applied, and what it lacks or has in excess of the code."""

    schema_name: str
    applied: set[MigrationKey] = field(default_factory=set)
    has_table: bool = True

    def pending(self, graph: MigrationGraph) -> list[MigrationKey]:
        return [key for key in graph.full_plan if key not in self.applied]

    def unknown(self, graph: MigrationGraph) -> list[MigrationKey]:
        """Migrations recorded here that the code does not have (applied by newer code, or deleted)."""
        return sorted(self.applied - graph.known)

    def last_applied(self, graph: MigrationGraph, app_label: str) -> str | None:
        names = [name for (app, name) in graph.full_plan if app == app_label and (app, name) in self.applied]
        return names[-1] if names else None


def read_fleet_state(schema_names: list[str]) -> dict[str, SchemaState]:
    """Read the applied migrations of every named schema: one catalog query and one UNION ALL."""
    states = {name: SchemaState(name, has_table=False) for name in schema_names}
    if not schema_names:
        return states
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'django_migrations' AND c.relkind = 'r' AND n.nspname = ANY(%s)",
            [schema_names],
        )
        with_table = sorted(row[0] for row in cursor.fetchall())
        for name in with_table:
            states[name].has_table = True
        if not with_table:
            return states
        # Schema names come from the catalog and are quoted as identifiers; the literal is a parameter.
        union = " UNION ALL ".join(
            f"SELECT %s, app, name FROM {quote_schema(name)}.django_migrations" for name in with_table
        )
        cursor.execute(union, with_table)
        applied: dict[str, set[MigrationKey]] = defaultdict(set)
        for schema_name, app, name in cursor.fetchall():
            applied[schema_name].add((app, name))
    for name, keys in applied.items():
        states[name].applied = keys
    return states
