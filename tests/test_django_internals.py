"""Each private part of Django the project relies on (tenants.django_internals), tested by name: an upgrade that
moves one fails here, saying which, rather than somewhere downstream."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from tenants.django_internals import cursor_without_search_path


def test_base_database_wrapper_cursor_is_still_there_and_still_what_django_tenants_overrides():
    assert callable(getattr(BaseDatabaseWrapper, "_cursor", None)), "BaseDatabaseWrapper._cursor is gone"
    assert type(connections[DEFAULT_DB_ALIAS])._cursor is not BaseDatabaseWrapper._cursor, (
        "django-tenants' DatabaseWrapper no longer overrides BaseDatabaseWrapper._cursor")


def test_cursor_without_search_path_sends_the_statement_alone_and_logs_it(acme):
    with tenant_context(acme):
        with CaptureQueriesContext(connection) as captured, cursor_without_search_path(connection) as cursor:
            cursor.execute('SELECT count(*) FROM "tenant_acme"."contexts"')
            assert cursor.fetchone() == (0,)

    assert [query["sql"] for query in captured.captured_queries] == ['SELECT count(*) FROM "tenant_acme"."contexts"']


def test_the_admin_redirect_for_a_missing_object_is_still_there_and_says_so(acme):
    from django.contrib.admin import ModelAdmin

    from tests.contexts.test_admin import owner_client

    assert callable(getattr(ModelAdmin, "_get_obj_does_not_exist_redirect", None)), (
        "ModelAdmin._get_obj_does_not_exist_redirect is gone")
    client, _ = owner_client(acme)

    response = client.get("/admin/contexts/context/999999/history/", follow=True)

    assert response.redirect_chain == [("/admin/", 302)]
    assert [str(message) for message in response.context["messages"]] == [
        "context with ID “999999” doesn’t exist. Perhaps it was deleted?"]  # Django's words, verbose name as is


# --- the migration engine's (tenants.engine.migrator, sql_capture, template; tenants.db_errors) ---------------------


def _contexts_leaf(loader):
    return max(key for key in loader.graph.leaf_nodes() if key[0] == "contexts")


def test_a_bare_migration_executor_has_every_attribute_that_migration_executor_init_sets(db):
    from django.db.migrations.executor import MigrationExecutor

    from tenants.django_internals import bare_migration_executor

    stock = MigrationExecutor(connection)
    bare = bare_migration_executor(connection, stock.loader)

    missing = set(vars(stock)) - set(vars(bare))
    assert not missing, f"MigrationExecutor.__init__ now sets {sorted(missing)}: bare_migration_executor must too"
    assert bare.loader is stock.loader and bare.connection is connection


def test_the_loaders_applied_migrations_is_still_what_migration_plan_reads(db):
    from django.db.migrations.executor import MigrationExecutor

    from tenants.django_internals import assume_applied, bare_migration_executor

    loader = MigrationExecutor(connection).loader
    executor = bare_migration_executor(connection, loader)
    leaf = _contexts_leaf(loader)
    everything = set(loader.graph.nodes)

    assume_applied(executor, [])
    from_nothing = [migration.name for migration, _ in executor.migration_plan([leaf])]
    assume_applied(executor, everything)
    from_everything = executor.migration_plan([leaf])

    assert "0001_initial" in from_nothing and from_everything == [], (
        "MigrationLoader.applied_migrations no longer decides MigrationExecutor.migration_plan")


def test_create_project_state_still_builds_the_models_of_the_migrations_applied(db):
    from django.db.migrations.executor import MigrationExecutor

    from tenants.django_internals import bare_migration_executor, project_state_after

    loader = MigrationExecutor(connection).loader
    executor = bare_migration_executor(connection, loader)
    assert callable(getattr(MigrationExecutor, "_create_project_state", None)), (
        "MigrationExecutor._create_project_state is gone")

    before = project_state_after(executor, [])
    after = project_state_after(executor, set(loader.graph.nodes))

    assert ("contexts", "context") not in before.models
    assert ("contexts", "context") in after.models, "MigrationExecutor._create_project_state ignored the applied set"


def test_the_wrappers_connection_attribute_is_still_the_drivers_connection(db):
    import psycopg2.extensions

    from tenants.django_internals import driver_connection

    raw = driver_connection(connection)

    assert isinstance(raw, psycopg2.extensions.connection), (
        f"BaseDatabaseWrapper.connection is a {type(raw).__name__}, not psycopg2's connection")
    assert driver_connection(connection, connect=False) is raw


def test_mogrify_still_binds_parameters_through_djangos_cursor_and_the_drivers(db):
    from tenants.django_internals import as_sql_literal, driver_connection

    with connection.cursor() as django_cursor:
        assert hasattr(django_cursor, "cursor"), "Django's CursorWrapper no longer keeps the driver's cursor in .cursor"
        bound = as_sql_literal(django_cursor, "SELECT %s, %s", ["it's", 3])
    with driver_connection(connection).cursor() as driver_cursor:
        assert as_sql_literal(driver_cursor, "SELECT %s", [None]) == "SELECT NULL"

    assert bound == "SELECT 'it''s', 3", "psycopg2's cursor.mogrify no longer returns the statement as sent"


def test_django_tenants_still_finds_an_executor_by_its_subclass_and_codename():
    # Not private, but undocumented: migrate_schemas --executor looks through MigrationExecutor.__subclasses__()
    # for the codename, and calls run_migrations(tenants) on what it finds (tenants.engine.executor).
    import inspect

    from django_tenants.migration_executors import get_executor
    from django_tenants.migration_executors.base import MigrationExecutor as TenantsMigrationExecutor

    from tenants.engine.executor import FleetExecutor

    assert get_executor("fleet") is FleetExecutor, (
        "django_tenants.migration_executors.get_executor no longer finds FleetExecutor by its codename")
    assert list(inspect.signature(TenantsMigrationExecutor.run_migrations).parameters) == ["self", "tenants"], (
        "django-tenants' MigrationExecutor.run_migrations(tenants) changed its signature")
