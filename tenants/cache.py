"""The host → tenant and key id → API key lookups, kept in the cache every worker process shares.

Routing and authentication read these two rows on every API request; caching
them takes two queries off each one. A cached row is only ever a copy: the
rules that use it (tenants.access, the suspension check in the middleware) run
on it exactly as on a row just read, so a key of tenant A is still refused on
B's host however it was found.

A change takes effect at once: the signals in tenants.signals forget the
entries of a tenant, a domain or a key when it is saved or deleted (a
suspension, a removed domain, a revocation), and the services that change rows
with a queryset update call the forget functions themselves. Forgetting writes
a short-lived tombstone, both at once and again when the transaction commits,
and entries are filled with cache.add, which never overwrites one: a request
that read the old row just before the change cannot put it back afterwards.
Every entry also expires on its own after LOOKUP_TTL, a bound on staleness
even if a change bypassed both paths (a hand-written UPDATE in psql).

The cache is settings.CACHES["lookups"]: Redis when REDIS_URL is set, and
otherwise Django's dummy cache, which stores nothing. Without Redis the shared
cache is the database, where a cache read costs a query as the lookup itself
does, so the lookups simply go to their tables.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any, TypeVar

from django.core.cache import caches
from django.db import models, transaction

from tenants.models import ApiKey, Domain, Tenant

LOOKUP_CACHE = "lookups"
LOOKUP_TTL = 300  # seconds
# Longer than any request takes between reading a row and filling the cache with it.
TOMBSTONE_TTL = 30
TOMBSTONE = "forgotten"
# Marks a key whose last_used_at was written in the last minute (tenants.api_keys.api_key_touch).
TOUCHED_PREFIX = "apikey-touched"

ModelT = TypeVar("ModelT", bound=models.Model)


def lookup_cache() -> Any:
    """Return the cache the lookups live in."""
    return caches[LOOKUP_CACHE]


@functools.cache
def _row_shape(model: type[models.Model]) -> str:
    # Part of every key, so that a deploy that adds or removes a column never reads rows cached by the last one.
    names = ",".join(field.attname for field in model._meta.concrete_fields)
    return hashlib.blake2b(names.encode(), digest_size=4).hexdigest()


def _host_key(hostname: str) -> str:
    # Host names may be 253 characters long; cache keys are best kept under 250 (memcached's limit, warned about).
    name = hostname if len(hostname) <= 200 else hashlib.sha256(hostname.encode()).hexdigest()
    return f"host:{_row_shape(Tenant)}:{name}"


def _api_key_key(key_id: str) -> str:
    return f"apikey:{_row_shape(ApiKey)}:{key_id}"


def _row_values(row: models.Model) -> tuple[Any, ...]:
    return tuple(getattr(row, field.attname) for field in row._meta.concrete_fields)


def _row_from_values(model: type[ModelT], values: tuple[Any, ...]) -> ModelT:
    # from_db marks the instance as loaded (not adding), as a queryset would.
    return model.from_db("default", [field.attname for field in model._meta.concrete_fields], values)


# The entries of the API key a request presents, read in the round trip that read its host's tenant (routing comes
# first, and then authentication would ask Redis again): api_key_by_id takes them from here, once. They belong to
# the request being served: tenants.middleware forgets them when it ends, whether or not they were used.
_read_ahead: ContextVar[tuple[str, dict[str, Any]] | None] = ContextVar("lookups_read_ahead", default=None)


def tenant_for_host(hostname: str, *, api_key_id: str | None = None) -> Tenant:
    """Return the tenant serving a host name; raise Domain.DoesNotExist if none does.

    With api_key_id (the public id of the key the request presents), read that
    key's entries in the same round trip, for api_key_by_id to use in this request.
    """
    cache_key = _host_key(hostname)
    if api_key_id is None:
        values = lookup_cache().get(cache_key)
    else:
        key_entries = (_api_key_key(api_key_id), _touched_key(api_key_id))
        found = lookup_cache().get_many([cache_key, *key_entries])
        _read_ahead.set((api_key_id, {name: found[name] for name in key_entries if name in found}))
        values = found.get(cache_key)
    tenant = _row_from_values(Tenant, values) if values is not None and values != TOMBSTONE else None
    if tenant is None:
        tenant = Domain.objects.select_related("tenant").get(domain=hostname).tenant
        # Unknown hosts are not remembered: anyone can make up host names, and a new domain must work at once.
        lookup_cache().add(cache_key, _row_values(tenant), LOOKUP_TTL)
    return tenant


def _touched_key(key_id: str) -> str:
    return f"{TOUCHED_PREFIX}:{key_id}"


def api_key_by_id(key_id: str) -> ApiKey | None:
    """Return the API key with this public id (whatever its tenant or state), or None.

    The same round trip reads whether the key's use was recorded within the
    minute (claim_touch), noted on the row as use_recorded_lately.
    """
    cache_key, touched_key = _api_key_key(key_id), _touched_key(key_id)
    read_ahead = _read_ahead.get()
    if read_ahead is not None and read_ahead[0] == key_id:
        _read_ahead.set(None)  # once: a second lookup in the same request asks again
        found = read_ahead[1]
    else:
        found = lookup_cache().get_many([cache_key, touched_key])
    values = found.get(cache_key)
    if values is not None and values != TOMBSTONE:
        api_key: ApiKey | None = _row_from_values(ApiKey, values)
    else:
        api_key = ApiKey.objects.filter(key_id=key_id).first()
        if api_key is not None:
            lookup_cache().add(cache_key, _row_values(api_key), LOOKUP_TTL)
    if api_key is not None:
        api_key.use_recorded_lately = touched_key in found  # type: ignore[attr-defined]
    return api_key


def forget_read_ahead() -> None:
    """Drop the entries read ahead for the request that ends (tenants.middleware)."""
    _read_ahead.set(None)


def _forget(cache_keys: list[str]) -> None:
    if not cache_keys:
        return
    tombstones = dict.fromkeys(cache_keys, TOMBSTONE)
    lookup_cache().set_many(tombstones, TOMBSTONE_TTL)
    # Again once the change is visible to other connections: a request may have read the old row meanwhile.
    transaction.on_commit(lambda: lookup_cache().set_many(tombstones, TOMBSTONE_TTL))


def forget_hosts(hostnames: Iterable[str]) -> None:
    """Drop the cached tenants of these host names, now and when the transaction commits."""
    _forget([_host_key(hostname) for hostname in hostnames])


def forget_tenant(tenant: Tenant) -> None:
    """Drop the cached copies of a tenant: the entries of each of its host names."""
    forget_hosts(Domain.objects.filter(tenant_id=tenant.pk).values_list("domain", flat=True))


def forget_api_key(key_id: str) -> None:
    """Drop the cached copy of an API key."""
    _forget([_api_key_key(key_id)])


def claim_touch(api_key: ApiKey, period_seconds: int) -> bool:
    """Return True for the first caller of each period per key: the one that records the key's use.

    A cached key's last_used_at is as old as the cache entry, so it cannot tell
    on its own whether the use was recorded lately; this marker can, for every
    worker process at once. The dummy cache (no Redis) says yes each time, and
    then the key comes fresh from its table and its own last_used_at decides.
    """
    if getattr(api_key, "use_recorded_lately", False):
        return False
    return bool(lookup_cache().add(_touched_key(api_key.key_id), True, period_seconds))
