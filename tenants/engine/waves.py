"""Which tenant schemas a wave of a migration run (or a backfill) takes: --tenants, --plan, --canary."""

from __future__ import annotations

from django.db.models.functions import MD5

from tenants.errors import TenantNotFound, UnknownPlan
from tenants.models import Tenant, TenantPlan
from tenants.naming import PUBLIC_SCHEMA


def wave_schema_names(
    *, slugs: list[str] | None = None, plan: str | None = None, canary: int | None = None
) -> list[str] | None:
    """Return the tenant schemas of a wave (None when no option chooses one); refuse unknown slugs and plans.

    The options narrow each other: the tenants named, of that plan, then `canary` of those, chosen by the
    MD5 of their schema name: the same ones on every run (a new tenant joins them only if its hash sorts
    among the first), so that a run without --canary afterwards migrates exactly the rest.
    """
    if slugs is None and plan is None and canary is None:
        return None
    if plan is not None and plan not in TenantPlan.values:
        raise UnknownPlan(f"No plan {plan!r}; the plans are {', '.join(TenantPlan.values)}.")
    tenants = Tenant.objects.exclude(schema_name=PUBLIC_SCHEMA)
    if slugs is not None:
        tenants = tenants.filter(slug__in=slugs)
        unknown = sorted(set(slugs) - set(tenants.values_list("slug", flat=True)))
        if unknown:
            raise TenantNotFound(f"No tenant has the slug {', '.join(map(repr, unknown))}.")
    if plan is not None:
        tenants = tenants.filter(plan=plan)
    if canary is not None:
        tenants = tenants.annotate(wave_hash=MD5("schema_name")).order_by("wave_hash", "schema_name")[:canary]
    return sorted(tenants.values_list("schema_name", flat=True))


def tenant_schema_names() -> list[str]:
    """Every tenant schema, in order (not the pool's: their tables are empty until a tenant claims one)."""
    return list(Tenant.objects.exclude(schema_name=PUBLIC_SCHEMA).order_by("schema_name").values_list("schema_name", flat=True))
