"""The project's database cache backend (mcp.database_cache): Django's behaviour, counters in one atomic statement."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import caches
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from mcp.database_cache import DatabaseCache


@pytest.fixture
def cache(db: None) -> DatabaseCache:
    found = caches["default"]
    assert isinstance(found, DatabaseCache)  # the settings' cache without REDIS_URL
    return found


def expires_of(name: str) -> object:
    with connection.cursor() as cursor:
        cursor.execute("SELECT expires FROM public.django_cache WHERE cache_key = %s", [f":1:{name}"])
        return cursor.fetchone()[0]


def test_count_requests_counts_each_key_in_one_statement_and_get_reads_the_counts(cache):
    cache.set("old", 41, None)

    with CaptureQueriesContext(connection) as first:
        assert cache.count_requests(["new", "old"], 120) == [1, 42]
    with CaptureQueriesContext(connection) as second:
        assert cache.count_requests(["new", "old"], 120) == [2, 43]

    assert len(second) == 1 and second[0]["sql"].startswith('INSERT INTO "public"."django_cache"')
    assert len(first) == 2  # a new counter: the rows are counted for culling, as Django's set() does
    assert cache.get("new") == 2 and cache.get("old") == 43
    assert cache.get_many(["new", "old"]) == {"new": 2, "old": 43}


def test_a_counter_keeps_its_expiry_and_an_expired_one_starts_again(cache):
    cache.count_requests(["window"], 120)
    expires = expires_of("window")
    cache.count_requests(["window"], 120)
    assert expires_of("window") == expires

    cache.set("window", 7, -1)  # expired, as get() sees it
    assert cache.get("window") is None
    assert cache.count_requests(["window"], 120) == [1]


def test_a_key_holding_something_else_is_counted_from_one(cache):
    cache.set("text", "not a count", 60)

    assert cache.count_requests(["text"], 60) == [1] and cache.get("text") == 1


def test_incr_and_decr_change_a_count_in_place_and_refuse_a_missing_key(cache):
    cache.count_requests(["hits"], 60)
    expires = expires_of("hits")

    assert cache.incr("hits", 5) == 6 and cache.decr("hits") == 5 and cache.get("hits") == 5
    assert expires_of("hits") == expires
    with pytest.raises(ValueError):
        cache.incr("nothing")
    cache.set("pickled", 10, 60)
    assert cache.incr("pickled") == 11  # a value set through Django is a count too (protocol 0)
    cache.set("float", 1.5, 60)
    assert cache.incr("float") == 2.5  # anything else as Django does


def test_many_values_are_stored_and_read_as_django_stores_them(cache):
    values = {"int": 3, "big": 10**30, "neg": -4, "str": "é\n.", "dict": {"a": [1, None]}, "bool": True}
    cache.set_many(values, 60)

    assert cache.get_many(list(values)) == values


def test_concurrent_requests_are_each_counted_once(committed):
    counted: list[int] = []
    start = threading.Barrier(8)

    def worker() -> None:
        try:
            start.wait()
            for _ in range(10):
                counted.extend(caches["default"].count_requests(["race:key", "race:tenant"], 60))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(counted[0::2]) == list(range(1, 81)) and sorted(counted[1::2]) == list(range(1, 81))
    assert caches["default"].get_many(["race:key", "race:tenant"]) == {"race:key": 80, "race:tenant": 80}


def test_new_counters_cull_the_table_as_django_does(cache, settings):
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"],
                                                     "OPTIONS": {"MAX_ENTRIES": 5, "CULL_FREQUENCY": 2}}}
    small = caches["default"]
    for n in range(5):
        small.set(f"stale{n}", n, -1)  # expired rows, which a cull removes first
    small.count_requests([f"live{n}" for n in range(3)], 60)

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM public.django_cache")
        assert cursor.fetchone()[0] == 3
