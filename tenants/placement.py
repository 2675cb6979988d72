"""Where tenants live on a Citus cluster, and moving one: the services behind tenant_placement and move_tenant.

With schema-based sharding each tenant schema is a distributed schema: its
tables are single-shard tables kept together (one colocation group) on one
worker. A tenant's node is that of its shards, its size their sum.
citus_schema_move() moves the whole group to another node; with wal_level =
logical on the nodes it copies the shards by logical replication and blocks
writes only for the final switch (online), otherwise it can only move with
writes blocked for the whole copy (mode block_writes), which it must be asked
for by name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg2
from django.conf import settings
from django.db import connection

from audit.services import audit_record
from tenants.citus import citus_coordinator
from tenants.engine.lock import migration_lock
from tenants.errors import TenantError
from tenants.models import Tenant, User
from tenants.naming import PUBLIC_SCHEMA

MOVE_MODES = ("auto", "force_logical", "block_writes")
PROGRESS_EVERY = 1.0  # seconds between two progress reports of a move


class NotCitus(TenantError):
    """The database is not a Citus coordinator: tenants have no placement."""


class PlacementError(TenantError):
    """A move that cannot be made (unknown node, already there, online move impossible)."""


@dataclass(frozen=True)
class TenantPlacement:
    """One tenant's schema: the node that holds it and its size."""

    slug: str
    schema_name: str
    node: str  # "host:port", or "" when the schema is not distributed (it stays on the coordinator)
    size_bytes: int
    tables: int

    @property
    def distributed(self) -> bool:
        return bool(self.node)


@dataclass(frozen=True)
class MoveProgress:
    """What get_rebalance_progress() says about a move under way."""

    status: str
    copied_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class TenantMove:
    schema_name: str
    source: str
    target: str
    size_bytes: int
    mode: str
    duration_s: float


def require_citus() -> None:
    """Raise NotCitus unless the default database is a Citus coordinator."""
    if not citus_coordinator():
        raise NotCitus(
            "This database is not a Citus coordinator (no citus extension): tenants are not placed on nodes. "
            "Point DATABASE_URL at the coordinator (README, Production)."
        )


PLACEMENTS_SQL = """
SELECT t.slug, t.schema_name,
       coalesce(min(s.nodename || ':' || s.nodeport), ''),
       coalesce(sum(s.shard_size), 0)::bigint,
       count(s.shardid)
FROM tenants AS t
LEFT JOIN pg_namespace AS n ON n.nspname = t.schema_name
LEFT JOIN pg_dist_schema AS d ON d.schemaid = n.oid
LEFT JOIN citus_shards AS s ON s.colocation_id = d.colocationid
WHERE t.schema_name <> %s AND (%s::text IS NULL OR t.slug = %s)
GROUP BY t.slug, t.schema_name
ORDER BY t.slug
"""

LOCAL_SIZES_SQL = """
SELECT n.nspname, coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint, count(c.oid)
FROM pg_namespace AS n LEFT JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p')
WHERE n.nspname = ANY(%s) GROUP BY n.nspname
"""


def tenant_placements(*, slug: str | None = None) -> list[TenantPlacement]:
    """Every tenant (or the one with this slug) with its node and size, from Citus's metadata."""
    require_citus()
    with connection.cursor() as cursor:
        cursor.execute(PLACEMENTS_SQL, [PUBLIC_SCHEMA, slug, slug])
        rows = cursor.fetchall()
        local = [schema_name for _, schema_name, node, _, _ in rows if not node]
        sizes: dict[str, tuple[int, int]] = {}
        if local:  # schemas made before sharding was on: local tables of the coordinator
            cursor.execute(LOCAL_SIZES_SQL, [local])
            sizes = {name: (size, tables) for name, size, tables in cursor.fetchall()}
    placements = []
    for tenant_slug, schema_name, node, size, tables in rows:
        if not node:
            size, tables = sizes.get(schema_name, (0, 0))
        placements.append(TenantPlacement(tenant_slug, schema_name, node, int(size), int(tables)))
    return placements


def worker_nodes() -> list[str]:
    """The active primary nodes that may hold tenant schemas, as host:port."""
    require_citus()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nodename || ':' || nodeport FROM pg_dist_node "
            "WHERE isactive AND noderole = 'primary' AND shouldhaveshards ORDER BY nodename, nodeport"
        )
        return [row[0] for row in cursor.fetchall()]


def parse_node(node: str) -> tuple[str, int]:
    """Read HOST:PORT; raise PlacementError if it is not that."""
    host, _, port = node.strip().rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise PlacementError(f"{node!r} is not a node: give it as HOST:PORT, as tenant_placement shows it.")
    return host, int(port)


def tenant_move(
    *,
    tenant: Tenant,
    to: str,
    mode: str = "auto",
    actor: User | None = None,
    actor_label: str = "",
    report: Callable[[MoveProgress], None] | None = None,
) -> TenantMove:
    """Move a tenant's schema to another worker with citus_schema_move(), audited; report progress as it goes.

    Never during a migration run (it takes the migration lock shared, as
    creation does). The move is its own transaction on the coordinator: Citus
    commits it or leaves the schema where it was.
    """
    placement, host, port = tenant_move_check(tenant=tenant, to=to, mode=mode)
    target = f"{host}:{port}"
    details = {"schema_name": placement.schema_name, "from": placement.node, "to": target, "mode": mode,
               "size_bytes": placement.size_bytes}
    started = time.perf_counter()
    try:
        with migration_lock(wait_seconds=settings.MIGRATION_LOCK_WAIT, shared=True):
            with _progress_reports(report):
                with connection.cursor() as cursor:
                    cursor.execute("SELECT citus_schema_move(%s::regnamespace, %s, %s, %s::citus.shard_transfer_mode)",
                                   [placement.schema_name, host, port, mode])
    except Exception as exc:
        audit_record(action="tenant.moved", tenant=tenant, actor=actor, actor_label=actor_label, target=tenant,
                     outcome="failure", independent=True, details={**details, "error": str(exc).strip()})
        raise
    duration = time.perf_counter() - started
    audit_record(action="tenant.moved", tenant=tenant, actor=actor, actor_label=actor_label, target=tenant,
                 details={**details, "duration_ms": round(duration * 1000)})
    return TenantMove(placement.schema_name, placement.node, target, placement.size_bytes, mode, duration)


def tenant_move_check(*, tenant: Tenant, to: str, mode: str = "auto") -> tuple[TenantPlacement, str, int]:
    """Refuse a move that cannot be made (PlacementError, NotCitus); return where the tenant is and the target."""
    require_citus()
    if mode not in MOVE_MODES:
        raise PlacementError(f"Unknown move mode {mode!r}; choose one of {', '.join(MOVE_MODES)}.")
    host, port = parse_node(to)
    target = f"{host}:{port}"
    workers = worker_nodes()
    if target not in workers:
        raise PlacementError(f"{target} is not an active worker of this cluster; workers: {', '.join(workers)}.")
    placements = tenant_placements(slug=tenant.slug)
    if not placements or not placements[0].distributed:
        raise PlacementError(
            f"The schema of tenant {tenant.slug!r} is not a distributed schema (made before schema-based sharding was "
            f"on?): distribute it first, SELECT citus_schema_distribute('{tenant.schema_name}')."
        )
    if placements[0].node == target:
        raise PlacementError(f"Tenant {tenant.slug!r} is already on {target}.")
    if mode != "block_writes":  # auto and force_logical copy by logical replication
        _require_logical_replication()
    return placements[0], host, port


def _require_logical_replication() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nodename || ':' || nodeport || ' (' || result || ')' FROM run_command_on_workers('SHOW wal_level') "
            "WHERE NOT success OR result <> 'logical' ORDER BY 1"
        )
        nodes = [row[0] for row in cursor.fetchall()]
    if nodes:
        raise PlacementError(
            f"An online move copies by logical replication, which needs wal_level = logical on every worker; "
            f"not on {', '.join(nodes)}. Set it and restart those nodes, or move with --mode block_writes "
            "(writes to the tenant wait for the whole copy)."
        )


class _ProgressPoller(threading.Thread):
    """Read get_rebalance_progress() on a connection of its own while the move runs on the default one."""

    def __init__(self, report: Callable[[MoveProgress], None]) -> None:
        super().__init__(daemon=True, name="move progress")
        self.report = report
        self.done = threading.Event()

    def run(self) -> None:
        params = connection.get_connection_params()
        params["application_name"] = "mcp move progress"
        try:
            conn = psycopg2.connect(**params)
        except psycopg2.Error:
            return  # progress is a courtesy; the move goes on without it
        conn.autocommit = True
        last: MoveProgress | None = None
        try:
            with conn.cursor() as cursor:
                while not self.done.wait(PROGRESS_EVERY):
                    cursor.execute(
                        "SELECT coalesce(string_agg(DISTINCT status, ', '), ''), coalesce(sum(target_shard_size), 0), "
                        "coalesce(sum(source_shard_size), 0) FROM get_rebalance_progress()"
                    )
                    status, copied, total = cursor.fetchone()
                    progress = MoveProgress(status, int(copied), int(total))
                    if status and progress != last:
                        self.report(progress)
                        last = progress
        except psycopg2.Error:
            return
        finally:
            conn.close()


@contextmanager
def _progress_reports(report: Callable[[MoveProgress], None] | None) -> Iterator[None]:
    """Poll the move's progress in a thread for the block, if anyone listens."""
    if report is None:
        yield
        return
    poller = _ProgressPoller(report)
    poller.start()
    try:
        yield
    finally:
        poller.done.set()
        poller.join()
