"""Who may act on which host: the one place the tenant-credential rule lives.

A user of tenant A is never let in on tenant B's host, whichever way they
arrive (login form, a session cookie carried across hosts, or later an API key);
platform staff (users with no tenant) are let in on the public host only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tenants.models import Tenant, User


def user_belongs_to_host(user: User, host_tenant: Tenant | None) -> bool:
    """Return whether user may be signed in on the host served by host_tenant."""
    if host_tenant is None:
        return False
    if host_tenant.is_public:
        return user.tenant_id is None
    return user.tenant_id == host_tenant.pk


def user_may_use_admin(user: User, host_tenant: Tenant | None) -> bool:
    """Return whether user may use the admin site of the host served by host_tenant."""
    if not (user.is_active and user.is_authenticated and user_belongs_to_host(user, host_tenant)):
        return False
    if host_tenant is not None and host_tenant.is_public:
        return user.is_staff
    return user.role in user.ADMIN_ROLES
