"""The platform admin (public host): tenants, their domains, users."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html

from contexts.summarizer.queue import queue_entry_state, queue_status, queue_totals
from tenants.admin_sites import platform_admin_site, tenant_admin_site
from tenants.api_keys import api_key_create, api_key_revoke, api_key_state
from tenants.engine.status import migration_status, schema_statuses
from tenants.errors import TenantError
from tenants.links import admin_url, site_url
from tenants.models import ApiKey, Domain, SummaryQueueEntry, Tenant, User, UserIdentity
from tenants.naming import MAX_SLUG_LENGTH, validate_domain, validate_slug
from tenants.services import (
    UPDATABLE_FIELDS,
    default_domain_for,
    domain_add,
    domain_change,
    domain_remove,
    domain_taken,
    tenant_activate,
    tenant_create,
    tenant_creation_refused,
    tenant_suspend,
    tenant_update,
)


def acting_user(request: HttpRequest) -> User:
    """The signed-in user behind an admin request: the admin sites let no one else in."""
    return cast(User, request.user)



class TenantAddForm(forms.ModelForm):
    """The fields a new tenant needs; the schema name follows from the slug.

    The form says what is wrong field by field; tenant_create applies the same
    rules again under the migration lock and has the last word.
    """

    # Declared here rather than taken from the model: the model's max_length would become the
    # input's maxlength, and the browser would cut a long slug instead of refusing it.
    slug = forms.CharField(strip=False)
    domain = forms.CharField(required=False, strip=False)
    owner_email = forms.EmailField(
        required=False, label="Owner email",
        help_text="Creates the tenant's owner account; its temporary password is shown once, on the next page.",
    )

    class Meta:
        model = Tenant
        fields = ["slug", "name", "plan", "billing_email"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        base = settings.BASE_DOMAIN
        # The admin shows help text as HTML: escaped, so that <slug> reads as it is written.
        self.fields["slug"].help_text = escape(
            f"Lowercase letters, digits and hyphens, starting with a letter; at most {MAX_SLUG_LENGTH} characters. "
            f"Names the schema (tenant_<slug>) and the default host, and never changes."
        )
        self.fields["domain"].help_text = escape(f"The tenant's host; leave empty for <slug>.{base}.")

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        try:
            validate_slug(slug)
        except TenantError as exc:
            raise ValidationError(str(exc)) from None
        if Tenant.objects.filter(slug=slug).exists():
            raise ValidationError(f"A tenant with the slug {slug!r} already exists.")
        return slug

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}  # Django's returns cleaned_data
        typed = cleaned.get("domain", "")
        if not typed and "slug" not in cleaned:
            return cleaned  # the default domain follows the slug, which is already refused
        try:
            cleaned["domain"] = validate_domain(typed or default_domain_for(cleaned["slug"]))
        except TenantError as exc:
            self.add_error("domain", str(exc))
            return cleaned
        if Domain.objects.filter(domain=cleaned["domain"]).exists():
            self.add_error("domain", str(domain_taken(cleaned["domain"])))
        return cleaned


class SuspendForm(forms.Form):
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why: kept in the audit log with the suspension.",
    )


class MigrationStateFilter(admin.SimpleListFilter):
    """Tenants whose schema is current, or behind (or otherwise off) the code's migrations."""

    title = "migrations"
    parameter_name = "migrations"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("current", "Current"), ("behind", "Behind or off")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> QuerySet[Tenant]:
        if self.value() not in ("current", "behind"):
            return queryset
        current = [s.schema for s in migration_status(include_public=False).schemas if s.is_current]
        if self.value() == "current":
            return queryset.filter(schema_name__in=current)
        return queryset.exclude(schema_name__in=current)


class DomainInlineForm(forms.ModelForm):
    class Meta:
        model = Domain
        fields = ["domain", "is_primary"]

    def clean_domain(self) -> str:
        try:
            return validate_domain(self.cleaned_data["domain"])
        except TenantError as exc:
            raise ValidationError(str(exc)) from None


class DomainFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        kept = [form for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")]
        if kept and sum(1 for form in kept if form.cleaned_data.get("is_primary")) != 1:
            raise ValidationError("Exactly one domain is primary: the one the tenant's URLs are built from.")
        if self.forms and not kept:
            raise ValidationError("A tenant keeps at least one domain; add another before removing this one.")


class DomainInline(admin.TabularInline):
    model = Domain
    form = DomainInlineForm
    formset = DomainFormSet
    extra = 0
    fields = ["domain", "is_primary"]


@admin.register(Tenant, site=platform_admin_site)
class TenantAdmin(admin.ModelAdmin):
    # What fits at 1280 px; the schema name, billing and times are on the tenant's page.
    list_display = ["slug", "name", "status", "plan", "migration_state", "created_on"]
    list_filter = ["status", "plan", "subscription_status", MigrationStateFilter]
    search_fields = ["slug", "name", "billing_email", "domains__domain"]
    ordering = ["slug"]
    show_full_result_count = False  # one COUNT(*) a page, not two ("(N total)" beside a filtered count)
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

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: Any = None) -> Any:
        # The forms catch what they can; what only the service finds (a race for the slug, a migration
        # run holding the lock, a domain taken meanwhile) comes back as a message, not a 500.
        try:
            response = super().changeform_view(request, object_id, form_url, extra_context)
        except TenantError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        if object_id is None and request.method == "POST":
            self._audit_refused_creation(request, response)
        return response

    def _audit_refused_creation(self, request: HttpRequest, response: Any) -> None:
        """Record a creation the add form refused, as tenant_create records the ones it refuses."""
        form = getattr(response, "context_data", {}).get("adminform")
        if form is None or not form.form.errors:
            return
        data = form.form.data
        reason = " ".join(str(error) for errors in form.form.errors.values() for error in errors)
        tenant_creation_refused(
            slug=data.get("slug", ""), domain=data.get("domain") or None, reason=reason, actor=acting_user(request),
        )

    def response_add(self, request: HttpRequest, obj: Tenant, post_url_continue: str | None = None) -> Any:
        # The owner's temporary password is shown on this page and stored nowhere (not in a message
        # cookie); the admin's never_cache keeps it out of caches too.
        domain = obj.get_primary_domain().domain
        return TemplateResponse(request, "admin/tenants/tenant/created.html", {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "tenant": obj,
            "title": f"Tenant {obj.slug} created",
            "tenant_url": reverse("platform_admin:tenants_tenant_change", args=[obj.pk]),
            "admin_url": admin_url(domain),
            "owner_email": getattr(obj, "owner_email", None),
            "owner_password": getattr(obj, "owner_password", None),
        })

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        # The page's tenants' migration state, in a constant number of queries.
        page = {tenant.schema_name: tenant.slug for tenant in changelist.result_list}
        states = schema_statuses(page) if page else {}
        for tenant in changelist.result_list:
            tenant.migration_status = states.get(tenant.schema_name)
        return changelist

    @admin.display(description="Created", ordering="created_at")
    def created_on(self, tenant: Tenant) -> str:
        return f"{timezone.localtime(tenant.created_at):%Y-%m-%d}"

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
            kwargs["fields"] = ["slug", "name", "domain", "owner_email", "plan", "billing_email"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Tenant | None = None) -> Any:
        if obj is None:
            return [(None, {"fields": ["slug", "name", "domain", "owner_email", "plan", "billing_email"]})]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Tenant | None = None) -> Any:
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request: HttpRequest, obj: Tenant | None) -> Any:
        return [] if obj is None else [DomainInline]

    def save_model(self, request: HttpRequest, obj: Tenant, form: forms.ModelForm, change: bool) -> None:
        if change:
            changes = {field: form.cleaned_data[field] for field in form.changed_data if field in UPDATABLE_FIELDS}
            if changes:
                obj.__dict__.update(tenant_update(tenant=obj, changes=changes, actor=acting_user(request)).__dict__)
            return
        tenant, password = tenant_create(
            slug=form.cleaned_data["slug"],
            name=form.cleaned_data["name"],
            domain=form.cleaned_data["domain"],
            plan=form.cleaned_data["plan"],
            billing_email=form.cleaned_data["billing_email"],
            admin_email=form.cleaned_data["owner_email"] or None,
            actor=acting_user(request),
        )
        # The admin goes on with the instance it built (for its redirect); response_add shows the password.
        obj.__dict__.update(tenant.__dict__)
        owner = User.objects.filter(tenant=tenant, role=User.Role.OWNER).first() if password else None
        obj.owner_email, obj.owner_password = (owner.email if owner else None), password

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not Domain:
            return super().save_formset(request, form, formset, change)
        # Through the domain services (validation, uniqueness, audit), the new primary first, so
        # that the one-primary rule holds at every step.
        formset.save(commit=False)
        actor, tenant = acting_user(request), form.instance
        new_primary = next((d for d in formset.new_objects if d.is_primary), None)
        made_primary = next((d for d, fields in formset.changed_objects if d.is_primary and "is_primary" in fields), None)
        if made_primary is not None:
            domain_change(domain=made_primary, new_domain=made_primary.domain, is_primary=True, actor=actor)
        if new_primary is not None:
            domain_add(tenant=tenant, domain=new_primary.domain, is_primary=True, actor=actor)
        for domain in formset.deleted_objects:
            domain_remove(domain=domain, actor=actor)
        for domain, fields in formset.changed_objects:
            if domain is not made_primary:
                domain_change(domain=domain, new_domain=domain.domain if "domain" in fields else None, actor=actor)
        for domain in formset.new_objects:
            if domain is not new_primary:
                domain_add(tenant=tenant, domain=domain.domain, actor=actor)

    @admin.display(description="Audit log")
    def audit_entries(self, tenant: Tenant) -> str:
        url = reverse("platform_admin:audit_auditlog_changelist") + f"?tenant_id={tenant.pk}"
        return format_html('<a href="{}">This tenant\'s audit entries</a>', url)

    def has_delete_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        # Dropping a tenant's schema is not a click in a list: manage.py delete_tenant, deliberate and audited.
        return False

    @admin.action(description="Suspend the selected tenants")
    def suspend_selected(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> Any:
        # A confirmation page first, which asks why (the audit entry keeps the reason).
        form = SuspendForm(request.POST if "confirm" in request.POST else None)
        if not form.is_valid():
            return TemplateResponse(request, "admin/tenants/tenant/suspend_confirmation.html", {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Suspend tenants",
                "tenants": queryset,
                "form": form,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            })
        suspended = [tenant.slug for tenant in queryset if not tenant.is_suspended]
        for tenant in queryset:
            tenant_suspend(tenant=tenant, actor=acting_user(request), reason=form.cleaned_data["reason"])
        if suspended:
            self.message_user(request, f"Suspended {len(suspended)} tenant(s): {', '.join(suspended)}.", messages.SUCCESS)
        else:
            self.message_user(request, "The selected tenants were already suspended.", messages.INFO)
        return None

    @admin.action(description="Activate the selected tenants")
    def activate_selected(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        activated = [tenant.slug for tenant in queryset if tenant.is_suspended]
        for tenant in queryset:
            tenant_activate(tenant=tenant, actor=acting_user(request))
        if activated:
            self.message_user(request, f"Activated {len(activated)} tenant(s): {', '.join(activated)}.", messages.SUCCESS)
        else:
            self.message_user(request, "The selected tenants were already active.", messages.INFO)


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
    # What fits at 1280 px beside the filters; names, dates and permissions are on the user's page.
    list_display = ["email", "tenant", "role", "is_active", "is_staff"]
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


class ApiKeyAddForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple, initial=ApiKey.Scope.values,
        help_text="What the key may do.",
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "expires_at"]


class ApiKeyAdminBase(admin.ModelAdmin):
    """API keys: created through the service (the key is shown once), revoked, never edited or deleted."""

    list_display = ["name", "key_id", "scope_list", "state", "expires_at", "last_used_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "key_id"]
    actions = ["revoke_selected"]
    readonly_fields = ["name", "key_id", "scopes", "created_at", "created_by_label", "expires_at", "last_used_at",
                       "revoked_at"]
    add_fields = ["name", "scopes", "expires_at"]

    def get_form(self, request: HttpRequest, obj: ApiKey | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
            kwargs["fields"] = self.add_fields
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        return self.add_fields if obj is None else self.readonly_fields

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        return [] if obj is None else self.readonly_fields

    def key_tenant(self, request: HttpRequest, form: forms.ModelForm) -> Tenant:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool) -> None:
        api_key, raw_key = api_key_create(
            tenant=self.key_tenant(request, form), name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data["expires_at"], actor=acting_user(request),
        )
        obj.__dict__.update(api_key.__dict__)
        obj.raw_key = raw_key  # type: ignore[attr-defined]  # for the page that follows only; never stored

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None) -> Any:
        # The key is on this page only: stored nowhere else, and the admin's never_cache keeps it out of caches.
        return TemplateResponse(request, "admin/tenants/apikey/created.html", {
            **self.admin_site.each_context(request),
            "opts": self.opts, "title": f"API key {obj.name} created", "api_key": obj, "raw_key": obj.raw_key,  # type: ignore[attr-defined]
            "api_url": site_url(obj.tenant.get_primary_domain().domain, "/api/v1/"),
            "changelist_url": reverse(f"{self.admin_site.name}:tenants_apikey_changelist"),
            "index_url": reverse(f"{self.admin_site.name}:index"),
        })

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: Any = None) -> Any:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except TenantError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    @admin.display(description="Scopes")
    def scope_list(self, api_key: ApiKey) -> str:
        return " ".join(api_key.scopes)

    @admin.display(description="State")
    def state(self, api_key: ApiKey) -> str:
        return api_key_state(api_key)

    @admin.action(description="Revoke the selected keys")
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = [key.key_id for key in queryset if key.revoked_at is None]
        for api_key in queryset:
            api_key_revoke(api_key=api_key, actor=acting_user(request))
        self.message_user(request, f"Revoked {len(revoked)} key(s): {', '.join(revoked) or 'none'}.", messages.SUCCESS)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoked keys stay, so that audit entries keep naming them


@admin.register(ApiKey, site=platform_admin_site)
class PlatformApiKeyAdmin(ApiKeyAdminBase):
    list_display = ["tenant", *ApiKeyAdminBase.list_display]
    list_filter = [*ApiKeyAdminBase.list_filter, "tenant"]
    list_select_related = ["tenant"]
    readonly_fields = ["tenant", *ApiKeyAdminBase.readonly_fields]
    add_fields = ["tenant", *ApiKeyAdminBase.add_fields]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "tenant":
            kwargs["queryset"] = Tenant.objects.exclude(schema_name="public")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def key_tenant(self, request: HttpRequest, form: forms.ModelForm) -> Tenant:
        return form.cleaned_data["tenant"]


@admin.register(ApiKey, site=tenant_admin_site)
class TenantApiKeyAdmin(ApiKeyAdminBase):
    """A tenant's own keys only: the queryset and every new key are bound to the host's tenant."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        return super().get_queryset(request).filter(tenant=request.tenant)  # type: ignore[attr-defined]

    def key_tenant(self, request: HttpRequest, form: forms.ModelForm) -> Tenant:
        return request.tenant  # type: ignore[attr-defined]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.admin_site.has_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.admin_site.has_permission(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.admin_site.has_permission(request)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> None:  # type: ignore[override]
        return None  # django_admin_log is keyed by object id alone; the audit log keeps the record


class QueueStateFilter(admin.SimpleListFilter):
    """Entries as an operator asks for them: due now, waiting for a retry, being made, or failed for good."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("due", "Due"), ("waiting", "Waiting to retry"), ("running", "Running"), ("failed", "Failed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[SummaryQueueEntry]) -> QuerySet[SummaryQueueEntry]:
        now = timezone.now()
        queued = queryset.filter(state=SummaryQueueEntry.State.QUEUED)
        live_claim = Q(claimed_until__gt=now)
        return {
            "due": queued.filter(due_at__lte=now).exclude(live_claim),
            "waiting": queued.filter(due_at__gt=now).exclude(live_claim),
            "running": queued.filter(live_claim),
            "failed": queryset.filter(state=SummaryQueueEntry.State.FAILED),
        }.get(self.value() or "", queryset)


@admin.register(SummaryQueueEntry, site=platform_admin_site)
class SummaryQueueAdmin(admin.ModelAdmin):
    """The fleet's summaries waiting, being made or failed, across every tenant (read-only: tenants retry theirs)."""

    list_display = ["tenant", "summary_id", "queue_state", "due", "claimed_by", "claims", "error"]
    list_filter = [QueueStateFilter, "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["tenant__slug", "claimed_by", "last_error"]
    ordering = ["due_at", "id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # entries are written with their tenant's summaries

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        totals = queue_totals(queue_status())
        title = (f"Summary queue: {totals['pending']} pending ({totals['due']} due), {totals['running']} running, "
                 f"{totals['failed']} failed across {totals['tenants']} tenant(s)")
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    @admin.display(description="State")
    def queue_state(self, entry: SummaryQueueEntry) -> str:
        return queue_entry_state(entry, timezone.now())

    @admin.display(description="Due", ordering="due_at")
    def due(self, entry: SummaryQueueEntry) -> str:
        return f"{timezone.localtime(entry.due_at):%Y-%m-%d %H:%M:%S}" if entry.due_at else "-"

    @admin.display(description="Last error")
    def error(self, entry: SummaryQueueEntry) -> str:
        return entry.last_error[:80] + ("…" if len(entry.last_error) > 80 else "")
