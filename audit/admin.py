"""A read-only view of the audit log on the platform admin."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from audit.display import describe_actor, describe_target, format_moment, moment_html, wrappable
from audit.models import AuditLog
from audit.selectors import recent_tenants_in_log
from tenants.admin_sites import platform_admin_site
from tenants.models import Tenant, User


class TenantFilter(admin.SimpleListFilter):
    """By tenant: the one applied (the tenant page links here) and the tenants of the latest entries.

    Not every tenant: with thousands the sidebar would be a wall. Any tenant can
    still be reached from its own page's link, or by searching its slug.
    """

    title = "tenant"
    parameter_name = "tenant_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        choices = dict(recent_tenants_in_log())
        applied = self._applied_id()
        if applied is not None and applied not in choices:
            slug = AuditLog.objects.filter(tenant_id=applied).exclude(tenant_slug="").values_list(
                "tenant_slug", flat=True
            ).first()
            choices = {applied: slug or f"#{applied}", **choices}
        current = dict(Tenant.objects.filter(pk__in=choices).values_list("pk", "slug"))
        return [
            (str(pk), current[pk] if pk in current else f"{slug} (deleted)")
            for pk, slug in choices.items()
        ]

    def _applied_id(self) -> int | None:
        value = self.value()
        if not value:
            return None
        try:
            return int(value)
        except ValueError:
            raise IncorrectLookupParameters(f"{value!r} is not a tenant id.") from None

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditLog]) -> QuerySet[AuditLog]:
        applied = self._applied_id()
        return queryset if applied is None else queryset.filter(tenant_id=applied)


@admin.register(AuditLog, site=platform_admin_site)
class AuditLogAdmin(admin.ModelAdmin):
    # What fits a 1280 px screen beside the filters; the rest is on each entry's page.
    list_display = ["list_time", "action", "outcome", "tenant", "actor"]
    list_filter = [
        TenantFilter, "outcome", "action", "actor_type", "actor_label", ("occurred_at", admin.DateFieldListFilter),
    ]
    search_fields = ["=request_id", "target_id", "target_type", "actor_label", "tenant_slug"]
    date_hierarchy = "occurred_at"
    ordering = ["-occurred_at", "-id"]
    fieldsets = [
        (None, {"fields": ["when", "action", "outcome", "tenant", "actor", "target"]}),
        ("Request", {"fields": ["request_id", "ip_address", "user_agent"]}),
        ("Details", {"fields": ["details_text"]}),
        ("As recorded", {
            "classes": ["collapse"],
            "fields": ["tenant_id", "tenant_slug", "actor_type", "actor_id", "actor_label", "target_type", "target_id"],
        }),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditLog]:
        # Entries outlive their tenant and actor; link only to those still there (two subqueries, no N+1).
        return super().get_queryset(request).annotate(
            tenant_exists=Exists(Tenant.objects.filter(pk=OuterRef("tenant_id"))),
            actor_exists=Exists(User.objects.filter(pk=OuterRef("actor_id"))),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [field.name for field in self.model._meta.fields] + [
            "when", "tenant", "actor", "target", "details_text",
        ]

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        entry = kwargs.get("obj")
        if entry is not None:
            context["subtitle"] = f"{entry.action} ({entry.get_outcome_display().lower()}) at {format_moment(entry.occurred_at)}"
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.display(description="time", ordering="occurred_at")
    def when(self, entry: AuditLog) -> str:
        return format_moment(entry.occurred_at)

    @admin.display(description="time", ordering="occurred_at")
    def list_time(self, entry: AuditLog) -> str:
        return moment_html(entry.occurred_at)

    @admin.display(description="tenant", ordering="tenant_slug")
    def tenant(self, entry: AuditLog) -> str:
        if entry.tenant_id is None:
            return "—"
        label = entry.tenant_slug or f"#{entry.tenant_id}"
        exists = getattr(entry, "tenant_exists", None)
        if exists is None:  # an entry not read through get_queryset
            exists = Tenant.objects.filter(pk=entry.tenant_id).exists()
        if not exists:
            return wrappable(f"{label} (deleted)")
        return wrappable(label, reverse("platform_admin:tenants_tenant_change", args=[entry.tenant_id]))

    @admin.display(description="actor", ordering="actor_label")
    def actor(self, entry: AuditLog) -> str:
        label = describe_actor(entry)
        if entry.actor_type != AuditLog.ActorType.USER or entry.actor_id is None:
            return wrappable(label)
        exists = getattr(entry, "actor_exists", None)
        if exists is None:
            exists = User.objects.filter(pk=entry.actor_id).exists()
        if not exists:
            return wrappable(f"{label} (deleted)")
        return wrappable(label, reverse("platform_admin:tenants_user_change", args=[entry.actor_id]))

    @admin.display(description="target")
    def target(self, entry: AuditLog) -> str:
        return wrappable(describe_target(entry) or "—")

    @admin.display(description="details")
    def details_text(self, entry: AuditLog) -> str:
        return format_html("<pre>{}</pre>", json.dumps(entry.details, indent=2, sort_keys=True, ensure_ascii=False))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
