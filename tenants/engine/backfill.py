"""Online data migrations: fill or rewrite a large tenant table in small batches, across the fleet, resumably.

Why a command run after the deploy, and not a RunPython in a migration
-----------------------------------------------------------------------
A change to the data of a table with rows is three steps: a migration adds
the column (nullable: catalog only), the release that writes it goes live, then
the old rows are filled; a later migration may then add the constraint that
needs them full. The filling is registered here (`register(Backfill(...))` in an
app's `backfills.py`) and run by `manage.py backfill <name>`, not inside a
migration, because at 3 a.m. that is the one that can be stopped, resumed,
watched and narrowed without touching the deploy:

- **Order.** `migrate_schemas` runs before the new code serves requests; rows
  the old code writes while a migration fills the table are missed. The command
  runs when the code that fills new rows is live, so the rows it must visit are
  the ones that exist when it starts (it stops at the table's highest key then).
- **Locks and gates.** A migration run holds the migration lock for its whole
  length: hours of filling would block every other deploy and every tenant
  creation (which takes that lock shared), and `migration_status --check`, the
  deploy gate, would stay red. A backfill holds only its own advisory lock (two
  runs of the same backfill never overlap) and each batch's row locks, for the
  length of one batch.
- **Transactions.** The migrator runs a schema's plan in one transaction;
  a backfill must commit batch by batch, which in a migration needs
  `atomic = False`, and then a failure in the middle leaves the migration
  unrecorded and the next run starts the table again from its first row. Here
  every batch commits together with its progress row (public.backfill_progress):
  a kill -9 anywhere loses at most the batch in flight, and the next run starts
  after the last committed one; no batch is done twice.
- **Control.** Ctrl-C and run again; `--tenants` for a canary first;
  `--batch-size`, `--pause`, `--lock-timeout` tuned while the service answers;
  `manage.py backfill <name> --status --check` is the gate for the migration
  that needs the rows filled (its per-schema failure is clean anyway: that
  migration is atomic).

Each batch is one short transaction: `SET LOCAL lock_timeout` and
`statement_timeout`, the next keys by primary key (`pk > last AND pk <= next`,
read from the primary key's index), the change, the progress row, COMMIT. A
batch that waits longer than lock_timeout for a lock (a row a request holds)
gives up, which frees whoever queued behind it, and is tried again after a
pause, up to max_retries; a batch that exceeds statement_timeout is tried again
at half the size. Nothing is held between batches but the session's advisory
lock, which holds no row or table. So a migration run may go on beside a
backfill: its ALTER TABLE waits for one batch at most, and the backfill's
next batch, queued behind the ALTER, gives up at its lock_timeout and retries.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar, cast

from django.apps import apps
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from audit.services import audit_record
from tenants.current import tenant_db
from tenants.db_errors import DATABASE_ERRORS, backend_pid, connection_lost, sqlstate
from tenants.engine.graph import MigrationKey
from tenants.engine.schema_state import read_schema_states
from tenants.engine.status import MigrationStatus
from tenants.errors import BackfillBusy, BackfillError, UnknownBackfill, first_line
from tenants.models import BackfillProgress
from tenants.naming import quote_schema
from tenants.schema_switch import restoring_schema

LOCK_TIMEOUT = "55P03"  # lock_not_available: lock_timeout, or NOWAIT
DEADLOCK = "40P01"
QUERY_CANCELED = "57014"  # statement_timeout
RETRYABLE = {LOCK_TIMEOUT, DEADLOCK}
_T = TypeVar("_T")
# The first key of the two-key advisory locks that keep two runs of one backfill apart ("mcb").
BACKFILL_LOCK_CLASS = 0x6D6362


BatchUpdate = Callable[["models.QuerySet[Any]"], int]


@dataclass(frozen=True)
class Backfill:
    """A change to every existing row of one tenant table, applied a batch of primary keys at a time.

    Give `update`, a function that changes the rows of the queryset it gets (the
    batch's keys) and returns how many it changed, e.g.
    `lambda rows: rows.filter(content_length=None).update(content_length=Length("content"))`;
    or `sql`, one statement with `%(after)s` and `%(upto)s` for the batch
    (`... WHERE id > %(after)s AND id <= %(upto)s`), run on the tenant's schema.
    Either must be safe to run on rows the current code has already written
    (filter on what is still missing): a batch runs once, but a row may have
    been written by a request in between.
    """

    name: str
    model: str  # "app_label.ModelName", a tenant app's model with an integer primary key
    requires: MigrationKey  # the migration that must be applied in a schema first (it adds the column)
    update: BatchUpdate | None = None
    sql: str | None = None
    batch_size: int = 1000
    description: str = ""

    def __post_init__(self) -> None:
        if (self.update is None) == (self.sql is None):
            raise BackfillError(f"Backfill {self.name!r}: give exactly one of update= and sql=.")

    @property
    def model_class(self) -> type[models.Model]:
        model = apps.get_model(self.model)
        if not isinstance(model._meta.pk, (models.AutoField, models.BigAutoField, models.IntegerField)):
            raise BackfillError(f"Backfill {self.name!r}: {self.model} needs an integer primary key to batch by.")
        return model

    @property
    def requires_label(self) -> str:
        return f"{self.requires[0]}.{self.requires[1]}"


_registry: dict[str, Backfill] = {}
_discovered = False


def register(backfill: Backfill) -> Backfill:
    """Make a backfill runnable by name (`manage.py backfill <name>`); call it from an app's backfills.py."""
    existing = _registry.get(backfill.name)
    if existing is not None and existing != backfill:
        raise BackfillError(f"Two backfills are named {backfill.name!r}; names must be unique.")
    _registry[backfill.name] = backfill
    return backfill


def unregister(name: str) -> None:
    """Forget a registered backfill (tests)."""
    _registry.pop(name, None)


def registered_backfills() -> dict[str, Backfill]:
    """Every registered backfill by name, after importing each installed app's backfills module."""
    global _discovered
    if not _discovered:
        autodiscover_modules("backfills")
        _discovered = True
    return dict(sorted(_registry.items()))


def get_backfill(name: str) -> Backfill:
    """Return the backfill registered under name; raise UnknownBackfill listing those that are."""
    backfills = registered_backfills()
    if name not in backfills:
        known = f"registered: {', '.join(backfills)}" if backfills else "none is registered"
        raise UnknownBackfill(f"No backfill is named {name!r} ({known}).")
    return backfills[name]


@dataclass
class BatchDone:
    """One committed batch."""

    schema_name: str
    number: int  # the schema's batch count after it
    rows: int
    after: int | None
    upto: int
    high_water: int
    duration_ms: float
    retries: int  # lock timeouts, deadlocks and statement timeouts before it committed


@dataclass
class BatchRetry:
    """A batch that was rolled back and will be tried again."""

    schema_name: str
    attempt: int
    sqlstate: str
    error: str
    waited_ms: float  # how long the failed attempt took


@dataclass
class SchemaOutcome:
    schema_name: str
    state: str  # done, already done, waiting (for the migration), failed
    rows: int = 0
    batches: int = 0
    retries: int = 0
    duration_s: float = 0.0
    error: str = ""
    resumed_after: int | None = None  # the key an earlier, interrupted run had reached

    @property
    def failed(self) -> bool:
        return self.state == "failed"


@dataclass
class BackfillResult:
    backfill: str
    total: int
    outcomes: list[SchemaOutcome] = field(default_factory=list)
    duration_s: float = 0.0
    forgotten: int = 0  # progress rows deleted first (restart)

    def count(self, state: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.state == state)

    @property
    def failed(self) -> list[SchemaOutcome]:
        return [outcome for outcome in self.outcomes if outcome.failed]

    @property
    def rows(self) -> int:
        return sum(outcome.rows for outcome in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "backfill": self.backfill, "schemas": self.total, "duration_s": round(self.duration_s, 3),
            "rows": self.rows, "done": self.count("done"), "already_done": self.count("already done"),
            "waiting": self.count("waiting"), "failed": len(self.failed),
            "outcomes": [asdict(outcome) for outcome in self.outcomes],
        }


class BackfillObserver:
    """What a run tells as it goes; the command prints it (lines, or a bar on a terminal)."""

    def schema_started(self, index: int, total: int, schema_name: str, first_pk: int | None, high_water: int | None,
                       last_pk: int | None) -> None:
        """A schema's batches are about to start (last_pk: where an earlier run stopped)."""

    def batch_done(self, batch: BatchDone) -> None:
        """A batch committed."""

    def batch_retry(self, retry: BatchRetry) -> None:
        """A batch was rolled back and will be tried again."""

    def schema_finished(self, index: int, total: int, outcome: SchemaOutcome) -> None:
        """A schema is done, was already done, waits for its migration, or failed."""


class _SchemaFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)


@dataclass
class BackfillRunner:
    """Run one backfill over a list of tenant schemas, a schema at a time, a batch at a time."""

    backfill: Backfill
    batch_size: int | None = None  # default: the backfill's own
    pause_s: float = 0.0  # between batches, so that the table's other users get the disk and the locks
    lock_timeout_ms: int = 1000
    statement_timeout_ms: int = 30_000
    max_retries: int = 10
    retry_pause_s: float = 1.0  # times the attempt number, after a lock timeout or a deadlock
    restart: bool = False  # forget the recorded progress in these schemas first (taken the run's lock)
    observer: BackfillObserver = field(default_factory=BackfillObserver)
    result: BackfillResult | None = field(default=None, init=False)  # the run so far, if it is interrupted
    in_flight: SchemaOutcome | None = field(default=None, init=False)  # the schema being backfilled, so far

    def run(self, schema_names: Sequence[str]) -> BackfillResult:
        """Backfill each schema in turn; a failing schema is reported and the others go on."""
        if connection.in_atomic_block:
            raise BackfillError(
                "A backfill commits batch by batch and cannot run inside a transaction (or a migration's)."
            )
        model = self.backfill.model_class
        started = time.perf_counter()
        result = self.result = BackfillResult(self.backfill.name, len(schema_names))
        states = read_schema_states(list(schema_names))
        try:
            with self._exclusive(), restoring_schema():
                if self.restart:  # under the lock: a run going on would find its progress rows gone
                    result.forgotten = backfill_forget(self.backfill, schema_names)
                audit_record(action="backfill.started", details={
                    "backfill": self.backfill.name, "schemas": len(schema_names), "restart": self.restart,
                })
                for index, schema_name in enumerate(schema_names, start=1):
                    state = states[schema_name]
                    if not state.has_table or self.backfill.requires not in state.applied:
                        outcome = SchemaOutcome(schema_name, "waiting", error=f"needs {self.backfill.requires_label}")
                    else:
                        outcome = self._run_schema(index, len(schema_names), schema_name, model)
                    result.outcomes.append(outcome)
                    self.observer.schema_finished(index, len(schema_names), outcome)
        finally:  # interrupted too (Ctrl-C): the command reports the run so far
            result.duration_s = time.perf_counter() - started
        failed = result.failed
        audit_record(
            action="backfill.failed" if failed else "backfill.finished",
            outcome="failure" if failed else "success",
            details={
                "backfill": self.backfill.name, "duration_ms": round(result.duration_s * 1000), "rows": result.rows,
                "schemas": result.total, "done": result.count("done"), "already_done": result.count("already done"),
                "waiting": result.count("waiting"),
                "failures": [{"schema": outcome.schema_name, "error": outcome.error} for outcome in failed],
            },
        )
        return result

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        key = zlib.crc32(self.backfill.name.encode()) & 0x7FFFFFFF
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [BACKFILL_LOCK_CLASS, key])
            if not cursor.fetchone()[0]:
                cursor.execute(
                    "SELECT a.pid, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s "
                    "AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    [BACKFILL_LOCK_CLASS, key],
                )
                holder = cursor.fetchone()
                who = f"pid {holder[0]} since {holder[1]:%Y-%m-%d %H:%M:%S %Z}" if holder else "a run that just ended"
                raise BackfillBusy(
                    f"Another run of backfill {self.backfill.name!r} is going on ({who}); "
                    "let it finish, or stop it: a new run resumes where it stopped."
                )
        session = backend_pid(connection)
        try:
            yield
        finally:
            if backend_pid(connection) == session:  # a lost session took its lock with it
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [BACKFILL_LOCK_CLASS, key])

    def _run_schema(self, index: int, total: int, schema_name: str, model: type[models.Model]) -> SchemaOutcome:
        started = time.perf_counter()
        progress, _ = BackfillProgress.objects.get_or_create(backfill=self.backfill.name, schema_name=schema_name)
        if progress.finished_at is not None:
            return SchemaOutcome(schema_name, "already done", duration_s=time.perf_counter() - started)
        outcome = self.in_flight = SchemaOutcome(schema_name, "done", resumed_after=progress.last_pk)
        table = f"{quote_schema(schema_name)}.{connection.ops.quote_name(model._meta.db_table)}"
        pk = connection.ops.quote_name(cast(str, model._meta.pk.column))
        try:
            tenant_db.set_schema(schema_name)  # for the backfill's own statements: the ORM's, or its SQL's

            def key_range(cursor: Any, retries: int) -> tuple[int | None, int | None]:
                # The index's two ends; even this waits for a table lock (a migration's ALTER): bounded too.
                cursor.execute(f"SELECT min({pk}), max({pk}) FROM {table}")
                return cursor.fetchone()

            (first_pk, max_pk), _ = self._short_transaction(schema_name, outcome, key_range)
            if progress.high_water_pk is None:
                # Rows after today's highest key are written by the code that is live now, which fills them.
                progress.high_water_pk = max_pk if max_pk is not None else 0
                BackfillProgress.objects.filter(pk=progress.pk).update(high_water_pk=progress.high_water_pk)
            self.observer.schema_started(index, total, schema_name, first_pk, progress.high_water_pk, progress.last_pk)
            self._batches(schema_name, model, table, pk, progress, outcome)
        except _SchemaFailed as exc:
            outcome.state, outcome.error = "failed", str(exc)
        except DATABASE_ERRORS as exc:
            # What this schema's data or state refused (a constraint, a missing column) fails this schema only. Any
            # other exception is a bug in the backfill's code and stops the run rather than fail every schema alike.
            if connection_lost(exc):
                raise  # not this schema's failure; the batch in flight was rolled back, the progress row with it
            outcome.state, outcome.error = "failed", f"{exc.__class__.__name__}: {first_line(exc)}"
        finally:
            tenant_db.set_schema_to_public()
        if outcome.failed:
            BackfillProgress.objects.filter(pk=progress.pk).update(error=outcome.error[:2000], updated_at=timezone.now())
        outcome.duration_s = time.perf_counter() - started
        self.in_flight = None
        return outcome

    def _short_transaction(
        self, schema_name: str, outcome: SchemaOutcome, work: Callable[[Any, int], _T],
        *, shrink: Callable[[], None] | None = None,
    ) -> tuple[_T, int]:
        """Run work(cursor, retries so far) in a transaction of its own, under SET LOCAL lock and statement timeouts.

        A lock timeout or a deadlock rolls it back, and it is tried again after a pause, up to max_retries;
        a statement timeout calls shrink (which raises when it cannot) and tries again, or counts as a lock
        timeout without one. Return work's value and how many attempts failed before it.
        """
        attempt = 0
        while True:
            attempt_started = time.perf_counter()
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true)",
                        [f"{self.lock_timeout_ms}ms", f"{self.statement_timeout_ms}ms"],
                    )
                    value = work(cursor, attempt)
                return value, attempt
            except DATABASE_ERRORS as exc:
                code = sqlstate(exc)
                if connection_lost(exc) or code not in RETRYABLE | {QUERY_CANCELED}:
                    raise
                attempt += 1
                outcome.retries += 1
                self.observer.batch_retry(BatchRetry(
                    schema_name, attempt, code or "", first_line(exc), (time.perf_counter() - attempt_started) * 1000
                ))
                if code == QUERY_CANCELED and shrink is not None:
                    shrink()
                elif attempt > self.max_retries:
                    raise _SchemaFailed(
                        f"a batch met {attempt} lock timeouts or deadlocks (lock_timeout {self.lock_timeout_ms} ms); "
                        "a long transaction holds its rows or its table: retry later"
                    ) from None
                time.sleep(self.retry_pause_s * attempt)

    def _batches(self, schema_name: str, model: type[models.Model], table: str, pk: str,
                 progress: BackfillProgress, outcome: SchemaOutcome) -> None:
        high_water: int = progress.high_water_pk or 0
        size = [self.batch_size or self.backfill.batch_size]
        after = progress.last_pk

        def shrink() -> None:
            if size[0] == 1:
                raise _SchemaFailed(
                    f"one row takes longer than statement_timeout ({self.statement_timeout_ms} ms) after key {after}"
                )
            size[0] = max(1, size[0] // 2)

        def one_batch(cursor: Any, retries: int) -> tuple[int, int] | None:
            return self._one_batch(cursor, model, table, pk, progress.pk, after, high_water, size[0], retries)

        while True:
            started = time.perf_counter()
            committed, retries = self._short_transaction(schema_name, outcome, one_batch, shrink=shrink)
            if committed is None:  # nothing left below the high-water mark: finished, in the same transaction
                return
            upto, rows = committed
            outcome.rows += rows
            outcome.batches += 1
            progress.batches += 1
            self.observer.batch_done(BatchDone(
                schema_name, progress.batches, rows, after, upto, high_water, (time.perf_counter() - started) * 1000,
                retries,
            ))
            after = upto
            if self.pause_s:
                time.sleep(self.pause_s)

    def _one_batch(self, cursor: Any, model: type[models.Model], table: str, pk: str, progress_id: int,
                   after: int | None, high_water: int, batch_size: int, retries: int) -> tuple[int, int] | None:
        """Run one batch in the caller's transaction; return (its last key, rows changed), or None at the end."""
        # The batch's last key, from the primary key's index alone.
        cursor.execute(
            f"SELECT max(k) FROM (SELECT {pk} AS k FROM {table} WHERE {pk} > %s AND {pk} <= %s "
            f"ORDER BY {pk} LIMIT %s) batch",
            [after if after is not None else -(2**63), high_water, batch_size],
        )
        (upto,) = cursor.fetchone()
        if upto is None:
            cursor.execute(
                "UPDATE public.backfill_progress SET finished_at = now(), updated_at = now(), error = '', "
                "retries = retries + %s WHERE id = %s",
                [retries, progress_id],
            )
            return None
        if self.backfill.sql is not None:
            cursor.execute(self.backfill.sql, {"after": after if after is not None else -(2**63), "upto": upto})
            rows = max(cursor.rowcount, 0)
        else:
            batch = model._base_manager.filter(pk__lte=upto)
            if after is not None:
                batch = batch.filter(pk__gt=after)
            rows = int(self.backfill.update(batch) or 0)  # type: ignore[misc]  # exactly one of update/sql is set
        # The guard on last_pk makes a batch count once even if two runs ever raced past the advisory lock.
        cursor.execute(
            "UPDATE public.backfill_progress SET last_pk = %s, rows = rows + %s, batches = batches + 1, "
            "retries = retries + %s, updated_at = now(), error = '' WHERE id = %s AND last_pk IS NOT DISTINCT FROM %s",
            [upto, rows, retries, progress_id, after],
        )
        if cursor.rowcount != 1:
            raise _SchemaFailed(f"its progress moved under this run (another run after key {after}?)")
        return upto, rows


@dataclass
class BackfillStatus:
    """Where one backfill stands across the fleet."""

    backfill: str
    requires: str
    schemas: int
    done: int
    running: int  # started, not finished (a run is going on, or was stopped)
    not_started: int
    waiting: int  # the migration it needs is not applied there yet
    failed: int  # stopped by an error in its last run
    rows: int

    @property
    def complete(self) -> bool:
        return self.done == self.schemas

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "complete": self.complete}

    def line(self) -> str:
        return (
            f"{self.backfill}: {self.done}/{self.schemas} schemas done, {self.running} started, "
            f"{self.not_started} not started, {self.waiting} waiting for {self.requires}, {self.failed} failed; "
            f"{self.rows:,} rows changed"
        )


def backfill_status(
    backfill: Backfill, schema_names: Sequence[str], *, without_migration: set[str] | None = None
) -> BackfillStatus:
    """Count the schemas where the backfill is done, started, not started or waiting; three queries for them all.

    without_migration, when the caller knows it (migration_status), names the schemas that lack the
    backfill's migration, and saves reading every schema's django_migrations again.
    """
    if without_migration is None:
        states = read_schema_states(list(schema_names))
        without_migration = {
            name for name, state in states.items() if not state.has_table or backfill.requires not in state.applied
        }
    progress = {
        row["schema_name"]: row
        for row in BackfillProgress.objects.filter(backfill=backfill.name, schema_name__in=schema_names).values(
            "schema_name", "finished_at", "rows", "error"
        )
    }
    counts = dict.fromkeys(("done", "running", "not_started", "waiting", "failed"), 0)
    for schema_name in schema_names:
        row = progress.get(schema_name)
        if row is not None and row["finished_at"] is not None:
            counts["done"] += 1
        elif schema_name in without_migration:
            counts["waiting"] += 1
        elif row is None:
            counts["not_started"] += 1
        elif row["error"]:
            counts["failed"] += 1
        else:
            counts["running"] += 1
    rows = sum(row["rows"] for row in progress.values())
    return BackfillStatus(backfill.name, backfill.requires_label, len(schema_names), rows=rows, **counts)


def backfill_statuses(status: MigrationStatus) -> list[BackfillStatus]:
    """Where each registered backfill stands in the tenant schemas of a migration status (migration_status)."""
    backfills = registered_backfills()
    if not backfills:
        return []
    tenants = [schema for schema in status.schemas if schema.kind == "tenant"]
    names = [schema.schema for schema in tenants]
    return [
        backfill_status(backfill, names, without_migration={
            schema.schema for schema in tenants
            if schema.state == "missing" or backfill.requires_label in schema.pending
        })
        for backfill in backfills.values()
    ]


def backfill_forget(backfill: Backfill, schema_names: Sequence[str]) -> int:
    """Delete the progress of a backfill in these schemas, so that the next run starts them again; return how many."""
    deleted, _ = BackfillProgress.objects.filter(backfill=backfill.name, schema_name__in=schema_names).delete()
    return deleted
