"""The code's migrations: the graph loaded once from disk (and again after a deploy), without the database.

Stock django-tenants loads the graph again in every schema it migrates. Here
one MigrationGraph serves a whole run, and `migration_graph()` keeps one per
process for the reads that happen on every request (the admin's tenant list).
"""

from __future__ import annotations

import os
from functools import cached_property

from django.db.migrations.exceptions import AmbiguityError
from django.db.migrations.loader import MigrationLoader

from tenants.errors import UnknownMigration

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

    @cached_property
    def tenant_apps(self) -> frozenset[str]:
        """Labels of the apps whose tables live in tenant schemas."""
        from django.apps import apps
        from django.conf import settings

        return frozenset(config.label for config in apps.get_app_configs() if config.name in settings.TENANT_APPS)

    @cached_property
    def tenant_plan(self) -> list[MigrationKey]:
        """The tenant apps' migrations in apply order: what a tenant schema must have."""
        return [key for key in self.full_plan if key[0] in self.tenant_apps]

    @cached_property
    def shared_plan(self) -> list[MigrationKey]:
        """The shared apps' migrations in apply order: what public must have."""
        return [key for key in self.full_plan if key[0] not in self.tenant_apps]

    @cached_property
    def shared_nodes(self) -> frozenset[MigrationKey]:
        """Migrations of the shared apps: a tenant schema neither needs nor runs them."""
        return frozenset(key for key in self.known if key[0] not in self.tenant_apps)

    def tenant_leaf_targets(self) -> list[MigrationKey]:
        return sorted(key for key in self.loader.graph.leaf_nodes() if key[0] in self.tenant_apps)

    def resolve_target(self, app_label: str, migration_name: str | None) -> MigrationKey:
        """Resolve `app`, `app 0003` or `app zero` as migrate does; (app, None) means unapply all."""
        if app_label not in self.loader.migrated_apps:
            raise UnknownMigration(f"App {app_label!r} has no migrations.")
        if migration_name is None:
            return max(key for key in self.loader.graph.leaf_nodes() if key[0] == app_label)
        if migration_name == "zero":
            return (app_label, None)  # type: ignore[return-value]
        try:
            migration = self.loader.get_migration_by_prefix(app_label, migration_name)
        except (KeyError, AmbiguityError) as exc:
            raise UnknownMigration(f"Cannot find one migration {migration_name!r} in app {app_label!r}: {exc}") from None
        return (migration.app_label, migration.name)


_graphs: dict[tuple, MigrationGraph] = {}


def migration_graph() -> MigrationGraph:
    """The code's migration graph, loaded once per process and again after a deploy changes a migration file.

    For the reads that run on every request (the admin's tenant list): loading the graph imports and
    sorts every migration, about 100 ms. The key is the settings' MIGRATION_MODULES and the name,
    size and modification time of every file in the migration packages (a stat each, no reading), so
    a deploy that adds, removes or rewrites one loads the graph again. Read-only: a run that plans
    (Migrator) loads its own.
    """
    key = _migration_files_key()
    graph = _graphs.get(key)
    if graph is None:
        _graphs.clear()
        graph = _graphs[key] = MigrationGraph()
    return graph


def _migration_files_key() -> tuple:
    from importlib.util import find_spec

    from django.apps import apps
    from django.conf import settings

    files: list[tuple[str, int, int]] = []
    for config in apps.get_app_configs():
        module_name, _ = MigrationLoader.migrations_module(config.label)
        if module_name is None:
            continue
        try:
            spec = find_spec(module_name)
        except ImportError:
            continue
        for directory in (spec.submodule_search_locations or []) if spec is not None else []:
            try:
                entries = os.scandir(directory)
            except OSError:
                continue
            with entries:
                for entry in entries:
                    if entry.name.endswith(".py"):
                        stat = entry.stat()
                        files.append((entry.path, stat.st_size, stat.st_mtime_ns))
    return (repr(sorted(getattr(settings, "MIGRATION_MODULES", {}).items())), tuple(sorted(files)))
