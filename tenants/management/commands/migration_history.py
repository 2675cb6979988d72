"""The latest migration runs: who ran what, where, when, how long, and how it ended."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from tenants.management.base import ProjectCommand, positive_int
from tenants.models import MigrationRun


class Command(ProjectCommand):
    help = "List the latest migration runs (newest first); --run N shows what one run did to each schema."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=positive_int, default=20, help="How many runs (default 20).")
        parser.add_argument("--run", type=positive_int, metavar="N", help="Show what run #N did to each schema.")
        parser.add_argument("--json", action="store_true", help="Print JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["run"] is not None:
            self._show_run(options["run"], as_json=options["json"])
            return
        runs = list(MigrationRun.objects.order_by("-started_at", "-id")[: options["limit"]])
        if options["json"]:
            self.stdout.write(json.dumps([run_summary(run) for run in runs], indent=2, default=str))
            return
        if not runs:
            self.stdout.write("No migration runs yet.")
        for run in runs:
            self._write_run(run)

    def _write_run(self, run: MigrationRun) -> None:
        duration = f"{run.duration_ms} ms" if run.duration_ms is not None else "still running"
        line = (
            f"#{run.pk}  {run.started_at:%Y-%m-%d %H:%M:%S}  {run.outcome:<11}  {duration:>13}  "
            f"{run.schemas_migrated} migrated, {run.schemas_current} current, {run.schemas_failed} failed  "
            f"{run.command}  by {run.os_user}@{run.host}"
        )
        self.stdout.write(line if run.outcome in ("succeeded", "running") else self.style.ERROR(line))
        if run.error:
            self.stdout.write(f"    {run.error.splitlines()[0]}")

    def _show_run(self, run_id: int, *, as_json: bool) -> None:
        run = MigrationRun.objects.filter(pk=run_id).first()
        if run is None:
            newest = MigrationRun.objects.order_by("-id").values_list("id", flat=True).first()
            known = f"the newest is #{newest}" if newest is not None else "there are none yet"
            raise CommandError(f"No migration run #{run_id}; {known} (manage.py migration_history lists them).")
        schemas = list(run.schemas.order_by("id").values(
            "schema_name", "migrations", "backwards", "duration_ms", "outcome", "error"
        ))
        if as_json:
            self.stdout.write(json.dumps({**run_summary(run), "schemas": schemas}, indent=2, default=str))
            return
        if not schemas:  # say so, rather than print nothing
            self._write_run(run)
            self.stdout.write(f"    It changed no schema ({run.schemas_current} already current).")
        for schema in schemas:
            verb = "unapplied" if schema["backwards"] else schema["outcome"]
            self.stdout.write(
                f"{schema['schema_name']}  {', '.join(schema['migrations'])}  {verb}  {schema['duration_ms']} ms"
                + (f"  {schema['error']}" if schema["error"] else "")
            )


def run_summary(run: MigrationRun) -> dict[str, Any]:
    """A run as plain data."""
    return {
        "id": run.pk, "started_at": run.started_at, "finished_at": run.finished_at, "duration_ms": run.duration_ms,
        "command": run.command, "target": run.target, "os_user": run.os_user, "actor": run.actor_label,
        "host": run.host, "pid": run.pid, "outcome": run.outcome, "schemas_total": run.schemas_total,
        "schemas_migrated": run.schemas_migrated, "schemas_current": run.schemas_current,
        "schemas_failed": run.schemas_failed, "error": run.error,
    }
