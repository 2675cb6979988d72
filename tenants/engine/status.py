"""Where each schema stands against the code's migrations: for migration_status, the admin and backfills."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from tenants.engine.graph import migration_graph
from tenants.engine.pool import pool_schema_names
from tenants.engine.schema_state import read_schema_states
from tenants.engine.template import graph_fingerprint
from tenants.models import Tenant, TenantSchemaScript
from tenants.naming import PUBLIC_SCHEMA


@dataclass
class SchemaStatus:
    """Where one schema stands against the code's migrations."""

    schema: str
    tenant: str
    kind: str  # public, tenant or pool
    last_applied: dict[str, str | None]
    pending: list[str]
    unknown: list[str]
    state: str  # current, behind, ahead (has migrations the code lacks), missing (no schema or no table)

    @property
    def is_current(self) -> bool:
        return self.state == "current"


@dataclass
class MigrationStatus:
    schemas: list[SchemaStatus]
    tenant_apps: list[str]
    template: dict[str, str | None] = field(default_factory=dict)

    def totals(self) -> dict[str, int]:
        counts = {"schemas": len(self.schemas), "current": 0, "behind": 0, "ahead": 0, "missing": 0}
        for status in self.schemas:
            counts[status.state] += 1
        counts["pending_migrations"] = sum(len(status.pending) for status in self.schemas)
        return counts

    def mix(self, *, examples: int = 3) -> list[dict]:
        """Tenant and pooled schemas grouped by where they stand: the newest first, with a few of each group."""
        groups: dict[tuple, dict] = {}
        for status in self.schemas:
            if status.kind == "public":
                continue
            key = (STATE_ORDER[status.state], len(status.pending), tuple(status.unknown),
                   tuple(status.last_applied.get(app) or "" for app in self.tenant_apps))
            group = groups.setdefault(key, {
                "last_applied": {app: status.last_applied.get(app) for app in self.tenant_apps},
                "state": status.state, "pending": len(status.pending), "unknown": status.unknown,
                "schemas": 0, "examples": [],
            })
            group["schemas"] += 1
            if len(group["examples"]) < examples:
                group["examples"].append(status.schema)
        return [groups[key] for key in sorted(groups)]

    def as_dict(self) -> dict:
        return {"schemas": [asdict(s) for s in self.schemas], "totals": self.totals(), "mix": self.mix(),
                "template": self.template}


# How the mix is ordered: the schemas furthest along first.
STATE_ORDER = {"ahead": 0, "current": 1, "behind": 2, "missing": 3}


def _state(pending: list[str], unknown: list[str], has_table: bool) -> str:
    if not has_table:
        return "missing"
    if unknown:
        return "ahead"
    return "behind" if pending else "current"


def migration_status(*, schema_names: list[str] | None = None, include_public: bool = True) -> MigrationStatus:
    """Return every schema's migration status in a constant number of queries."""
    graph = migration_graph()  # once per process (a deploy loads it again), not once per call
    tenants = Tenant.objects.exclude(schema_name=PUBLIC_SCHEMA).order_by("schema_name")
    if schema_names is not None:
        tenants = tenants.filter(schema_name__in=schema_names)
    slugs = dict(tenants.values_list("schema_name", "slug"))
    if schema_names is None:
        slugs.update(dict.fromkeys(pool_schema_names(), "(pool)"))
    if include_public:
        slugs = {PUBLIC_SCHEMA: PUBLIC_SCHEMA, **slugs}
    statuses = list(schema_statuses(slugs).values())
    fingerprint = graph_fingerprint(graph)
    script = TenantSchemaScript.objects.filter(fingerprint=fingerprint).values("created_at").first()
    template = {
        "fingerprint": fingerprint[:12],
        "state": "current" if script else "missing",
        "built_at": script["created_at"].isoformat() if script else None,
    }
    return MigrationStatus(statuses, sorted(graph.tenant_apps), template)


def schema_statuses(tenants: dict[str, str]) -> dict[str, SchemaStatus]:
    """Return the migration status of each schema of {schema_name: tenant slug} ("(pool)" for a pooled one).

    Two queries for up to 200 schemas (the admin's page), and no loading of the migrations
    after the first call in a process.
    """
    graph = migration_graph()
    states = read_schema_states(list(tenants))
    # Per distinct state, not per schema: the fleet holds a handful of states, whatever its size.
    computed: dict[tuple[bool, bool, frozenset], tuple[dict[str, str | None], list[str], list[str], str]] = {}
    statuses = {}
    for name, slug in tenants.items():
        state = states[name]
        is_public = name == PUBLIC_SCHEMA
        key = (is_public, state.has_table, state.applied)
        if key not in computed:
            plan = graph.shared_plan if is_public else graph.tenant_plan
            app_labels = frozenset(app for app, _ in plan)
            pending = [f"{app}.{migration}" for app, migration in state.pending(plan)]
            unknown = [f"{app}.{migration}" for app, migration in state.unknown(graph, app_labels)]
            last_applied = {app: state.last_applied(plan, app) for app in sorted(app_labels)}
            computed[key] = (last_applied, pending, unknown, _state(pending, unknown, state.has_table))
        last_applied, pending, unknown, state_name = computed[key]
        statuses[name] = SchemaStatus(
            schema=name,
            tenant=slug,
            kind="public" if is_public else ("pool" if slug == "(pool)" else "tenant"),
            last_applied=last_applied,
            pending=pending,
            unknown=unknown,
            state=state_name,
        )
    return statuses
