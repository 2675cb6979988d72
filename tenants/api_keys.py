"""API keys: creating, revoking and recognising the credentials of a tenant's API and MCP endpoint.

A key reads mcpk_<key_id>_<secret>. Only a SHA-256 digest of it is stored: the
secret is 32 random bytes, so no dictionary or brute-force attack applies and a
slow password hash (bcrypt, argon2) would add latency to every request without
adding safety. The mcpk_ prefix lets secret scanners recognise a leaked key, and
key_id names it in lists and logs without revealing it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from tenants.cache import claim_touch
from tenants.errors import TenantError
from tenants.models import ApiKey, Tenant, User

KEY_PREFIX = "mcpk"
KEY_PATTERN = re.compile(rf"{KEY_PREFIX}_([a-z0-9]{{12}})_([A-Za-z0-9_-]{{43}})")
# last_used_at is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class ApiKeyError(TenantError):
    """An API key operation was refused."""


def key_digest(raw_key: str) -> str:
    """Return the stored form of a key."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def parse_key(raw_key: str) -> tuple[str, str] | None:
    """Return (key_id, digest) of a well-formed key, or None."""
    match = KEY_PATTERN.fullmatch(raw_key)
    return (match.group(1), key_digest(raw_key)) if match else None


def validate_scopes(scopes: list[str]) -> list[str]:
    """Return the scopes, deduplicated in a fixed order; raise ApiKeyError naming an unknown one."""
    unknown = sorted(set(scopes) - set(ApiKey.Scope.values))
    if unknown:
        raise ApiKeyError(f"Unknown scope {unknown[0]!r}; the scopes are {', '.join(ApiKey.Scope.values)}.")
    if not scopes:
        raise ApiKeyError(f"A key needs at least one scope: {', '.join(ApiKey.Scope.values)}.")
    return [scope for scope in ApiKey.Scope.values if scope in scopes]


@transaction.atomic
def api_key_create(
    *, tenant: Tenant, name: str, scopes: list[str], expires_at: dt.datetime | None = None,
    actor: User | None = None, actor_label: str = "",
) -> tuple[ApiKey, str]:
    """Create a key for one tenant; return it and the secret key, which is never shown again."""
    if tenant.is_public:
        raise ApiKeyError("API keys belong to a tenant; the platform has none.")
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ApiKeyError("A key needs a name of 1 to 100 characters, saying what it is for.")
    scopes = validate_scopes(scopes)
    if expires_at is not None and expires_at <= timezone.now():
        raise ApiKeyError("The expiry is in the past.")
    key_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
    raw_key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    label = actor.email if actor is not None and actor.is_authenticated else actor_label
    api_key = ApiKey.objects.create(
        tenant=tenant, name=name, key_id=key_id, digest=key_digest(raw_key), scopes=scopes,
        expires_at=expires_at, created_by_label=label,
    )
    audit_record(
        action="api_key.created", tenant=tenant, actor=actor, actor_label=actor_label, target=api_key,
        details={"key_id": key_id, "name": name, "scopes": scopes,
                 "expires_at": expires_at.isoformat() if expires_at else None},
    )
    return api_key, raw_key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: User | None = None, actor_label: str = "") -> ApiKey:
    """Revoke a key: it stops working at once. Revoking a revoked key changes nothing."""
    locked = ApiKey.objects.select_for_update().select_related("tenant").get(pk=api_key.pk)
    if locked.revoked_at is not None:
        return locked
    locked.revoked_at = timezone.now()
    locked.save(update_fields=["revoked_at"])
    audit_record(
        action="api_key.revoked", tenant=locked.tenant, actor=actor, actor_label=actor_label, target=locked,
        details={"key_id": locked.key_id, "name": locked.name},
    )
    return locked


def api_key_get(*, key_id: str, tenant: Tenant | None = None) -> ApiKey:
    """Return a key by its public id (within a tenant, when given), or raise ApiKeyError."""
    keys = ApiKey.objects.select_related("tenant").filter(key_id=key_id.removeprefix(f"{KEY_PREFIX}_").split("_")[0])
    if tenant is not None:
        keys = keys.filter(tenant=tenant)
    api_key = keys.first()
    if api_key is None:
        raise ApiKeyError(f"No API key has the id {key_id!r}" + (f" in tenant {tenant.slug!r}." if tenant else "."))
    return api_key


def api_key_state(api_key: ApiKey) -> str:
    """Say whether a key would be accepted now: active, expired or revoked."""
    if api_key.revoked_at is not None:
        return "revoked"
    if api_key.expires_at is not None and api_key.expires_at <= timezone.now():
        return "expired"
    return "active"


def api_key_touch(api_key: ApiKey) -> None:
    """Note that a key was used, at most once per LAST_USED_RESOLUTION."""
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    # A cached key's last_used_at dates from when it was cached: the shared marker says whether another
    # request (in any worker) has written it within the period, so that a busy key is not written on each one.
    if not claim_touch(api_key, int(LAST_USED_RESOLUTION.total_seconds())):
        return
    ApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    api_key.last_used_at = now


def digests_match(stored: str, presented: str) -> bool:
    """Compare digests in constant time."""
    return hmac.compare_digest(stored, presented)
