"""Which schema is at which migration, at a glance; a deploy gate with --check."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from tenants.engine.backfill import backfill_statuses
from tenants.engine.status import MigrationStatus, migration_status
from tenants.engine.waves import wave_schema_names
from tenants.management.base import ProjectCommand, add_wave_arguments


class Command(ProjectCommand):
    help = (
        "Show, for public and every tenant schema, the last applied migration of each tenant app, how many "
        "migrations are pending, and whether the tenant template is current; then the mix: how many schemas "
        "stand at each migration. Costs the same few queries for any number of tenants. --json for scripts; "
        "--check exits 1 if any schema is behind, missing, or has migrations the code does not know (with "
        "--tenants, --plan or --canary: any schema of that wave)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the status as one JSON document.")
        parser.add_argument("--check", action="store_true", help="Exit 1 unless every schema is current.")
        parser.add_argument("--schema", dest="schema_name", help="Only this tenant schema (and public).")
        parser.add_argument("--behind", action="store_true", help="List only schemas that are not current.")
        parser.add_argument(
            "--mix", action="store_true", help="Only how many schemas stand at each migration, not a line per schema."
        )
        add_wave_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        wave = wave_schema_names(slugs=options["tenants"], plan=options["plan"], canary=options["canary"])
        if wave is not None and options["schema_name"]:
            raise CommandError("Give either --schema or a wave (--tenants, --plan, --canary), not both.")
        schema_names = [options["schema_name"]] if options["schema_name"] else wave
        status = migration_status(schema_names=schema_names)
        # Registered backfills (tenants.engine.backfill) run after the deploy: shown, never part of --check.
        backfills = backfill_statuses(status)
        if options["json"]:
            document = status.as_dict()
            if backfills:
                document["backfills"] = [backfill.as_dict() for backfill in backfills]
            self.stdout.write(json.dumps(document, indent=2))
        else:
            if not options["mix"]:
                self._print_table(status, only_behind=options["behind"])
            if not options["behind"]:
                self._print_mix(status)
            self._print_totals(status)
            for backfill in backfills:
                if not backfill.complete:
                    self.stdout.write(self.style.WARNING(
                        f"Backfill {backfill.line()}: manage.py backfill {backfill.backfill}."
                    ))
        if options["check"] and any(not schema.is_current for schema in status.schemas):
            raise SystemExit(1)

    def _print_table(self, status: MigrationStatus, *, only_behind: bool) -> None:
        rows = [s for s in status.schemas if not (only_behind and s.is_current)]
        apps = status.tenant_apps
        header = ["schema", "tenant", *apps, "pending", "state"]
        table = [header] + [
            [s.schema, s.tenant, *[s.last_applied.get(app) or "-" for app in apps], str(len(s.pending)), s.state]
            for s in rows
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            self.stdout.write(line if row[-1] in ("current", "state") else self.style.WARNING(line))

    def _print_totals(self, status: MigrationStatus) -> None:
        totals = status.totals()
        self.stdout.write(
            f"{totals['schemas']} schemas: {totals['current']} current, {totals['behind']} behind "
            f"({totals['pending_migrations']} migrations pending), {totals['ahead']} ahead, "
            f"{totals['missing']} missing. Tenant template: {status.template['state']} ({status.template['fingerprint']})."
        )

    def _print_mix(self, status: MigrationStatus) -> None:
        """How many tenant (and pooled) schemas stand at each migration; a few names of each group not current."""
        mix = status.mix()
        if not mix:
            return
        self.stdout.write("By last applied migration:")
        positions = [", ".join(f"{app} {name or '-'}" for app, name in group["last_applied"].items()) for group in mix]
        position_width = max(map(len, positions))
        count_width = max(len(f"{group['schemas']:,}") for group in mix)
        for position, group in zip(positions, mix, strict=True):
            state = group["state"]
            if state == "behind":
                state = f"behind by {group['pending']}"
            elif state == "ahead":
                state = f"ahead ({', '.join(group['unknown'])})"
            line = f"  {position.ljust(position_width)}  {group['schemas']:>{count_width},}  {state}"
            if group["state"] != "current":
                more = group["schemas"] - len(group["examples"])
                line += f": {', '.join(group['examples'])}" + (f" and {more:,} more" if more else "")
            self.stdout.write(line if group["state"] == "current" else self.style.WARNING(line))
