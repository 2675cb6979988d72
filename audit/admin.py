"""A read-only view of the audit log on the platform admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditLog
from tenants.admin_sites import platform_admin_site


@admin.register(AuditLog, site=platform_admin_site)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "action", "outcome", "tenant_slug", "actor_label", "target_type", "target_id", "request_id"]
    list_filter = [
        "outcome", "action", "actor_type", "tenant_slug", "actor_label", ("occurred_at", admin.DateFieldListFilter),
    ]
    search_fields = ["=request_id", "target_id", "target_type", "actor_label", "tenant_slug"]
    date_hierarchy = "occurred_at"
    ordering = ["-occurred_at", "-id"]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # The tenant page links here with ?tenant_id=…
        return lookup == "tenant_id" or super().lookup_allowed(lookup, value, request)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
