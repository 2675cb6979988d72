"""The `fleet` executor: django-tenants' extension point, running our Migrator for tenant schemas."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django_tenants.migration_executors.base import MigrationExecutor
from django_tenants.utils import get_tenant_base_migrate_command_class, schema_context

from tenants.db_errors import backend_pid
from tenants.engine.graph import MigrationGraph, MigrationKey
from tenants.engine.migrator import Migrator, RunResult, SchemaOutcome
from tenants.engine.pool import pool_mark, pool_schema_names
from tenants.engine.progress import RunDisplay, SchemaLines
from tenants.engine.schema_state import read_schema_states
from tenants.engine.template import current_script, graph_fingerprint
from tenants.errors import TenantError
from tenants.models import MigrationRun
from tenants.naming import PUBLIC_SCHEMA

RUN_CONTEXT_OPTION = "run_context"


@dataclass
class RunContext:
    """What migrate_schemas hands its executor, and gets back: the run record, output, results."""

    run: MigrationRun | None = None
    fail_fast: bool = False
    lock_timeout_ms: int = 5000
    write: Any = None  # a line writer
    verbosity: int = 1
    results: list[RunResult] = field(default_factory=list)
    display: RunDisplay | None = None  # the bar or the lines; by default, lines through `write`
    wave: list[str] | None = None  # the tenant schemas of a wave (--tenants, --plan, --canary); None: all


class FleetExecutor(MigrationExecutor):
    codename = "fleet"

    def run_migrations(self, tenants: list[str] | None = None) -> None:
        schema_names = list(tenants or [])
        context: RunContext = self.options.get(RUN_CONTEXT_OPTION) or RunContext()
        graph = MigrationGraph()
        if PUBLIC_SCHEMA in schema_names:
            schema_names.remove(PUBLIC_SCHEMA)
            self._migrate_public(context, graph)
        if context.wave is not None:  # a wave: those of its schemas django-tenants would migrate, in its order
            in_wave = set(context.wave)
            schema_names = [name for name in schema_names if name in in_wave]
        # Pooled schemas go with the tenants: on the tenant call of a run over all of them only.
        everything = not (self.options.get("schema_name") or PUBLIC_SCHEMA in (tenants or []) or context.wave is not None)
        pooled = pool_schema_names() if everything else []
        schema_names += pooled
        app_label, migration_name = self.options.get("app_label"), self.options.get("migration_name")
        target = graph.resolve_target(app_label, migration_name) if app_label else None
        if PUBLIC_SCHEMA in (tenants or []) and not schema_names:
            return  # the public call of a run; the tenant call follows
        migrator = None
        if schema_names or context.wave is not None:  # an empty wave is reported too: 0 schemas
            migrator = Migrator(
                graph=graph,
                target=target,
                fail_fast=context.fail_fast,
                lock_timeout_ms=context.lock_timeout_ms,
                run=context.run,
                report=self._reporter(context),
            )
            # In the results before it runs: a run that stops half-way still reports what it did.
            result = RunResult(total=len(schema_names))
            context.results.append(result)
            migrator.migrate(schema_names, result=result)
            not_done = {outcome.schema_name for outcome in result.failed} | set(result.skipped)
            # A pooled schema is claimable again only once it is at the code's migrations.
            pool_mark([name for name in pooled if name not in not_done],
                      fingerprint=graph_fingerprint(graph) if target is None else "")
        if target is None and not self.options.get("schema_name"):
            self._refresh_template(graph, context, replays=migrator._replays if migrator is not None else None)

    @staticmethod
    def _refresh_template(graph: MigrationGraph, context: RunContext, *, replays: dict | None = None) -> None:
        """Keep the tenant template in step with the code, so that the next signup does no migrating."""
        try:
            current_script(graph, replays=replays)
        except TenantError as exc:  # the run itself went well; creation will migrate instead
            (context.write or sys.stdout.write)(f"The tenant template could not be built: {exc}")

    def run_multi_type_migrations(self, tenants: Any) -> None:
        raise NotImplementedError("The fleet executor does not support multi-type tenants.")

    def _migrate_public(self, context: RunContext, graph: MigrationGraph) -> None:
        """Migrate public with Django's own migrate (its signals create content types and permissions)."""
        started = time.perf_counter()
        before = read_schema_states([PUBLIC_SCHEMA])[PUBLIC_SCHEMA].applied
        if not self.options.get("app_label") and public_is_current(graph, before):
            # Nothing to apply: Django's migrate would only rebuild the graph, read the same table and send
            # its post_migrate signals (content types and permissions, which come with migrations).
            context.results.append(RunResult(total=1, duration_s=time.perf_counter() - started))
            return
        # Django's migrate itself, as django-tenants' run_migrations calls it, minus its closing of
        # the connection afterwards: the run holds the migration lock on that connection.
        stdout = self.options.get("stdout") or sys.stdout
        migrate_command = get_tenant_base_migrate_command_class()(stdout=stdout, stderr=self.options.get("stderr"))
        with schema_context(PUBLIC_SCHEMA):
            with connection.cursor() as cursor:  # as for tenants: never queue behind a long transaction
                cursor.execute("SELECT set_config('lock_timeout', %s, false)", [f"{context.lock_timeout_ms}ms"])
            try:
                migrate_command.execute(*self.args, **self.options)
            finally:
                if backend_pid(connection) is not None:  # a lost session took its settings with it
                    with connection.cursor() as cursor:
                        cursor.execute("RESET lock_timeout")
            after = read_schema_states([PUBLIC_SCHEMA])[PUBLIC_SCHEMA].applied
        applied = [f"{app}.{name}" for app, name in graph.shared_plan if (app, name) in after - before]
        unapplied = [f"{app}.{name}" for app, name in reversed(graph.shared_plan) if (app, name) in before - after]
        done = applied or unapplied
        # Public is a schema of the run like the others: in its counts, and in its history (written when
        # the run finishes, so that the run that creates the history's own table is in it too).
        outcome = SchemaOutcome(PUBLIC_SCHEMA, done, not applied and bool(unapplied),
                                (time.perf_counter() - started) * 1000)
        context.results.append(
            RunResult(total=1, outcomes=[outcome] if done else [], duration_s=time.perf_counter() - started)
        )

    @staticmethod
    def _reporter(context: RunContext) -> SchemaReport:
        write = context.write or (lambda line: sys.stdout.write(line + "\n"))
        return SchemaReport(context.display or SchemaLines(write, verbosity=context.verbosity))


def public_is_current(graph: MigrationGraph, applied: frozenset[MigrationKey]) -> bool:
    """Whether public has every migration of every app (tenant apps' too: Django's migrate records them there).

    A squashed migration counts as applied when everything it replaces is, as Django's loader counts it.
    """
    nodes = graph.loader.graph.nodes
    return all(
        key in applied or (nodes[key].replaces and all(tuple(old) in applied for old in nodes[key].replaces))
        for key in graph.full_plan
    )


class SchemaReport:
    """Hands the migrator's progress to a display: a schema's line is formatted only if it is shown."""

    def __init__(self, display: RunDisplay) -> None:
        self.display = display

    def start(self, total: int) -> None:
        self.display.start(total)

    def schema_done(self, index: int, total: int, outcome: SchemaOutcome) -> None:
        self.display.advance(failed=outcome.failed, line=lambda: format_outcome(index, total, outcome))

    def stop(self) -> None:
        self.display.stop()


def format_outcome(index: int, count: int, outcome: SchemaOutcome) -> str:
    """`[12/300] tenant_acme  contexts.0005_context_archived_at  applied  14 ms`"""
    width = len(str(count))
    verb = "FAILED" if outcome.failed else ("unapplied" if outcome.backwards else "applied")
    names = ", ".join(outcome.migrations)
    line = f"[{index:>{width}}/{count}] {outcome.schema_name}  {names}  {verb}  {outcome.duration_ms:.0f} ms"
    return f"{line}  {outcome.error}" if outcome.failed else line
