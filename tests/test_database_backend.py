"""The database backend (mcp.postgresql_backend): a persistent connection is health-checked at most once a second,
and a connection that died while idle is still replaced before a request uses it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections

from mcp.postgresql_backend.base import HEALTH_CHECK_INTERVAL, DatabaseWrapper
from tests.live_server import django_db_setup  # noqa: F401  (the committed tests alone still get a database)


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


# --- the search path, per transaction (PgBouncer in transaction mode) -------------------------------------------


def session_search_path() -> str:
    """The session's own search path, asked on the driver's connection (no path of ours sent with it)."""
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        return cursor.fetchone()[0]


@pytest.fixture
def acme_committed(committed: None) -> Iterator[Any]:
    from tenants.services import tenant_create

    tenant, _ = tenant_create(slug="acme", name="Acme", domain="acme.localhost")
    yield tenant


def test_a_statement_in_autocommit_carries_its_tenants_path_and_leaves_the_session_as_it_was(acme_committed):
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import tenant_context

    from contexts.models import Context

    before = session_search_path()
    with tenant_context(acme_committed), CaptureQueriesContext(connection) as captured:
        assert Context.objects.count() == 0
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_schemas(false)")
            assert cursor.fetchone()[0] == ["tenant_acme", "public"]

        assert "contexts" in Context.objects.filter(key="notes").explain()  # public has no such table

    (count, schemas, explain) = [query["sql"] for query in captured.captured_queries]
    assert count.startswith('SET LOCAL search_path = "tenant_acme","public"; SELECT COUNT(*)')  # one round trip
    assert schemas.startswith('SET LOCAL search_path = "tenant_acme","public"; SELECT current_schemas')
    assert explain.startswith('SET LOCAL search_path = "tenant_acme","public"; EXPLAIN SELECT')
    assert session_search_path() == before  # nothing left on the session for the next user of the server connection


def test_a_transaction_sets_its_path_for_itself_alone(acme_committed):
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import tenant_context

    from contexts.models import Context

    before = session_search_path()
    with tenant_context(acme_committed), CaptureQueriesContext(connection) as captured, transaction.atomic():
        Context.objects.create(key="notes", content="x")
        assert session_search_path() == "tenant_acme, public"
    begin, insert = (query["sql"] for query in captured.captured_queries[:2])
    assert begin == "BEGIN"
    assert insert.startswith('SET LOCAL search_path = "tenant_acme","public"; INSERT INTO "contexts"')  # one round trip
    assert session_search_path() == before  # SET LOCAL ended with the transaction


def test_ddl_in_autocommit_is_sent_alone_after_a_session_set(acme_committed):
    """Some DDL refuses any transaction block, and Citus forwards a DDL string to its workers as it is."""
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import tenant_context

    with tenant_context(acme_committed), CaptureQueriesContext(connection) as captured, connection.cursor() as cursor:
        cursor.execute('CREATE INDEX CONCURRENTLY "contexts_title_test" ON "contexts" ("title")')
    assert [query["sql"] for query in captured.captured_queries] == [
        'CREATE INDEX CONCURRENTLY "contexts_title_test" ON "contexts" ("title")'
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT schemaname FROM pg_indexes WHERE indexname = 'contexts_title_test'")
        assert cursor.fetchone() == ("tenant_acme",)


def test_switched_off_the_path_is_django_tenants_session_set(acme_committed, settings):
    from django_tenants.utils import tenant_context

    from contexts.models import Context

    settings.SEARCH_PATH_PER_TRANSACTION = False
    with tenant_context(acme_committed):
        assert Context.objects.count() == 0
        assert session_search_path() == "tenant_acme, public"  # left on the session: what PgBouncer hands on
