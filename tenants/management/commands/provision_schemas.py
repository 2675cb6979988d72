"""Keep a pool of migrated, unassigned schemas ready, so that creating a tenant does no DDL."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandParser

from tenants.engine.pool import pool_provision
from tenants.engine.progress import RunDisplay, run_display
from tenants.management.base import ProjectCommand, add_progress_argument, positive_int
from tenants.models import PooledSchema


class Command(ProjectCommand):
    needs_session = True  # runs migrations (tenants.session_database: MIGRATION_DATABASE_URL, no transaction pooler)
    help = (
        "Top the pool of ready tenant schemas up to --count. create_tenant claims one and renames it; "
        "pooled schemas are migrated by migrate_schemas with the tenants."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--count", type=positive_int, required=True, help="How many ready schemas the pool should hold (1 or more)."
        )
        add_progress_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        display = run_display(self.stdout, mode=options["progress"], verbosity=options["verbosity"], verb="Provisioning")
        progress = PoolProgress(display)
        try:
            added = pool_provision(count=options["count"], report=progress.schema_ready, start=progress.start)
        finally:
            display.stop()
        total = PooledSchema.objects.count()
        self.stdout.write(self.style.SUCCESS(
            f"Added {added} schema(s) to the pool in {time.perf_counter() - started:.2f} s; it holds {total}."
        ))


class PoolProgress:
    """Numbers each schema made ready for the display: `[3/20] pool_5f0c9a1b2d3e  ready  9 ms`."""

    def __init__(self, display: RunDisplay) -> None:
        self.display = display
        self.total = 0
        self.done = 0

    def start(self, total: int) -> None:
        self.total = total
        if total:
            self.display.start(total)

    def schema_ready(self, schema_name: str, duration_ms: float) -> None:
        self.done += 1
        index, total = self.done, self.total
        self.display.advance(
            failed=False,
            line=lambda: f"[{index:>{len(str(total))}}/{total}] {schema_name}  ready  {duration_ms:.0f} ms",
        )
