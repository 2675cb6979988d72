"""The record of migration runs in public: started, per-schema outcomes (written by the migrator), finished."""

from __future__ import annotations

import os
import socket
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from audit.request_id import command_actor_label, os_user
from audit.services import audit_record
from tenants.db_errors import DATABASE_ERRORS, connection_lost, first_loss
from tenants.engine.migrator import RunResult, SchemaOutcome, record_outcome
from tenants.errors import first_line
from tenants.models import MigrationRun
from tenants.naming import PUBLIC_SCHEMA


def run_start(
    *, command: str, target: str = "", actor_label: str = "", started_at: datetime | None = None
) -> MigrationRun | None:
    """Record a run as started; call it holding the migration lock. None before public has the table.

    The first run of a new database creates the table: call this again after it, with the time it
    started, so that the run that built public is in the history too.
    """
    with schema_context(PUBLIC_SCHEMA):
        # Not introspection.table_names(): it lists every table of every schema (pg_table_is_visible on each
        # of pg_class's rows, half a second at 10,000 tenants) to find one.
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{PUBLIC_SCHEMA}.{MigrationRun._meta.db_table}"])
            if not cursor.fetchone()[0]:
                return None  # the very first migrate of a new database
        # Holding the lock, no other run is alive: a run still marked running was killed.
        MigrationRun.objects.filter(outcome=MigrationRun.Outcome.RUNNING).update(
            outcome=MigrationRun.Outcome.INTERRUPTED, error="The process ended before the run finished."
        )
        run = MigrationRun.objects.create(
            command=command[:500], target=target, os_user=os_user(), actor_label=actor_label,
            host=socket.gethostname(), pid=os.getpid(), started_at=started_at or timezone.now(),
        )
    audit_record(action="migration.started", actor_label=command_actor_label("migrate_schemas"), target=run,
                 details={"command": run.command, "target": target, "host": run.host, "pid": run.pid})
    return run


def run_finish(run: MigrationRun | None, results: list[RunResult], *, error: str = "") -> None:
    """Record how a run ended, with its counts and the schemas not recorded yet."""
    if run is None:
        return
    with schema_context(PUBLIC_SCHEMA):
        _record_finish(run, results, error=error)


def run_fail(run: MigrationRun | None, results: list[RunResult], exc: BaseException) -> None:
    """Record a run that ended with exc; on a lost connection, try a new one, else leave it to the next run."""
    error = str(exc) or exc.__class__.__name__
    if not connection_lost(exc):
        run_finish(run, results, error=error)
        return
    connection.close()  # the next query opens a new session (the lock died with the old one)
    try:
        run_finish(run, results, error=f"Lost the connection to the database: {first_line(first_loss(exc))}")
    except DATABASE_ERRORS as again:
        if not connection_lost(again):
            raise
        # The server is still away: the run stays 'running', and the next run marks it interrupted.


def run_summary(results: list[RunResult], *, run: MigrationRun | None = None) -> dict[str, Any]:
    """What a run did, for scripts (migrate_schemas --json): counts, each schema it changed or failed, durations."""

    def schema(outcome: SchemaOutcome) -> dict[str, Any]:
        entry = {
            "schema": outcome.schema_name, "migrations": outcome.migrations,
            "direction": "backwards" if outcome.backwards else "forwards", "duration_ms": round(outcome.duration_ms, 1),
        }
        return {**entry, "error": outcome.error} if outcome.failed else entry

    failed = [outcome for result in results for outcome in result.failed]
    skipped = [name for result in results for name in result.skipped]
    return {
        "run": run.pk if run is not None else None,
        "outcome": "failed" if failed else "succeeded",
        "schemas": {
            "total": sum(result.total for result in results),
            "migrated": sum(len(result.migrated) for result in results),
            "current": sum(result.current for result in results),
            "failed": len(failed),
            "skipped": len(skipped),
        },
        "duration_s": round(sum(result.duration_s for result in results), 3),
        "stopped_early": bool(skipped),
        "failures": [schema(outcome) for outcome in failed],
        "migrated": [schema(outcome) for result in results for outcome in result.migrated],
        "skipped": skipped,
    }


def _record_finish(run: MigrationRun, results: list[RunResult], *, error: str) -> None:
    for outcome in (outcome for result in results for outcome in result.outcomes if not outcome.recorded):
        record_outcome(run, outcome)
    run.finished_at = timezone.now()
    run.schemas_total = sum(result.total for result in results)
    run.schemas_migrated = sum(len(result.migrated) for result in results)
    run.schemas_failed = sum(len(result.failed) for result in results)
    run.schemas_current = sum(result.current for result in results)
    failed = error or run.schemas_failed
    run.outcome = MigrationRun.Outcome.FAILED if failed else MigrationRun.Outcome.SUCCEEDED
    run.error = error[:2000]
    run.save()
    failures = [
        {"schema": outcome.schema_name, "migrations": outcome.migrations, "error": outcome.error}
        for result in results for outcome in result.failed
    ]
    audit_record(
        action="migration.failed" if failed else "migration.finished",
        actor_label=command_actor_label("migrate_schemas"),
        target=run,
        outcome="failure" if failed else "success",
        details={
            "duration_ms": run.duration_ms, "schemas_total": run.schemas_total,
            "schemas_migrated": run.schemas_migrated, "schemas_current": run.schemas_current,
            "schemas_failed": run.schemas_failed, "error": run.error, "failures": failures,
            "applied": [outcome.schema_name for result in results for outcome in result.migrated],
        },
    )
