"""Run a registered online data migration (tenants.engine.backfill) over the tenant schemas, or show where it stands."""

from __future__ import annotations

import argparse
import json
import time
from typing import IO, Any, cast

from django.conf import settings
from django.core.management.base import CommandError, CommandParser, OutputWrapper

from tenants.engine.backfill import (
    BackfillObserver,
    BackfillResult,
    BackfillRunner,
    BatchDone,
    BatchRetry,
    SchemaOutcome,
    backfill_status,
    get_backfill,
    registered_backfills,
)
from tenants.engine.progress import TextStream, wants_bar
from tenants.engine.waves import tenant_schema_names, wave_schema_names
from tenants.management.base import ProjectCommand, add_progress_argument, add_wave_arguments, positive_int


def non_negative_int(value: str) -> int:
    """Read a whole number of 0 or more (an argparse type)."""
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number of 0 or more, not {value!r}")
    return number


class Command(ProjectCommand):
    # Its advisory lock lives on its session (tenants.session_database: MIGRATION_DATABASE_URL, no transaction pooler).
    needs_session = True
    help = (
        "Run a registered backfill (an online data migration: a tenant table changed a batch of primary keys at a "
        "time, each batch its own short transaction) over every tenant schema that has its migration, resuming "
        "where an earlier run stopped. Without a name, list the registered backfills and where each stands. "
        "--status shows one without running it; with --check it exits 1 unless it is done everywhere."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", help="The backfill to run (see the list without a name).")
        add_wave_arguments(parser)
        parser.add_argument("--batch-size", type=positive_int, help="Rows a batch (default: the backfill's own).")
        parser.add_argument(
            "--pause", type=non_negative_int, default=settings.BACKFILL_PAUSE_MS,
            help="Milliseconds to rest between batches; after a lock timeout, this (at least 100) times the attempt "
                 "(default: %(default)s, BACKFILL_PAUSE_MS).",
        )
        parser.add_argument(
            "--lock-timeout", type=positive_int, default=settings.BACKFILL_LOCK_TIMEOUT_MS,
            help="Milliseconds a batch may wait for a lock before it gives up and is tried again "
                 "(default: %(default)s, BACKFILL_LOCK_TIMEOUT_MS).",
        )
        parser.add_argument(
            "--statement-timeout", type=positive_int, default=settings.BACKFILL_STATEMENT_TIMEOUT_MS,
            help="Milliseconds a batch's statement may run before the batch is tried again at half the size "
                 "(default: %(default)s).",
        )
        parser.add_argument(
            "--max-retries", type=positive_int, default=10,
            help="Lock timeouts a batch may meet before its schema fails (default: %(default)s).",
        )
        parser.add_argument("--status", action="store_true", help="Show where the backfill stands; change nothing.")
        parser.add_argument("--check", action="store_true", help="With --status: exit 1 unless it is done everywhere.")
        parser.add_argument(
            "--restart", action="store_true",
            help="Forget the recorded progress in the chosen schemas first, so that they are done again.",
        )
        parser.add_argument(
            "--json", action="store_true",
            help="Print the run's (or the status's) summary as one JSON document on stdout (progress goes to stderr).",
        )
        add_progress_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["check"] and not options["status"]:
            raise CommandError("--check goes with --status (a run already exits 1 when a schema fails).")
        wave = wave_schema_names(slugs=options["tenants"], plan=options["plan"], canary=options["canary"])
        schema_names = wave if wave is not None else tenant_schema_names()
        if not options["name"]:
            self._list(schema_names, as_json=options["json"])
            return
        backfill = get_backfill(options["name"])
        if options["status"]:
            status = backfill_status(backfill, schema_names)
            self.stdout.write(json.dumps(status.as_dict(), indent=2) if options["json"] else status.line())
            if options["check"] and not status.complete:
                raise SystemExit(1)
            return
        verbosity = int(options["verbosity"])
        # With --json, stdout carries the document alone; the progress goes to stderr.
        human = self.stderr if options["json"] else self.stdout
        observer = self._observer(human, mode=options["progress"], verbosity=verbosity)
        runner = BackfillRunner(
            backfill,
            batch_size=options["batch_size"],
            pause_s=options["pause"] / 1000,
            retry_pause_s=max(options["pause"], 100) / 1000,
            lock_timeout_ms=options["lock_timeout"],
            statement_timeout_ms=options["statement_timeout"],
            max_retries=options["max_retries"],
            restart=options["restart"],
            observer=observer,
        )
        try:
            try:
                result = runner.run(schema_names)
            finally:
                if isinstance(observer, BarObserver):
                    observer.close()
        except KeyboardInterrupt:
            raise self._interrupted(runner) from None
        if result.forgotten:
            human.write(f"Forgot the progress of {backfill.name} in {result.forgotten} schema(s) first (--restart).")
        self._summarise(result, as_json=options["json"], verbosity=verbosity)

    def _observer(self, human: OutputWrapper, *, mode: str, verbosity: int) -> BackfillObserver:
        """A bar on a terminal (or when asked for), else lines; verbosity 0 is always lines (failures only)."""
        if wants_bar(human, mode=mode, verbosity=verbosity):
            return BarObserver(human)
        return LineObserver(human, self.style, verbosity=verbosity)

    def _interrupted(self, runner: BackfillRunner) -> CommandError:
        """Say how far an interrupted run got; the batch in flight was rolled back with its progress row."""
        done, in_flight = runner.result, runner.in_flight
        rows = (done.rows if done else 0) + (in_flight.rows if in_flight else 0)
        so_far = f" after {done.count('done') if done else 0} schema(s) done and {rows:,} rows"
        if in_flight is not None:
            so_far += f" ({in_flight.schema_name} stopped after {in_flight.rows:,})"
        return CommandError(
            f"Interrupted{so_far}; every committed batch is kept. Run the same command again to resume.",
            returncode=130,
        )

    def _list(self, schema_names: list[str], *, as_json: bool) -> None:
        statuses = [backfill_status(backfill, schema_names) for backfill in registered_backfills().values()]
        if as_json:
            self.stdout.write(json.dumps([status.as_dict() for status in statuses], indent=2))
            return
        if not statuses:
            self.stdout.write("No backfill is registered (see 'Online data migrations' in the README).")
        for status in statuses:
            self.stdout.write(status.line())

    def _summarise(self, result: BackfillResult, *, as_json: bool, verbosity: int) -> None:
        failed = result.failed
        if as_json:
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
        if verbosity >= 1 or failed:
            rate = result.rows / result.duration_s if result.duration_s else 0.0
            line = (
                f"Backfill {result.backfill}: {result.count('done')} schema(s) done, {result.count('already done')} "
                f"already done, {result.count('waiting')} waiting for their migration, {len(failed)} failed; "
                f"{result.rows:,} rows in {result.duration_s:.2f} s ({rate:,.0f} rows/s)."
            )
            human = self.stderr if as_json else self.stdout
            human.write(self.style.ERROR(line) if failed else self.style.SUCCESS(line))
        for outcome in failed:
            self.stderr.write(f"  {outcome.schema_name}: {outcome.error}")
        if failed:
            raise CommandError(
                f"{len(failed)} schema(s) failed; every committed batch is kept. Fix the cause and run again: "
                "it resumes where each schema stopped."
            )


def _outcome_line(index: int, total: int, outcome: SchemaOutcome) -> str:
    detail = ""
    if outcome.state == "done":
        rate = outcome.rows / outcome.duration_s if outcome.duration_s else 0.0
        resumed = f", resumed after key {outcome.resumed_after}" if outcome.resumed_after is not None else ""
        retries = f", {outcome.retries} retried" if outcome.retries else ""
        detail = (f"  {outcome.rows:,} rows in {outcome.batches} batches{retries}{resumed}  "
                  f"{outcome.duration_s:.2f} s  {rate:,.0f} rows/s")
    elif outcome.error:
        detail = f"  {outcome.error}"
    return f"[{index}/{total}] {outcome.schema_name}  {outcome.state}{detail}"


class LineObserver(BackfillObserver):
    """A line per schema (and per batch and retry at --verbosity 2), for logs and pipes; failures only at 0."""

    def __init__(self, out: OutputWrapper, style: Any, *, verbosity: int) -> None:
        self.out = out
        self.style = style
        self.verbosity = verbosity

    def batch_done(self, batch: BatchDone) -> None:
        if self.verbosity >= 2:
            self.out.write(
                f"  {batch.schema_name}  batch {batch.number}  keys {batch.after}..{batch.upto} of {batch.high_water}  "
                f"{batch.rows} rows  {batch.duration_ms:.0f} ms"
            )

    def batch_retry(self, retry: BatchRetry) -> None:
        if self.verbosity >= 2:
            self.out.write(f"  {retry.schema_name}  retry {retry.attempt} after {retry.waited_ms:.0f} ms: {retry.error}")

    def schema_finished(self, index: int, total: int, outcome: SchemaOutcome) -> None:
        if outcome.failed:
            self.out.write(self.style.ERROR(_outcome_line(index, total, outcome)))
        elif self.verbosity >= 1 and outcome.state != "already done":
            self.out.write(_outcome_line(index, total, outcome))


class BarObserver(BackfillObserver):
    """On a terminal: a bar of schemas (with failures so far) and one of the current schema's keys, with its rate.

    tenants.engine.progress's bar counts schemas only; a backfill of one large tenant takes minutes, so this one also
    follows the keys of the schema in hand. Failures are printed above the bars, as migrate_schemas does.
    """

    def __init__(self, out: OutputWrapper) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
            TimeRemainingColumn(), console=Console(file=cast(IO[str], TextStream(out)), force_terminal=True, highlight=False),
        )
        self.fleet = self.progress.add_task("Backfilling", total=None, note="0 failed")
        self.schema = self.progress.add_task("", total=None, note="", visible=False)
        self.failures = 0
        self.low = 0  # the key before the current schema's first
        self.started = 0.0
        self.rows = 0
        self.progress.start()

    def schema_started(self, index: int, total: int, schema_name: str, first_pk: int | None,
                       high_water: int | None, last_pk: int | None) -> None:
        self.low = (first_pk or 1) - 1
        done = (last_pk if last_pk is not None else self.low) - self.low
        self.progress.update(self.fleet, total=total)
        self.progress.update(self.schema, description=f"  {schema_name} keys", total=max((high_water or 0) - self.low, 1),
                             completed=max(done, 0), visible=True, note="")
        self.started, self.rows = time.perf_counter(), 0

    def batch_done(self, batch: BatchDone) -> None:
        self.rows += batch.rows
        rate = self.rows / max(time.perf_counter() - self.started, 1e-6)
        self.progress.update(self.schema, completed=batch.upto - self.low, note=f"{rate:,.0f} rows/s")

    def batch_retry(self, retry: BatchRetry) -> None:
        self.progress.update(self.schema, note=f"retry {retry.attempt}: {retry.error}")

    def schema_finished(self, index: int, total: int, outcome: SchemaOutcome) -> None:
        if outcome.failed:
            self.failures += 1
            self.progress.console.print(_outcome_line(index, total, outcome), style="red", markup=False)
        self.progress.update(self.fleet, total=total, completed=index, note=f"{self.failures} failed")
        self.progress.update(self.schema, visible=False)

    def close(self) -> None:
        self.progress.stop()

