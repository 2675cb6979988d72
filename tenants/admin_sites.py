"""The two admin sites: the platform's on the public host, and each tenant's on its own host."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from tenants.access import user_may_use_admin
from tenants.links import site_url
from tenants.models import Tenant, User


class HostAdminAuthenticationForm(AdminAuthenticationForm):
    """Admin sign-in that only lets in users allowed on this host's admin."""

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        # One message for every refusal on this host, whether or not the email exists anywhere:
        # it says where to go instead without telling which accounts exist (no enumeration).
        self.error_messages = {**self.error_messages, "invalid_login": wrong_host_hint(getattr(request, "tenant", None))}

    def confirm_login_allowed(self, user: User) -> None:
        AuthenticationForm.confirm_login_allowed(self, user)  # active users only
        if not user_may_use_admin(user, getattr(self.request, "tenant", None)):
            raise ValidationError(
                self.error_messages["invalid_login"], code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


def wrong_host_hint(host_tenant: Tenant | None) -> str:
    """The sign-in refusal for this host: what a person whose account lives elsewhere should do."""
    example = site_url(f"<your organisation>.{settings.BASE_DOMAIN}", "/admin/")
    if host_tenant is None or host_tenant.is_public:
        return (
            "Please enter the email and password of a platform staff account. Members of an organisation "
            f"sign in at their organisation's own address ({example}), not here."
        )
    return (
        f"Please enter the email and password of an owner or admin of {host_tenant.name}. If your account "
        f"belongs to another organisation, sign in at that organisation's own address ({example}); "
        f"platform staff sign in at {site_url(settings.BASE_DOMAIN, '/admin/')}."
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
