"""The search path is sent once per transaction (mcp.postgresql_backend), and never trusted once it may have moved.

A transaction sends `SET LOCAL search_path` before its first cursor and
remembers it; whatever may undo or move it (the transaction's end, a savepoint
rolled back, a schema switch, a statement that names the path) makes the next
cursor send it again. Each test reads rows that two tenants hold under the same
key, so a path trusted when it should not be shows up as the other tenant's
content, the failure this must never have.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO

import psycopg2.extensions
import psycopg2.extras
import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from contexts.models import Context
from contexts.services import context_create
from tenants.models import PooledSchema, Tenant
from tenants.services import tenant_create
from tests.live_server import django_db_setup  # noqa: F401  (the committed tests alone still get a database)

ACME_PATH = 'SET LOCAL search_path = "tenant_acme","public"'
GLOBEX_PATH = 'SET LOCAL search_path = "tenant_globex","public"'
PUBLIC_PATH = 'SET LOCAL search_path = "public"'


@pytest.fixture
def tenants(committed: None) -> Iterator[tuple[Tenant, Tenant]]:
    """Acme and Globex, committed, each with a context under the same key whose content names its tenant."""
    acme, _ = tenant_create(slug="acme", name="Acme", domain="acme.localhost")
    globex, _ = tenant_create(slug="globex", name="Globex", domain="globex.localhost")
    for tenant in (acme, globex):
        connection.set_tenant(tenant)
        context_create(key="notes", content=f"{tenant.slug}'s notes")
    connection.set_schema_to_public()
    yield acme, globex


def path_sets(captured: CaptureQueriesContext) -> list[str]:
    """The paths Django's cursors sent: alone, or in front of a transaction's first statement."""
    return [
        query["sql"].split("; ", 1)[0] for query in captured.captured_queries if "search_path" in (query["sql"] or "")
    ]


def whose_notes() -> str:
    """The content of the context under "notes" where the connection points: which tenant's rows a query reads."""
    return Context.objects.get(key="notes").content


def schemas() -> list[str]:
    """The server's search path for a statement sent through Django's cursor now."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schemas(false)")
        return cursor.fetchone()[0]


def server_path() -> list[str]:
    """The path the server has now, asked on the driver's own cursor (no path of ours sent with it)."""
    with connection.connection.cursor() as cursor:
        cursor.execute("SELECT current_schemas(false)")
        return cursor.fetchone()[0]


@contextmanager
def driver_transaction_on(tenant: Tenant) -> Iterator[None]:
    """A transaction opened by the driver (autocommit off, no atomic block) on the tenant, rolled back after."""
    connection.set_tenant(tenant)
    connection.set_autocommit(False)
    try:
        yield
    finally:
        connection.rollback()
        connection.set_autocommit(True)


# --- once ---------------------------------------------------------------------------------------------------------


def test_a_transaction_with_several_cursors_sends_its_path_once(tenants):
    acme, _ = tenants
    connection.set_tenant(acme)
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        assert whose_notes() == "acme's notes"
        assert Context.objects.count() == 1
        assert schemas() == ["tenant_acme", "public"]
        with transaction.atomic():  # a savepoint, released: its SAVEPOINT and RELEASE need no path either
            Context.objects.create(key="more", content="x")
        Context.objects.filter(key="more").update(content="y")
    statements = [query["sql"] for query in captured.captured_queries]
    assert path_sets(captured) == [ACME_PATH]
    assert statements[0] == "BEGIN" and statements[1].startswith(f"{ACME_PATH}; SELECT")  # one round trip
    assert len(statements) == 9  # BEGIN, three reads (the first with the SET), SAVEPOINT, INSERT, RELEASE, UPDATE, COMMIT


def test_a_pool_creation_sends_the_path_once(tenants):
    call_command("provision_schemas", "--count", "1", stdout=StringIO())
    with CaptureQueriesContext(connection) as captured:
        tenant_create(slug="initech", name="Initech")
    assert path_sets(captured) == [PUBLIC_PATH]
    assert not PooledSchema.objects.exists()  # claimed from the pool, not built


# --- a schema switch ------------------------------------------------------------------------------------------------


def test_after_a_tenant_switch_inside_a_transaction_the_next_query_reads_the_new_tenant(tenants):
    acme, globex = tenants
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        connection.set_tenant(acme)
        assert whose_notes() == "acme's notes"
        connection.set_tenant(globex)
        assert whose_notes() == "globex's notes"
        assert schemas() == ["tenant_globex", "public"]
        connection.set_tenant(acme)
        assert whose_notes() == "acme's notes"
        connection.set_schema("tenant_globex", include_public=False)
        assert schemas() == ["tenant_globex"]
        connection.set_schema_to_public()
        assert schemas() == ["public"]
    assert path_sets(captured) == [
        ACME_PATH, GLOBEX_PATH, ACME_PATH, 'SET LOCAL search_path = "tenant_globex"', PUBLIC_PATH,
    ]


# --- a savepoint rolled back ------------------------------------------------------------------------------------------


def test_a_path_set_inside_a_nested_atomic_rolled_back_is_sent_again(tenants):
    acme, globex = tenants
    with transaction.atomic():
        connection.set_tenant(globex)
        assert whose_notes() == "globex's notes"  # the transaction's path: Globex's
        with CaptureQueriesContext(connection) as captured:
            with pytest.raises(RuntimeError), transaction.atomic():
                connection.set_tenant(acme)
                assert whose_notes() == "acme's notes"  # SET LOCAL to Acme's, after the savepoint
                raise RuntimeError("rolled back")
            # ROLLBACK TO SAVEPOINT undid that SET, and the connection still points at Acme: Django's RELEASE of
            # the savepoint after it carries Acme's path again, so the read after it needs none.
            assert whose_notes() == "acme's notes"
        sent = [query["sql"] for query in captured.captured_queries]
        rollback = next(n for n, sql in enumerate(sent) if sql.startswith("ROLLBACK TO SAVEPOINT"))
        assert path_sets(captured) == [ACME_PATH, ACME_PATH]
        assert sent[rollback + 1].startswith(f"{ACME_PATH}; RELEASE SAVEPOINT")
        assert not sent[rollback + 2].startswith("SET")


def test_a_savepoint_rolled_back_through_djangos_api_forgets_the_path(tenants):
    acme, globex = tenants
    with transaction.atomic():
        connection.set_tenant(globex)
        assert whose_notes() == "globex's notes"
        sid = transaction.savepoint()
        connection.set_tenant(acme)
        assert whose_notes() == "acme's notes"
        transaction.savepoint_rollback(sid)
        assert server_path() == ["tenant_globex", "public"]
        assert whose_notes() == "acme's notes"


def test_a_rollback_to_savepoint_sent_as_sql_forgets_the_path(tenants):
    acme, globex = tenants
    with transaction.atomic():
        connection.set_tenant(globex)
        assert whose_notes() == "globex's notes"
        with connection.cursor() as cursor:
            cursor.execute("SAVEPOINT by_hand")
        connection.set_tenant(acme)
        assert whose_notes() == "acme's notes"
        with connection.connection.cursor() as cursor:  # the driver's cursor, as the migration engine's replays
            cursor.execute("ROLLBACK TO by_hand")
        assert whose_notes() == "acme's notes"


# --- a statement that sets the path itself --------------------------------------------------------------------------


def test_a_path_set_by_a_statement_of_its_own_is_not_trusted_over(tenants):
    """As a replayed template does (CREATE SCHEMA …; SET LOCAL search_path = …) inside a tenant's creation."""
    acme, _ = tenants
    with transaction.atomic():
        connection.set_tenant(acme)
        assert whose_notes() == "acme's notes"
        with connection.cursor() as cursor:
            cursor.execute('SELECT 1; SET LOCAL search_path = "tenant_globex", public')
        assert whose_notes() == "acme's notes"


@pytest.mark.parametrize("first_statement", [
    'SELECT 1; SET LOCAL search_path = "tenant_globex", public',  # carries the path, then moves it
    """SELECT set_config('search_path', '"tenant_globex", public', true)""",
    'SET LOCAL search_path = "tenant_globex", public',  # cannot carry it: the path goes first, alone
])
def test_a_transactions_first_statement_that_moves_the_path_is_not_taken_for_the_path_it_carried(
    tenants, first_statement
):
    """The path rides with a transaction's first statement and is remembered after it, unless that statement moved it."""
    acme, _ = tenants
    with transaction.atomic():
        connection.set_tenant(acme)
        with connection.cursor() as cursor:
            cursor.execute(first_statement)
        assert server_path() == ["tenant_globex", "public"]
        assert whose_notes() == "acme's notes"
        assert schemas() == ["tenant_acme", "public"]


def test_a_named_cursor_in_a_transaction_gets_the_path_before_it_and_remembers_it(tenants):
    """A server-side cursor runs one statement only, so nothing can ride with it: the path is sent first."""
    acme, _ = tenants
    with transaction.atomic():
        connection.set_tenant(acme)
        cursor = connection._cursor(name="notes")  # what a server-side iterator() takes
        cursor.execute("SELECT content FROM contexts WHERE key = 'notes'")
        assert cursor.fetchone() == ("acme's notes",)
        cursor.close()
        with CaptureQueriesContext(connection) as captured:
            assert whose_notes() == "acme's notes"
        assert path_sets(captured) == []  # remembered


def test_a_transaction_that_starts_with_ddl_sends_the_path_before_it_and_remembers_it(tenants):
    acme, _ = tenants
    with transaction.atomic():
        connection.set_tenant(acme)
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE scratch (id int)")  # DDL: never carries it (Citus)
        with CaptureQueriesContext(connection) as captured:
            assert whose_notes() == "acme's notes"
        assert path_sets(captured) == []  # remembered


def test_a_replay_in_a_released_savepoint_on_the_driver_connection_is_not_trusted_over(tenants):
    """As the migration engine's replay in a caller's transaction leaves its schema's path behind."""
    acme, _ = tenants
    with transaction.atomic():
        connection.set_tenant(acme)
        assert whose_notes() == "acme's notes"
        with connection.connection.cursor() as cursor:
            cursor.execute('SAVEPOINT fleet_replay; SET LOCAL search_path = "tenant_globex", public; '
                           "RELEASE SAVEPOINT fleet_replay")
        assert server_path() == ["tenant_globex", "public"]
        assert whose_notes() == "acme's notes"


def test_a_cursor_the_connection_cannot_read_stops_it_remembering(tenants):
    acme, _ = tenants
    try:
        with transaction.atomic():
            connection.set_tenant(acme)
            assert whose_notes() == "acme's notes"
            with connection.connection.cursor(cursor_factory=psycopg2.extras.DictCursor) as cursor:
                cursor.execute('SET LOCAL search_path = "tenant_globex", public')
            with CaptureQueriesContext(connection) as captured:
                assert whose_notes() == "acme's notes"
                assert whose_notes() == "acme's notes"
            assert path_sets(captured) == [ACME_PATH, ACME_PATH]
        with CaptureQueriesContext(connection) as captured, transaction.atomic():
            assert whose_notes() == "acme's notes"
            assert whose_notes() == "acme's notes"
        assert path_sets(captured) == [ACME_PATH, ACME_PATH]  # for as long as the driver's connection lasts
    finally:
        connection.close()  # the next test's connection remembers again


# --- the end of a transaction ------------------------------------------------------------------------------------------


def test_after_a_commit_the_next_transaction_sends_its_path_again(tenants):
    acme, globex = tenants
    connection.set_tenant(acme)
    with CaptureQueriesContext(connection) as captured:
        with transaction.atomic():
            assert whose_notes() == "acme's notes"
        assert server_path() == ["public"]  # SET LOCAL ended with the transaction
        with transaction.atomic():
            assert whose_notes() == "acme's notes"
        with pytest.raises(RuntimeError), transaction.atomic():
            assert whose_notes() == "acme's notes"
            raise RuntimeError("rolled back")
        with transaction.atomic():
            assert whose_notes() == "acme's notes"
    assert path_sets(captured) == [ACME_PATH] * 4


def test_a_commit_on_the_driver_connection_forgets_the_path(tenants):
    acme, _ = tenants
    with driver_transaction_on(acme):
        assert whose_notes() == "acme's notes"
        connection.connection.commit()  # behind Django's back
        with connection.connection.cursor() as cursor:  # the driver begins the next transaction by itself
            cursor.execute("SELECT 1")
        assert server_path() == ["public"]
        with CaptureQueriesContext(connection) as captured:
            assert whose_notes() == "acme's notes"
        assert path_sets(captured) == [ACME_PATH]


def test_a_commit_sent_as_sql_and_a_new_transaction_forget_the_path(tenants):
    acme, _ = tenants
    with driver_transaction_on(acme):
        assert whose_notes() == "acme's notes"
        with connection.connection.cursor() as cursor:
            cursor.execute("COMMIT; BEGIN")
        assert server_path() == ["public"]
        assert whose_notes() == "acme's notes"


def test_a_commit_and_chain_forgets_the_path(tenants):
    """COMMIT AND CHAIN ends the transaction and begins the next at once: the status alone would not tell."""
    acme, _ = tenants
    with driver_transaction_on(acme):
        assert whose_notes() == "acme's notes"
        with connection.connection.cursor() as cursor:
            cursor.execute("COMMIT AND CHAIN")
        assert server_path() == ["public"]
        assert whose_notes() == "acme's notes"


def test_a_transaction_that_ended_unseen_is_not_trusted_with_its_path(tenants):
    """The driver's transaction status is asked before the remembered path is trusted: a last line of defence."""
    acme, _ = tenants
    with driver_transaction_on(acme):
        assert whose_notes() == "acme's notes"
        psycopg2.extensions.connection.commit(connection.connection)  # the driver's C commit, past every hook
        with CaptureQueriesContext(connection) as captured:
            assert whose_notes() == "acme's notes"
        assert path_sets(captured) == [ACME_PATH]


# --- autocommit ------------------------------------------------------------------------------------------------------


def test_autocommit_statements_still_carry_their_path_after_a_transaction(tenants):
    acme, globex = tenants
    connection.set_tenant(acme)
    with transaction.atomic():
        assert whose_notes() == "acme's notes"
    with CaptureQueriesContext(connection) as captured:
        assert whose_notes() == "acme's notes"
        connection.set_tenant(globex)
        assert whose_notes() == "globex's notes"
    sent = [query["sql"] for query in captured.captured_queries]
    assert len(sent) == 2
    assert sent[0].startswith(ACME_PATH + "; SELECT")
    assert sent[1].startswith(GLOBEX_PATH + "; SELECT")


def test_with_the_session_set_every_cursor_sends_it_as_before(tenants, settings):
    acme, _ = tenants
    settings.SEARCH_PATH_PER_TRANSACTION = False
    connection.set_tenant(acme)
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        assert whose_notes() == "acme's notes"
        assert whose_notes() == "acme's notes"
    assert path_sets(captured) == ['SET search_path = "tenant_acme","public"'] * 2


def test_a_broken_transaction_sends_nothing_and_the_next_one_sets_its_path(tenants):
    acme, _ = tenants
    connection.set_tenant(acme)
    with CaptureQueriesContext(connection) as captured:
        with pytest.raises(TransactionManagementError), transaction.atomic():
            assert whose_notes() == "acme's notes"
            with pytest.raises(IntegrityError), transaction.atomic(savepoint=False):
                Context.objects.create(key="notes", content="a duplicate")
            whose_notes()  # needs_rollback: Django refuses any statement until the rollback
        with transaction.atomic():
            assert whose_notes() == "acme's notes"
    assert path_sets(captured) == [ACME_PATH, ACME_PATH]
