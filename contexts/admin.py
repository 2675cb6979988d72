"""A tenant's admin (its own host): its contexts and summaries, nothing else."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from contexts.models import Context, ContextVersion, Summary
from contexts.services import EDITABLE_FIELDS, context_create, context_delete, context_set_archived, context_update
from tenants.admin_sites import tenant_admin_site


class TenantModelAdmin(admin.ModelAdmin):
    """Rights follow the tenant role (checked by the site); no rows in the shared admin log.

    django_admin_log lives in public and is keyed by object id alone, so one
    tenant's entries would show up in another's history for the same id. The
    audit log, which records the tenant, keeps that record instead.
    """

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.admin_site.has_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.admin_site.has_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.admin_site.has_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.admin_site.has_permission(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.admin_site.has_permission(request)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> None:
        return None

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> None:
        return None

    def log_deletions(self, request: HttpRequest, queryset: Any) -> None:
        return None


class ContextVersionInline(admin.TabularInline):
    model = ContextVersion
    extra = 0
    fields = ["version", "title", "tags", "changed_by_id", "created_at"]
    readonly_fields = fields
    can_delete = False
    ordering = ["-version"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.admin_site.has_permission(request)


class ArchivedFilter(admin.SimpleListFilter):
    title = "archived"
    parameter_name = "archived"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Live"), ("yes", "Archived")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Context]) -> QuerySet[Context]:
        if self.value() == "no":
            return queryset.filter(archived_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(archived_at__isnull=False)
        return queryset


@admin.register(Context, site=tenant_admin_site)
class ContextAdmin(TenantModelAdmin):
    list_display = ["key", "title", "version", "tags", "access_count", "expires_at", "archived_at", "updated_at"]
    list_filter = [ArchivedFilter]
    search_fields = ["key", "title"]
    readonly_fields = [
        "version", "access_count", "last_accessed_at", "archived_at",
        "created_by_id", "updated_by_id", "created_at", "updated_at",
    ]
    inlines = [ContextVersionInline]
    actions = ["archive_selected", "unarchive_selected"]

    def get_readonly_fields(self, request: HttpRequest, obj: Context | None = None) -> Any:
        # The key names a context for its clients; it is set once.
        return self.readonly_fields + (["key"] if obj is not None else [])

    def save_model(self, request: HttpRequest, obj: Context, form: forms.ModelForm, change: bool) -> None:
        values = {field: form.cleaned_data[field] for field in EDITABLE_FIELDS if field in form.cleaned_data}
        if change:
            changed = {field: values[field] for field in form.changed_data if field in values}
            saved = context_update(context=obj, changes=changed, actor=request.user) if changed else obj
        else:
            saved = context_create(key=form.cleaned_data["key"], actor=request.user, **values)
        obj.__dict__.update(saved.__dict__)

    def delete_model(self, request: HttpRequest, obj: Context) -> None:
        context_delete(context=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Context]) -> None:
        for context in queryset:
            context_delete(context=context, actor=request.user)

    @admin.action(description="Archive the selected contexts")
    def archive_selected(self, request: HttpRequest, queryset: QuerySet[Context]) -> None:
        for context in queryset:
            context_set_archived(context=context, archived=True, actor=request.user)

    @admin.action(description="Unarchive the selected contexts")
    def unarchive_selected(self, request: HttpRequest, queryset: QuerySet[Context]) -> None:
        for context in queryset:
            context_set_archived(context=context, archived=False, actor=request.user)


@admin.register(Summary, site=tenant_admin_site)
class SummaryAdmin(TenantModelAdmin):
    list_display = ["context", "context_version", "status", "backend", "model", "quality_score", "attempts", "created_at"]
    list_filter = ["status", "backend"]
    search_fields = ["context__key", "text"]
    list_select_related = ["context"]
    readonly_fields = [field.name for field in Summary._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # summaries are made by the summarizer

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
