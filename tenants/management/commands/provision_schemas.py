"""Keep a pool of migrated, unassigned schemas ready, so that creating a tenant does no DDL."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandParser

from tenants.management.base import ProjectCommand, positive_int
from tenants.models import PooledSchema
from tenants.pool import pool_provision


class Command(ProjectCommand):
    help = (
        "Top the pool of ready tenant schemas up to --count. create_tenant claims one and renames it; "
        "pooled schemas are migrated by migrate_schemas with the tenants."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--count", type=positive_int, required=True, help="How many ready schemas the pool should hold (1 or more)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        wanted = options["count"]

        def report(schema_name: str, duration_ms: float) -> None:
            if options["verbosity"] >= 1:
                self.stdout.write(f"{schema_name}  ready  {duration_ms:.0f} ms")

        added = pool_provision(count=wanted, report=report)
        total = PooledSchema.objects.count()
        self.stdout.write(self.style.SUCCESS(
            f"Added {added} schema(s) to the pool in {time.perf_counter() - started:.2f} s; it holds {total}."
        ))
