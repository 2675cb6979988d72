"""The fleet's summaries at a glance: pending, running and failed per tenant, and the oldest due."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import CommandParser

from contexts.summarizer.queue import queue_status, queue_totals
from tenants.management.base import ProjectCommand


def age(seconds: float | None) -> str:
    """A waiting time as a person reads it: 42 s, 7 min, 3 h, 2 d."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


class Command(ProjectCommand):
    help = (
        "Show, for every tenant with summaries in the queue, how many are pending (and of those due now), "
        "running and failed, and how long the oldest due one has waited; one query whatever the number of "
        "tenants. --json for scripts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the status as one JSON document.")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = queue_status()
        totals = queue_totals(rows)
        if options["json"]:
            self.stdout.write(json.dumps({"tenants": [asdict(row) for row in rows], "totals": totals}, indent=2))
            return
        header = ["tenant", "pending", "due", "running", "failed", "oldest due"]
        table = [header] + [
            [row.tenant, str(row.pending), str(row.due), str(row.running), str(row.failed), age(row.oldest_due_seconds)]
            for row in rows
        ]
        widths = [max(len(line[i]) for line in table) for i in range(len(header))]
        for line in table:
            cells = [line[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)]
            self.stdout.write("  ".join(cells))
        self.stdout.write(
            f"{totals['pending']} pending ({totals['due']} due), {totals['running']} running, {totals['failed']} failed "
            f"across {totals['tenants']} tenant(s); oldest due {age(totals['oldest_due_seconds'])}."
        )
