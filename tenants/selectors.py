"""Reads about tenants that more than one caller needs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from tenants.fleet import MigrationGraph, read_fleet_state
from tenants.models import Tenant, TenantSchemaScript
from tenants.naming import PUBLIC_SCHEMA
from tenants.pool import pool_schema_names
from tenants.template import graph_fingerprint


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
class FleetStatus:
    schemas: list[SchemaStatus]
    tenant_apps: list[str]
    template: dict[str, str | None] = field(default_factory=dict)

    def totals(self) -> dict[str, int]:
        counts = {"schemas": len(self.schemas), "current": 0, "behind": 0, "ahead": 0, "missing": 0}
        for status in self.schemas:
            counts[status.state] += 1
        counts["pending_migrations"] = sum(len(status.pending) for status in self.schemas)
        return counts

    def as_dict(self) -> dict:
        return {"schemas": [asdict(s) for s in self.schemas], "totals": self.totals(), "template": self.template}


def _state(pending: list[str], unknown: list[str], has_table: bool) -> str:
    if not has_table:
        return "missing"
    if unknown:
        return "ahead"
    return "behind" if pending else "current"


def fleet_status(*, schema_names: list[str] | None = None, include_public: bool = True) -> FleetStatus:
    """Return every schema's migration status in a constant number of queries."""
    graph = MigrationGraph()
    tenants = Tenant.objects.exclude(schema_name=PUBLIC_SCHEMA).order_by("schema_name")
    if schema_names is not None:
        tenants = tenants.filter(schema_name__in=schema_names)
    slugs = dict(tenants.values_list("schema_name", "slug"))
    if schema_names is None:
        slugs.update(dict.fromkeys(pool_schema_names(), "(pool)"))
    names = ([PUBLIC_SCHEMA] if include_public else []) + list(slugs)
    states = read_fleet_state(names)
    statuses = []
    for name in names:
        state = states[name]
        is_public = name == PUBLIC_SCHEMA
        plan = graph.shared_plan if is_public else graph.tenant_plan
        apps = sorted({app for app, _ in plan})
        app_labels = frozenset(app for app, _ in plan)
        pending = [f"{app}.{migration}" for app, migration in state.pending(plan)]
        unknown = [f"{app}.{migration}" for app, migration in state.unknown(graph, app_labels)]
        statuses.append(
            SchemaStatus(
                schema=name,
                tenant=PUBLIC_SCHEMA if is_public else slugs[name],
                kind="public" if is_public else ("pool" if slugs[name] == "(pool)" else "tenant"),
                last_applied={app: state.last_applied(plan, app) for app in apps},
                pending=pending,
                unknown=unknown,
                state=_state(pending, unknown, state.has_table),
            )
        )
    fingerprint = graph_fingerprint(graph)
    script = TenantSchemaScript.objects.filter(fingerprint=fingerprint).values("created_at").first()
    template = {
        "fingerprint": fingerprint[:12],
        "state": "current" if script else "missing",
        "built_at": script["created_at"].isoformat() if script else None,
    }
    return FleetStatus(statuses, sorted(graph.tenant_apps), template)
