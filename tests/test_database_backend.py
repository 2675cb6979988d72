"""The database backend (mcp.postgresql_backend): a persistent connection is health-checked at most once a second,
and a connection that died while idle is still replaced before a request uses it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections

from mcp.postgresql_backend.base import HEALTH_CHECK_INTERVAL, DatabaseWrapper


@pytest.fixture
def persistent(db: None) -> Iterator[Any]:
    """A second connection to the test database, persistent and health-checked as the settings make it."""
    settings_dict = copy.deepcopy(connection.settings_dict)
    settings_dict.update(CONN_MAX_AGE=60, CONN_HEALTH_CHECKS=True)
    other = DatabaseWrapper(settings_dict, alias="health")
    yield other
    other.close()


def serve_a_request(db: Any) -> int:
    """What a request does to the connection: Django's check at its start, then a query; return the backend's pid."""
    db.close_if_unusable_or_obsolete()
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_the_settings_use_this_backend():
    assert type(connections[DEFAULT_DB_ALIAS]) is DatabaseWrapper


def test_a_busy_connection_is_checked_once_an_interval_not_before_each_request(persistent, monkeypatch):
    checks = []
    real_check = persistent.is_usable
    monkeypatch.setattr(persistent, "is_usable", lambda: checks.append(1) or real_check())
    pid = serve_a_request(persistent)

    for _ in range(5):
        assert serve_a_request(persistent) == pid
    assert checks == []  # opened (or checked) within the interval

    persistent.health_checked_at -= HEALTH_CHECK_INTERVAL  # a second passes
    assert serve_a_request(persistent) == pid
    assert serve_a_request(persistent) == pid
    assert checks == [1]


def test_a_connection_that_died_while_idle_is_replaced_before_a_request_uses_it(persistent):
    pid = serve_a_request(persistent)
    with connection.cursor() as cursor:  # the server ends it, as a restart or a proxy's idle timeout would
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    persistent.health_checked_at -= HEALTH_CHECK_INTERVAL  # idle past the interval

    assert serve_a_request(persistent) != pid  # checked, found dead, reconnected: the request never saw it
