"""Show where each tenant's schema lives on a Citus cluster: its node and its size."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from django.core.management.base import CommandParser

from tenants.management.base import ProjectCommand
from tenants.placement import TenantPlacement, tenant_placements

COORDINATOR = "coordinator (not distributed)"


def size_text(size_bytes: int) -> str:
    """1536 -> '1.5 kB', as pg_size_pretty writes it (with one decimal)."""
    size = float(size_bytes)
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover - unreachable


class Command(ProjectCommand):
    help = (
        "Show each tenant's node and size on a Citus cluster (schema-based sharding), then the count and total "
        "size per node. Refuses on a database that is not a Citus coordinator."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the placements as one JSON document.")

    def handle(self, *args: Any, **options: Any) -> None:
        placements = tenant_placements()
        if options["json"]:
            self.stdout.write(json.dumps(
                [{"slug": p.slug, "schema_name": p.schema_name, "node": p.node or None, "distributed": p.distributed,
                  "size_bytes": p.size_bytes, "tables": p.tables} for p in placements], indent=2))
            return
        width = max([len(p.slug) for p in placements] + [len("tenant")])
        node_width = max([len(p.node or COORDINATOR) for p in placements] + [len("node")])
        self.stdout.write(f"{'tenant':<{width}}  {'node':<{node_width}}  size")
        for placement in placements:
            self.stdout.write(
                f"{placement.slug:<{width}}  {placement.node or COORDINATOR:<{node_width}}  "
                f"{size_text(placement.size_bytes)}"
            )
        self.stdout.write(self.style.SUCCESS(summary(placements)))


def summary(placements: list[TenantPlacement]) -> str:
    """'3 tenant(s): 127.0.0.1:9701 2 (1.2 MB), 127.0.0.1:9702 1 (0.4 MB)'"""
    by_node: dict[str, list[int]] = defaultdict(list)
    for placement in placements:
        by_node[placement.node or COORDINATOR].append(placement.size_bytes)
    nodes = ", ".join(f"{node} {len(sizes)} ({size_text(sum(sizes))})" for node, sizes in sorted(by_node.items()))
    return f"{len(placements)} tenant(s)" + (f": {nodes}" if nodes else "")
