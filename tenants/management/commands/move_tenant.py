"""Move a tenant's schema to another node of a Citus cluster (citus_schema_move), audited, with progress."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from tenants.management.base import ProjectCommand
from tenants.management.commands.tenant_placement import size_text
from tenants.placement import MOVE_MODES, MoveProgress, require_citus, tenant_move, tenant_move_check
from tenants.services import tenant_get


class Command(ProjectCommand):
    help = (
        "Move a tenant's schema to another worker of the Citus cluster (citus_schema_move). The default mode copies "
        "online by logical replication (wal_level = logical on the workers); --mode block_writes works without it "
        "but holds the tenant's writes for the whole copy. Never during a migration run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The tenant's slug.")
        parser.add_argument("--to", required=True, metavar="HOST:PORT", help="The worker to move it to (see tenant_placement).")
        parser.add_argument(
            "--mode", default="auto", choices=MOVE_MODES,
            help="citus_schema_move's shard_transfer_mode (default: auto, online; block_writes: writes wait).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        require_citus()  # before the tenant: on a single server, that is the answer whatever the slug
        tenant = tenant_get(slug=options["slug"])
        placement, _, _ = tenant_move_check(tenant=tenant, to=options["to"], mode=options["mode"])
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"Moving tenant {tenant.slug} ({placement.schema_name}, {placement.tables} tables, "
                f"{size_text(placement.size_bytes)}) from {placement.node} to {options['to']} …"
            )

        def report(progress: MoveProgress) -> None:
            if options["verbosity"] >= 1:
                # The copy's indexes may make it a little larger than the source: it is done, not past done.
                copied = min(progress.copied_bytes, progress.total_bytes)
                share = f" ({100 * copied / progress.total_bytes:.0f} %)" if progress.total_bytes else ""
                self.stdout.write(f"  {progress.status}: {size_text(copied)} of {size_text(progress.total_bytes)}{share}")

        move = tenant_move(tenant=tenant, to=options["to"], mode=options["mode"], actor_label=self.actor_label,
                           report=report)
        self.stdout.write(self.style.SUCCESS(
            f"Moved tenant {tenant.slug} from {move.source} to {move.target} in {move.duration_s:.2f} s ({move.mode})."
        ))
