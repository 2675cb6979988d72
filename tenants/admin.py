"""The platform admin (public host): tenants, their domains, users."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from audit.services import audit_record
from tenants.admin_sites import platform_admin_site
from tenants.errors import TenantError
from tenants.models import Domain, Tenant, User, UserIdentity
from tenants.naming import validate_domain, validate_slug
from tenants.selectors import fleet_status
from tenants.services import (
    UPDATABLE_FIELDS,
    default_domain_for,
    tenant_activate,
    tenant_create,
    tenant_suspend,
    tenant_update,
)


class TenantAddForm(forms.ModelForm):
    """The fields a new tenant needs; the schema name follows from the slug."""

    domain = forms.CharField(
        required=False, max_length=253, help_text="The tenant's host; leave empty for <slug>.<BASE_DOMAIN>."
    )

    class Meta:
        model = Tenant
        fields = ["slug", "name", "plan", "billing_email"]

    def clean_slug(self) -> str:
        try:
            return validate_slug(self.cleaned_data["slug"])
        except TenantError as exc:
            raise ValidationError(str(exc)) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        slug = cleaned.get("slug")
        if slug:
            domain = cleaned.get("domain") or default_domain_for(slug)
            try:
                cleaned["domain"] = validate_domain(domain)
            except TenantError as exc:
                self.add_error("domain", str(exc))
                return cleaned
            if Domain.objects.filter(domain=cleaned["domain"]).exists():
                self.add_error("domain", f"The domain {cleaned['domain']!r} is already served by another tenant.")
        return cleaned


class MigrationStateFilter(admin.SimpleListFilter):
    """Tenants whose schema is current, or behind (or otherwise off) the code's migrations."""

    title = "migrations"
    parameter_name = "migrations"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("current", "Current"), ("behind", "Behind or off")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> QuerySet[Tenant]:
        if self.value() not in ("current", "behind"):
            return queryset
        current = [s.schema for s in fleet_status(include_public=False).schemas if s.is_current]
        if self.value() == "current":
            return queryset.filter(schema_name__in=current)
        return queryset.exclude(schema_name__in=current)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0
    fields = ["domain", "is_primary"]


@admin.register(Tenant, site=platform_admin_site)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "status", "plan", "schema_name", "migration_state", "created_at"]
    list_filter = ["status", "plan", "subscription_status", MigrationStateFilter]
    search_fields = ["slug", "name", "billing_email", "domains__domain"]
    ordering = ["slug"]
    actions = ["suspend_selected", "activate_selected"]
    readonly_fields = ["slug", "schema_name", "status", "suspended_at", "created_at", "updated_at", "audit_entries"]
    fieldsets = [
        (None, {"fields": ["slug", "name", "schema_name", "status", "suspended_at", "audit_entries"]}),
        ("Billing", {"fields": ["plan", "subscription_status", "billing_email", "billing_customer_id", "trial_ends_at"]}),
        ("Configuration", {"fields": ["config"]}),
        ("Times", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        return super().get_queryset(request).exclude(schema_name="public")

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        # The form catches what it can; what only the creation itself finds (a race for the slug,
        # a migration run holding the lock) comes back to the form as a message, not a 500.
        try:
            return super().add_view(request, form_url, extra_context)
        except TenantError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        # The page's tenants' migration state, in a constant number of queries.
        page = [tenant.schema_name for tenant in changelist.result_list]
        states = {s.schema: s for s in fleet_status(schema_names=page, include_public=False).schemas} if page else {}
        for tenant in changelist.result_list:
            tenant.migration_status = states.get(tenant.schema_name)
        return changelist

    @admin.display(description="Migrations")
    def migration_state(self, tenant: Tenant) -> str:
        status = getattr(tenant, "migration_status", None)
        if status is None:
            return "-"
        if status.state == "behind":
            return f"behind ({len(status.pending)} pending)"
        return status.state

    def get_form(self, request: HttpRequest, obj: Tenant | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = TenantAddForm
            kwargs["fields"] = ["slug", "name", "domain", "plan", "billing_email"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Tenant | None = None) -> Any:
        if obj is None:
            return [(None, {"fields": ["slug", "name", "domain", "plan", "billing_email"]})]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Tenant | None = None) -> Any:
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request: HttpRequest, obj: Tenant | None) -> Any:
        return [] if obj is None else [DomainInline]

    def save_model(self, request: HttpRequest, obj: Tenant, form: forms.ModelForm, change: bool) -> None:
        if change:
            changes = {field: form.cleaned_data[field] for field in form.changed_data if field in UPDATABLE_FIELDS}
            if changes:
                obj.__dict__.update(tenant_update(tenant=obj, changes=changes, actor=request.user).__dict__)
            return
        tenant, _ = tenant_create(
            slug=form.cleaned_data["slug"],
            name=form.cleaned_data["name"],
            domain=form.cleaned_data["domain"],
            plan=form.cleaned_data["plan"],
            billing_email=form.cleaned_data["billing_email"],
            actor=request.user,  # type: ignore[arg-type]
        )
        # The admin goes on with the instance it built (for its log entry and redirect).
        obj.__dict__.update(tenant.__dict__)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        formset.save()
        for domain in formset.new_objects:
            audit_record(action="domain.added", tenant=form.instance, actor=request.user, target=domain,
                         details={"domain": domain.domain, "is_primary": domain.is_primary})
        for domain in formset.deleted_objects:
            audit_record(action="domain.removed", tenant=form.instance, actor=request.user,
                         details={"domain": domain.domain})
        for domain, fields in formset.changed_objects:
            audit_record(action="domain.changed", tenant=form.instance, actor=request.user, target=domain,
                         details={"domain": domain.domain, "fields": fields})

    @admin.display(description="Audit log")
    def audit_entries(self, tenant: Tenant) -> str:
        url = reverse("platform_admin:audit_auditlog_changelist") + f"?tenant_id={tenant.pk}"
        return format_html('<a href="{}">This tenant\'s audit entries</a>', url)

    def has_delete_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        # Dropping a tenant's schema is not a click in a list: manage.py delete_tenant, deliberate and audited.
        return False

    @admin.action(description="Suspend the selected tenants")
    def suspend_selected(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            tenant_suspend(tenant=tenant, actor=request.user)  # type: ignore[arg-type]
        self.message_user(request, f"Suspended {queryset.count()} tenant(s).", messages.SUCCESS)

    @admin.action(description="Activate the selected tenants")
    def activate_selected(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            tenant_activate(tenant=tenant, actor=request.user)  # type: ignore[arg-type]
        self.message_user(request, f"Activated {queryset.count()} tenant(s).", messages.SUCCESS)


class PlatformUserCreationForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "tenant", "role", "is_staff")


class PlatformUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class UserIdentityInline(admin.TabularInline):
    model = UserIdentity
    extra = 0
    fields = ["provider", "subject", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(User, site=platform_admin_site)
class PlatformUserAdmin(UserAdmin):
    form = PlatformUserChangeForm
    add_form = PlatformUserCreationForm
    list_display = ["email", "tenant", "role", "is_active", "is_staff", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser", "role", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["email", "full_name", "tenant__slug"]
    ordering = ["email"]
    inlines = [UserIdentityInline]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Person", {"fields": ["full_name"]}),
        ("Tenant", {"fields": ["tenant", "role"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "tenant", "role", "is_staff", "password1", "password2"]}),
    ]


platform_admin_site.register(Group, GroupAdmin)
