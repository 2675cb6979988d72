"""The project's Redis cache backend (mcp.redis_cache) on a real Redis: Django's behaviour, fewer round trips."""

from __future__ import annotations

import pytest
from django.core.cache import caches

from tests.redis_server import redis_caches, redis_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("redis_caches")


def test_incr_adds_to_an_existing_key_and_keeps_its_expiry(redis_caches):  # noqa: F811
    cache = caches["default"]
    cache.set("hits", 5, 30)

    assert cache.incr("hits") == 6 and cache.incr("hits", 4) == 10 and cache.decr("hits") == 9

    assert cache.get("hits") == 9
    assert 0 < redis_caches.ttl("test:default:1:hits") <= 30


def test_incr_of_a_missing_key_raises_and_creates_nothing(redis_caches):  # noqa: F811
    cache = caches["default"]

    with pytest.raises(ValueError):
        cache.incr("nothing")

    assert cache.get("nothing") is None and redis_caches.exists("test:default:1:nothing") == 0


def test_count_requests_counts_each_key_and_gives_new_ones_their_expiry(redis_caches):  # noqa: F811
    cache = caches["default"]
    cache.set("old", 41, None)

    assert cache.count_requests(["new", "old"], 120) == [1, 42]
    assert cache.count_requests(["new", "old"], 120) == [2, 43]

    assert 0 < redis_caches.ttl("test:default:1:new") <= 120
    assert redis_caches.ttl("test:default:1:old") == -1  # an existing counter keeps the expiry it had (none here)


def test_one_redis_client_serves_every_command_of_a_cache():
    client = caches["lookups"]._cache

    assert client.get_client("a") is client.get_client("b")


def test_the_scripts_are_called_by_their_digest_and_loaded_again_when_redis_forgot_them(redis_caches):  # noqa: F811
    cache = caches["default"]
    cache.set("hits", 1, 30)
    assert cache.count_requests(["a"], 60) == [1] and cache.incr("hits") == 2

    redis_caches.script_flush()  # a restarted Redis knows no script

    assert cache.count_requests(["a"], 60) == [2] and cache.incr("hits") == 3
    calls = {name: stats["calls"] for name, stats in redis_caches.info("commandstats").items()}
    assert "cmdstat_eval" not in calls and calls["cmdstat_evalsha"] >= 4
