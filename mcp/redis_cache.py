"""Django's Redis cache backend, with one client per connection pool, increments in one round trip, and counters.

settings.CACHES names it when REDIS_URL is set; it behaves as Django's own
(django.core.cache.backends.redis.RedisCache) in every other respect, and adds
count_requests for the request budgets (tenants.rate_limits).
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from redis.commands.core import Script

# Django's incr checks that the key exists, then increments it: two round trips, and a key expiring between
# them would come back as a new key with no expiry. As one script, Redis runs both as one atomic step.
INCR_EXISTING = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end return false"

# Add one to each counter, giving a new one its expiry, all at once.
COUNT = """
local counts = {}
for index, key in ipairs(KEYS) do
  counts[index] = redis.call('INCR', key)
  if counts[index] == 1 then redis.call('EXPIRE', key, ARGV[1]) end
end
return counts
"""

# Sent by their SHA1 (EVALSHA): Redis keeps loaded scripts, and hashing and sending a script's text on every call
# (EVAL) costs the client and the server more than the call itself. A server that does not know one yet (new, or
# restarted) answers NOSCRIPT, and redis-py loads it and calls again.
# No client of their own (the stubs want one): each call names the client it runs on.
_INCR_EXISTING = Script(None, INCR_EXISTING.encode())  # type: ignore[arg-type]
_COUNT = Script(None, COUNT.encode())  # type: ignore[arg-type]


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, servers: list[str], **options: Any) -> None:
        super().__init__(servers, **options)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # Django builds a new redis.Redis for every command, and redis-py 8's constructor takes about 250 µs, five
        # times a round trip to a local Redis. One client per pool is safe to share: it borrows the pool's connections.
        # _get_connection_pool and _client: the parent class's own (private, so not in django-stubs), whose use here
        # tests/test_redis_cache.py covers.
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client

    def incr(self, key: Any, delta: int) -> int:
        value = _INCR_EXISTING(keys=[key], args=[delta], client=self.get_client(key, write=True))
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return int(value)


class RedisCache(DjangoRedisCache):
    """Django's Redis cache on the client above."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

    def count_requests(self, keys: list[str], timeout: int, version: int | None = None) -> list[int]:
        """Add one to each counter (a new one expires after timeout seconds) in one round trip; return the counts."""
        names = [self.make_and_validate_key(key, version=version) for key in keys]
        counts = _COUNT(keys=names, args=[int(timeout)], client=self._cache.get_client(None, write=True))
        return [int(count) for count in counts]
