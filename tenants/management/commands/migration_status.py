"""Which schema is at which migration, at a glance; a deploy gate with --check."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from tenants.management.base import ProjectCommand
from tenants.selectors import fleet_status


class Command(ProjectCommand):
    help = (
        "Show, for public and every tenant schema, the last applied migration of each tenant app, how many "
        "migrations are pending, and whether the tenant template is current. Costs the same few queries for "
        "any number of tenants. --json for scripts; --check exits 1 if any schema is behind, missing, or has "
        "migrations the code does not know."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the status as one JSON document.")
        parser.add_argument("--check", action="store_true", help="Exit 1 unless every schema is current.")
        parser.add_argument("--schema", dest="schema_name", help="Only this tenant schema (and public).")
        parser.add_argument("--behind", action="store_true", help="List only schemas that are not current.")

    def handle(self, *args: Any, **options: Any) -> None:
        status = fleet_status(schema_names=[options["schema_name"]] if options["schema_name"] else None)
        if options["json"]:
            self.stdout.write(json.dumps(status.as_dict(), indent=2))
        else:
            self._print_table(status, only_behind=options["behind"])
        if options["check"] and any(not schema.is_current for schema in status.schemas):
            raise SystemExit(1)

    def _print_table(self, status: Any, *, only_behind: bool) -> None:
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
        totals = status.totals()
        self.stdout.write(
            f"{totals['schemas']} schemas: {totals['current']} current, {totals['behind']} behind "
            f"({totals['pending_migrations']} migrations pending), {totals['ahead']} ahead, "
            f"{totals['missing']} missing. Tenant template: {status.template['state']} ({status.template['fingerprint']})."
        )
