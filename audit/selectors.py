"""Reads of the audit log that more than one caller needs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Model, QuerySet

from audit.models import AuditLog

if TYPE_CHECKING:
    from tenants.models import Tenant


def audit_entries_for(*, tenant: Tenant, target: Model) -> QuerySet[AuditLog]:
    """One tenant's entries about one of its rows, oldest first.

    Row ids repeat across tenants (each schema has its own sequences), so the
    tenant is always part of the question.
    """
    return AuditLog.objects.filter(
        tenant_id=tenant.pk, target_type=target._meta.label_lower, target_id=str(target.pk)
    ).order_by("occurred_at", "id")


def recent_tenants_in_log(*, limit: int = 10, scan: int = 500) -> list[tuple[int, str]]:
    """The tenants (id, slug at the time) of the latest entries, newest first, at most limit of them.

    Reads only the latest `scan` entries (the time index), so it stays cheap however long the log is.
    """
    seen: dict[int, str] = {}
    latest = AuditLog.objects.exclude(tenant_id=None).order_by("-occurred_at", "-id")
    for tenant_id, tenant_slug in latest.values_list("tenant_id", "tenant_slug")[:scan]:
        if tenant_id is not None:  # excluded above; the type checker cannot know
            seen.setdefault(tenant_id, tenant_slug)
        if len(seen) >= limit:
            break
    return list(seen.items())
