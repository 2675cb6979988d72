"""The record of migration runs in public: started, per-schema outcomes (written by the migrator), finished."""

from __future__ import annotations

import os
import socket

from django.db import connection
from django.utils import timezone

from audit.request_id import command_actor_label, os_user
from audit.services import audit_record
from tenants.migrator import FleetResult
from tenants.models import MigrationRun


def run_start(*, command: str, target: str = "", actor_label: str = "") -> MigrationRun | None:
    """Record a run as started; call it holding the migration lock. None before public has the table."""
    if MigrationRun._meta.db_table not in connection.introspection.table_names():
        return None  # the very first migrate of a new database
    # Holding the lock, no other run is alive: a run still marked running was killed.
    MigrationRun.objects.filter(outcome=MigrationRun.Outcome.RUNNING).update(
        outcome=MigrationRun.Outcome.INTERRUPTED, error="The process ended before the run finished."
    )
    run = MigrationRun.objects.create(
        command=command[:500], target=target, os_user=os_user(), actor_label=actor_label,
        host=socket.gethostname(), pid=os.getpid(),
    )
    audit_record(action="migration.started", actor_label=command_actor_label("migrate_schemas"), target=run,
                 details={"command": run.command, "target": target, "host": run.host, "pid": run.pid})
    return run


def run_finish(run: MigrationRun | None, results: list[FleetResult], *, error: str = "") -> None:
    """Record how a run ended, with its counts."""
    if run is None:
        return
    connection.set_schema_to_public()
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
