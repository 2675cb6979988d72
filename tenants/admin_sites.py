"""The two admin sites: the platform's on the public host, and each tenant's on its own host."""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from tenants.access import user_may_use_admin
from tenants.models import User


class HostAdminAuthenticationForm(AdminAuthenticationForm):
    """Admin sign-in that only lets in users allowed on this host's admin."""

    def confirm_login_allowed(self, user: User) -> None:
        AuthenticationForm.confirm_login_allowed(self, user)  # active users only
        if not user_may_use_admin(user, getattr(self.request, "tenant", None)):
            raise ValidationError(
                self.error_messages["invalid_login"], code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class HostAdminSite(AdminSite):
    """An admin site that lets in only the users allowed on the request's host."""

    login_form = HostAdminAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        return user_may_use_admin(request.user, getattr(request, "tenant", None))  # type: ignore[arg-type]


class PlatformAdminSite(HostAdminSite):
    site_header = "MCP platform administration"
    site_title = "MCP platform"
    index_title = "Tenants, users and audit"


class TenantAdminSite(HostAdminSite):
    site_title = "MCP tenant"
    index_title = "Contexts and summaries"

    def each_context(self, request: HttpRequest) -> dict:
        context = super().each_context(request)
        tenant = getattr(request, "tenant", None)
        context["site_header"] = f"{tenant.name} administration" if tenant is not None else "Tenant administration"
        return context


platform_admin_site = PlatformAdminSite(name="platform_admin")
tenant_admin_site = TenantAdminSite(name="tenant_admin")
