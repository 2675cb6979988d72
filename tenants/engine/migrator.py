"""Migrate many tenant schemas in one process: fast, isolated per schema, observable.

What stock django-tenants does per schema (a full `migrate`: system checks, the
graph rebuilt, contenttypes and permissions signals) is done once here: the
graph is loaded once, the applied state of every schema is read in two
queries, schemas with nothing to do are skipped, and the rest are migrated on
one connection with a Django MigrationExecutor reused across schemas. Each
schema's plan runs in one transaction (when every migration in it is atomic),
so a failure leaves that schema exactly where it was and the run goes on.
"""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.contrib.postgres import operations as postgres_operations
from django.db import connection, transaction
from django.db.migrations import operations
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.state import ProjectState

from tenants.citus import citus_coordinator, execute_each, split_statements
from tenants.current import tenant_db
from tenants.db_errors import backend_pid, connection_lost
from tenants.django_internals import (
    as_sql_literal,
    assume_applied,
    bare_migration_executor,
    driver_connection,
    project_state_after,
)
from tenants.engine.graph import MigrationGraph, MigrationKey
from tenants.engine.schema_state import SchemaState, read_schema_states
from tenants.engine.sql_capture import capture_statements
from tenants.errors import first_line
from tenants.models import MigrationRun, MigrationRunSchema
from tenants.naming import quote_schema
from tenants.schema_switch import restoring_schema

LOCK_TIMEOUT_SQLSTATE = "55P03"
REPLAY_BATCH = 16  # schemas replayed per round trip (each still in a transaction of its own)

# Operations whose SQL depends only on the schema they run on, never on its rows (exact classes:
# a subclass may do anything). RunPython is absent: it reads data and may act on what it finds.
SCHEMA_ONLY_OPERATIONS = frozenset({
    operations.CreateModel, operations.DeleteModel, operations.RenameModel, operations.AlterModelTable,
    operations.AlterModelTableComment, operations.AlterModelOptions, operations.AlterModelManagers,
    operations.AlterUniqueTogether, operations.AlterIndexTogether, operations.AlterOrderWithRespectTo,
    operations.AddField, operations.RemoveField, operations.AlterField, operations.RenameField,
    operations.AddIndex, operations.RemoveIndex, operations.RenameIndex, operations.AddConstraint,
    operations.RemoveConstraint, operations.RunSQL, postgres_operations.AddIndexConcurrently,
    postgres_operations.RemoveIndexConcurrently, postgres_operations.AddConstraintNotValid,
    postgres_operations.ValidateConstraint,
})


@dataclass
class SchemaOutcome:
    schema_name: str
    migrations: list[str]
    backwards: bool
    duration_ms: float
    error: str = ""
    recorded: bool = False  # its run record was written in the schema's own transaction

    @property
    def failed(self) -> bool:
        return bool(self.error)


@dataclass
class RunResult:
    total: int
    outcomes: list[SchemaOutcome] = field(default_factory=list)
    duration_s: float = 0.0
    skipped: list[str] = field(default_factory=list)  # left untouched by --fail-fast

    @property
    def stopped_early(self) -> bool:
        return bool(self.skipped)

    @property
    def migrated(self) -> list[SchemaOutcome]:
        return [o for o in self.outcomes if not o.failed]

    @property
    def failed(self) -> list[SchemaOutcome]:
        return [o for o in self.outcomes if o.failed]

    @property
    def current(self) -> int:
        return self.total - len(self.outcomes) - len(self.skipped)


class MigrationProgress(Protocol):
    """What a run tells whoever shows it: how much work there is, each schema as it is done, the end."""

    def start(self, total: int) -> None: ...

    def schema_done(self, index: int, total: int, outcome: SchemaOutcome) -> None: ...

    def stop(self) -> None: ...


def _is_schema_only(operation: object) -> bool:
    if type(operation) is operations.SeparateDatabaseAndState:
        return all(_is_schema_only(inner) for inner in operation.database_operations)
    return type(operation) in SCHEMA_ONLY_OPERATIONS


def _first_line(exc: BaseException) -> str:
    message = first_line(exc)
    # Django wraps the driver's error (pgcode on __cause__); a replay meets the driver's own.
    if LOCK_TIMEOUT_SQLSTATE in (getattr(exc, "pgcode", None), getattr(exc.__cause__, "pgcode", None)):
        return f"lock timeout: {message} (a long transaction holds a table; retry later)"
    return f"{exc.__class__.__name__}: {message}"


class Migrator:
    """Take a list of tenant schemas to the code's migrations, or to a target, one schema at a time."""

    def __init__(
        self,
        *,
        graph: MigrationGraph | None = None,
        target: MigrationKey | None = None,
        fail_fast: bool = False,
        lock_timeout_ms: int = 5000,
        run: MigrationRun | None = None,
        report: MigrationProgress | None = None,
    ) -> None:
        self.graph = graph or MigrationGraph()
        self.targets = [target] if target is not None else self.graph.tenant_leaf_targets()
        self.fail_fast = fail_fast
        self.lock_timeout_ms = lock_timeout_ms
        self.run = run
        self.report = report
        self._executor: MigrationExecutor | None = None
        self._states: dict[frozenset[MigrationKey], ProjectState] = {}
        self._replays: dict[tuple[frozenset[MigrationKey], tuple[tuple[MigrationKey, bool], ...]], str] = {}
        # Per distinct applied set, not per schema: the fleet holds a handful of states, whatever its size.
        self._plans: dict[frozenset[MigrationKey], list[tuple[MigrationKey, bool]]] = {}
        self._effective: dict[frozenset[MigrationKey], frozenset[MigrationKey]] = {}
        self._plan_names: dict[tuple[tuple[MigrationKey, bool], ...], list[str]] = {}

    def plan_for(self, state: SchemaState) -> list[tuple[MigrationKey, bool]]:
        """Return [(migration, backwards)] that takes this schema to the targets."""
        effective = self._effective_applied(state)
        plan = self._plans.get(effective)
        if plan is None:
            executor = self._get_executor()
            assume_applied(executor, effective)
            plan = [((m.app_label, m.name), backwards) for m, backwards in executor.migration_plan(self.targets)]
            self._plans[effective] = plan
        return plan

    def _effective_applied(self, state: SchemaState) -> frozenset[MigrationKey]:
        # Shared apps' migrations belong to public; in a tenant schema they count as done.
        applied = frozenset(state.applied)
        effective = self._effective.get(applied)
        if effective is None:
            effective = frozenset(key for key in applied if key[0] in self.graph.tenant_apps) | self.graph.shared_nodes
            self._effective[applied] = effective
        return effective

    def migrate(self, schema_names: list[str], *, result: RunResult | None = None) -> RunResult:
        """Migrate every schema that needs it; return what happened to each (in `result`, if given, as it goes)."""
        started = time.perf_counter()
        states = read_schema_states(schema_names)
        work = [(name, plan) for name in schema_names if (plan := self.plan_for(states[name]))]
        result = result if result is not None else RunResult(total=len(schema_names))
        result.total = len(schema_names)
        if work:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('lock_timeout', %s, false)", [f"{self.lock_timeout_ms}ms"])
            if self.report is not None:
                self.report.start(len(work))
            try:
                done = 0
                while done < len(work):
                    try:
                        outcomes = self._migrate_next(work, done, states)
                    except BaseException:
                        # The run stops here (a lost connection): this schema and the rest were not migrated.
                        result.skipped = [name for name, _ in work[done:]]
                        raise
                    for outcome in outcomes:
                        done += 1
                        result.outcomes.append(outcome)
                        if not outcome.recorded:
                            self._record(outcome)
                        if self.report is not None:
                            self.report.schema_done(done, len(work), outcome)
                    if outcomes[-1].failed and self.fail_fast:
                        result.skipped = [name for name, _ in work[done:]]
                        break
            finally:
                result.duration_s = time.perf_counter() - started
                if self.report is not None:
                    self.report.stop()
                if backend_pid(connection) is not None:  # a lost session took its settings with it
                    with connection.cursor() as cursor:
                        cursor.execute("RESET lock_timeout")
        result.duration_s = time.perf_counter() - started
        return result

    def _migrate_next(
        self, work: list[tuple[str, list[tuple[MigrationKey, bool]]]], start: int, states: dict[str, SchemaState]
    ) -> list[SchemaOutcome]:
        """Migrate work[start], or replay it with the schemas after it in the same state: the outcomes, in order."""
        schema_name, plan = work[start]
        signature = (self._effective_applied(states[schema_name]), tuple(plan))
        statements = self._replays.get(signature)
        batch = [schema_name]
        if statements is not None and self.run is not None and not connection.in_atomic_block and not citus_coordinator():
            for name, other_plan in work[start + 1:start + REPLAY_BATCH]:
                if other_plan != plan or self._effective_applied(states[name]) is not signature[0]:
                    break
                batch.append(name)
        if statements is None or len(batch) == 1:
            return [self._migrate_or_replay(schema_name, states[schema_name], plan)]
        outcomes = self._replay_batch(batch, plan, statements)
        if outcomes[-1].failed:  # a schema that differs from the first one: Django has the last word
            failed = outcomes[-1].schema_name
            outcomes[-1] = self.migrate_one(failed, states[failed], plan)
        return outcomes

    def _migrate_or_replay(
        self, schema_name: str, state: SchemaState, plan: list[tuple[MigrationKey, bool]]
    ) -> SchemaOutcome:
        """Replay what the same plan ran on a schema in the same state, or run it through Django and keep that.

        A replay that fails (a schema that differs from the first one) is rolled
        back and the schema is migrated through Django, which has the last word.
        """
        signature = (self._effective_applied(state), tuple(plan))
        statements = self._replays.get(signature)
        if statements is not None:
            outcome = self._replay(schema_name, plan, statements)
            if not outcome.failed:
                return outcome
            return self.migrate_one(schema_name, state, plan)
        if not self._replayable(plan):
            return self.migrate_one(schema_name, state, plan)
        captured: list[str] = []
        outcome = self.migrate_one(schema_name, state, plan, capture=captured)
        statements = ";\n".join(captured)
        # SQL that names the schema it ran on would change that schema again, not the next one.
        if not outcome.failed and schema_name not in statements:
            self._replays[signature] = statements
        return outcome

    def _names(self, plan: list[tuple[MigrationKey, bool]]) -> list[str]:
        """`app.name` of each migration of plan: one list per plan, shared by its outcomes (10,000 at 10,000 tenants)."""
        key = tuple(plan)
        names = self._plan_names.get(key)
        if names is None:
            names = self._plan_names[key] = [f"{app}.{name}" for (app, name), _ in plan]
        return names

    def _replayable(self, plan: list[tuple[MigrationKey, bool]]) -> bool:
        """Whether every operation only changes the schema, the same way whatever the data (no RunPython)."""
        nodes = self.graph.loader.graph.nodes
        return all(
            nodes[key].atomic and all(_is_schema_only(operation) for operation in nodes[key].operations)
            for key, _ in plan
        )

    def _replay(self, schema_name: str, plan: list[tuple[MigrationKey, bool]], statements: str) -> SchemaOutcome:
        """Send the captured statements, the django_migrations rows and the run record in one round trip.

        One transaction, sent as one string on the raw connection: the cost is
        that of the SQL itself (on a Citus coordinator, one statement at a time:
        tenants.citus). On error the transaction is rolled back here.
        """
        backwards = plan[0][1]
        names = self._names(plan)
        raw = driver_connection(connection)
        started = time.perf_counter()
        with raw.cursor() as cursor:
            migration_rows = self._migration_rows(cursor, plan)
            run_record = ""
            if self.run is not None:
                run_record = as_sql_literal(
                    cursor,
                    "INSERT INTO public.migration_run_schemas (run_id, schema_name, migrations, backwards, duration_ms,"
                    " outcome, error, finished_at) VALUES (%s, %s, %s::jsonb, %s, (1000 * extract(epoch FROM "
                    "clock_timestamp() - statement_timestamp()))::int, 'applied', '', now());",
                    [self.run.pk, schema_name, json.dumps(names), backwards],
                )
            # Inside a caller's transaction (tests, nested calls) a savepoint stands in for the transaction.
            nested = connection.in_atomic_block
            # A replay commits without waiting for its WAL to reach the disk (synchronous_commit off, for
            # this transaction only). That wait (an fsync, 1-5 ms here) was most of what a replayed schema
            # cost, several times its DDL. Chosen over several schemas a transaction with a savepoint each
            # because nothing else changes: each schema is still its own transaction (atomic, its failure
            # rolls back it alone, no lock is held past it, and a lock timeout stops one schema, not a batch),
            # and a kill -9 of this process loses nothing committed. Only a crash of the server itself may
            # lose the last few hundred milliseconds of commits (wal_writer_delay), and then each schema's
            # DDL goes with its django_migrations rows and its run record: it is found untouched, the next run
            # applies it. The run's end is written with an ordinary commit (migration_runs.run_finish, and
            # pool_mark), which flushes the WAL of every replay before it.
            begin, end, undo = (
                ("SAVEPOINT fleet_replay", "RELEASE SAVEPOINT fleet_replay",
                 "ROLLBACK TO SAVEPOINT fleet_replay; RELEASE SAVEPOINT fleet_replay")
                if nested else ("BEGIN", "COMMIT", "ROLLBACK")
            )
            local_settings = [f"SET LOCAL search_path = {quote_schema(schema_name)}, public"]
            if not nested:
                local_settings.insert(0, "SET LOCAL synchronous_commit = off")
            try:
                if citus_coordinator():  # one statement at a time: Citus forwards each as it is to a worker
                    execute_each(cursor, [begin, *local_settings, *split_statements(statements), migration_rows,
                                          *filter(None, [run_record]), end])
                else:
                    cursor.execute(
                        f"{begin}; {'; '.join(local_settings)};\n{statements + ';' if statements else ''}\n"
                        f"{migration_rows};\n{run_record}\n{end};"
                    )
            except Exception as exc:  # noqa: BLE001 - reported, then retried through Django
                if connection_lost(exc):
                    raise  # the server rolled the transaction back; no other schema can be migrated either
                cursor.execute(undo)
                return SchemaOutcome(
                    schema_name, names, backwards, (time.perf_counter() - started) * 1000, _first_line(exc)
                )
        return SchemaOutcome(schema_name, names, backwards, (time.perf_counter() - started) * 1000, recorded=True)

    def _replay_batch(
        self, schema_names: list[str], plan: list[tuple[MigrationKey, bool]], statements: str
    ) -> list[SchemaOutcome]:
        """Replay several schemas in one round trip, each in a transaction of its own (as _replay does it).

        The round trip, not the SQL, was what a replayed schema still cost beyond its statements (a
        context switch each way on a busy machine). Each schema keeps its own transaction, committed
        asynchronously, with its run record in it. When one fails, the server skips the rest of the
        string: the run records say which schemas committed (a prefix of the batch); the failing one
        comes back failed (the caller sends it through Django) and the ones after it are left for the
        next round trip. A kill -9 during the round trip leaves each schema committed or untouched.
        """
        backwards = plan[0][1]
        names = self._names(plan)
        raw = driver_connection(connection)
        assert self.run is not None  # batches are only formed with a run record, which tells what committed
        started = time.perf_counter()
        with raw.cursor() as cursor:
            migration_rows = self._migration_rows(cursor, plan)
            body = f"{statements};\n" if statements else ""
            transactions = [
                f"BEGIN; SET LOCAL synchronous_commit = off; SET LOCAL search_path = {quote_schema(schema_name)}, public;"
                " SELECT set_config('mcp.replay_started', clock_timestamp()::text, true);\n"
                f"{body}{migration_rows};\n"
                + as_sql_literal(
                    cursor,
                    "INSERT INTO public.migration_run_schemas (run_id, schema_name, migrations, backwards, duration_ms,"
                    " outcome, error, finished_at) VALUES (%s, %s, %s::jsonb, %s, (1000 * extract(epoch FROM "
                    "clock_timestamp() - current_setting('mcp.replay_started')::timestamptz))::int, 'applied', '', "
                    "now()); COMMIT;",
                    [self.run.pk, schema_name, json.dumps(names), backwards],
                )
                for schema_name in schema_names
            ]
            try:
                cursor.execute("\n".join(transactions))
                error = None
            except Exception as exc:  # noqa: BLE001 - the failing schema is reported, then retried through Django
                if connection_lost(exc):
                    raise  # each schema committed or not, as the server got to it; the run cannot go on
                cursor.execute("ROLLBACK")  # the failing schema's transaction (a warning if it had ended)
                error = exc
            committed = len(schema_names)
            if error is not None:
                cursor.execute(
                    "SELECT schema_name FROM public.migration_run_schemas WHERE run_id = %s AND schema_name = ANY(%s)",
                    [self.run.pk, schema_names],
                )
                done = {row[0] for row in cursor.fetchall()}
                committed = next((index for index, name in enumerate(schema_names) if name not in done), len(done))
                if committed == len(schema_names):  # the error came after the last commit: nothing failed
                    error = None
        each_ms = (time.perf_counter() - started) * 1000 / (committed + (error is not None))
        outcomes = [SchemaOutcome(name, names, backwards, each_ms, recorded=True) for name in schema_names[:committed]]
        if error is not None:
            outcomes.append(SchemaOutcome(schema_names[committed], names, backwards, each_ms, _first_line(error)))
        return outcomes

    @staticmethod
    def _migration_rows(cursor: Any, plan: list[tuple[MigrationKey, bool]]) -> str:
        """The statement that records plan in django_migrations (or forgets it, backwards)."""
        rows = ", ".join(as_sql_literal(cursor, "(%s, %s)", key) for key, _ in plan)
        if plan[0][1]:
            return f"DELETE FROM django_migrations WHERE (app, name) IN ({rows})"
        return f"INSERT INTO django_migrations (app, name, applied) SELECT a, n, now() FROM (VALUES {rows}) v(a, n)"

    def migrate_one(
        self,
        schema_name: str,
        state: SchemaState,
        plan: list[tuple[MigrationKey, bool]],
        capture: list[str] | None = None,
    ) -> SchemaOutcome:
        """Run plan on one schema in one transaction (when it can); report, never raise, a failure."""
        executor = self._get_executor()
        effective = self._effective_applied(state)
        assume_applied(executor, effective)
        nodes = executor.loader.graph.nodes
        migration_plan = [(nodes[key], backwards) for key, backwards in plan]
        backwards = plan[0][1]
        names = self._names(plan)
        started = time.perf_counter()
        try:
            with restoring_schema():  # back where the caller was (public for a run)
                tenant_db.set_schema(schema_name)
                project_state = None if backwards else self._state_after(effective).clone()
                all_atomic = all(migration.atomic for migration, _ in migration_plan)
                with capture_statements(capture) if capture is not None else nullcontext():
                    if all_atomic or backwards:
                        # One transaction for the whole plan (when it can): the schema ends where it was, or
                        # where it should be.
                        with transaction.atomic() if all_atomic else nullcontext():
                            executor.migrate(self.targets, plan=migration_plan, state=project_state)
                    else:
                        # Forward, migration by migration, each atomic one in a transaction of its own: Django
                        # records a migration with deferred SQL (indexes, foreign keys) after its block commits,
                        # so a run stopped in between would leave its tables without their django_migrations row.
                        for step in migration_plan:
                            with transaction.atomic() if step[0].atomic else nullcontext():
                                project_state = executor.migrate(self.targets, plan=[step], state=project_state)
        except Exception as exc:  # noqa: BLE001 - one schema's failure must not stop the fleet
            if connection_lost(exc):
                raise  # not this schema's failure: the run cannot go on (the server rolled this schema back)
            return SchemaOutcome(schema_name, names, backwards, (time.perf_counter() - started) * 1000, _first_line(exc))
        return SchemaOutcome(schema_name, names, backwards, (time.perf_counter() - started) * 1000)

    def _get_executor(self) -> MigrationExecutor:
        if self._executor is None:
            # Built by hand around the graph already loaded: MigrationExecutor() would load it
            # again and read the applied migrations of whatever schema the connection is on.
            self._executor = bare_migration_executor(connection, self.graph.loader)
        return self._executor

    def _state_after(self, applied: frozenset[MigrationKey]) -> ProjectState:
        """The project state after `applied`, built once per distinct applied set and cloned per schema."""
        if applied not in self._states:
            self._states[applied] = project_state_after(self._get_executor(), applied)
        return self._states[applied]

    def _record(self, outcome: SchemaOutcome) -> None:
        if self.run is not None:
            record_outcome(self.run, outcome)


def record_outcome(run: MigrationRun, outcome: SchemaOutcome) -> None:
    """Write what a run did to one schema."""
    MigrationRunSchema.objects.create(
        run=run,
        schema_name=outcome.schema_name,
        migrations=outcome.migrations,
        backwards=outcome.backwards,
        duration_ms=round(outcome.duration_ms),
        outcome=MigrationRunSchema.Outcome.FAILED if outcome.failed else MigrationRunSchema.Outcome.APPLIED,
        error=outcome.error,
    )
    outcome.recorded = True
