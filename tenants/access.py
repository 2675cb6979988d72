"""Who may act on which host: the one place the tenant-credential rule lives.

A user of tenant A is never let in on tenant B's host, whichever way they
arrive (login form, a session cookie carried across hosts, or an API key);
platform staff (users with no tenant) are let in on the public host only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils import timezone

from tenants.errors import (
    CredentialExpired,
    CredentialInvalid,
    CredentialMissing,
    CredentialOfAnotherTenant,
    CredentialRevoked,
    ScopeMissing,
)

if TYPE_CHECKING:
    from tenants.models import ApiKey, Tenant, User


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


def api_key_authenticate(*, authorization: str | None, host_tenant: Tenant) -> ApiKey:
    """Return the API key an Authorization header presents on this host, or raise AccessRefused saying why.

    A key is accepted on its own tenant's host only, and never from a query
    string (the caller passes the header alone). The key may come from the
    lookup cache; a revocation or deletion removes it from there at once.
    """
    from tenants.api_keys import digests_match, parse_key
    from tenants.cache import api_key_by_id

    scheme, _, raw_key = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not raw_key.strip():
        raise CredentialMissing("Send an API key of this tenant as 'Authorization: Bearer <key>'.")
    parsed = parse_key(raw_key.strip())
    # Possibly a cached copy (tenants.cache): every check below runs on it all the same, the tenant's first.
    api_key = api_key_by_id(parsed[0]) if parsed else None
    if api_key is None or parsed is None or not digests_match(api_key.digest, parsed[1]):
        raise CredentialInvalid("The API key is not valid.")
    if api_key.tenant_id != host_tenant.pk:
        raise CredentialOfAnotherTenant("This API key belongs to another tenant: use it on that tenant's host.")
    if api_key.revoked_at is not None:
        raise CredentialRevoked("This API key was revoked.")
    if api_key.expires_at is not None and api_key.expires_at <= timezone.now():
        raise CredentialExpired("This API key has expired.")
    api_key.tenant = host_tenant  # the same row; spares a query for whoever reads it next
    return api_key


def require_scope(api_key: ApiKey, scope: str) -> None:
    """Raise ScopeMissing unless the key carries this scope."""
    if scope not in api_key.scopes:
        raise ScopeMissing(scope)
