"""The private parts of Django (and of the driver under it) this project relies on, each in one place with a test
that names it when an upgrade moves it (tests/test_django_internals.py). Everything else uses public APIs.

Why the migration engine needs them: it plans and runs migrations for thousands of schemas with one
MigrationExecutor around one loaded graph, telling it per schema what that schema has applied, instead of
Django's per-database executor that reads django_migrations and loads the graph again each time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from django.db.backends.base.base import BaseDatabaseWrapper

if TYPE_CHECKING:  # imported where used: the settings import this module (through tenants.session_database)
    from django.contrib.admin import ModelAdmin
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.state import ProjectState
    from django.http import HttpRequest, HttpResponse


def cursor_without_search_path(connection: Any) -> Any:
    """Django's own cursor for this connection (health check, error wrapping, the query log), without the
    SET search_path that django-tenants' backend sends before each cursor: for statements that name their schema.

    BaseDatabaseWrapper._cursor is what django-tenants' DatabaseWrapper._cursor overrides to set the path; calling
    the base class's directly skips only that.
    """
    return BaseDatabaseWrapper._cursor(connection)  # type: ignore[attr-defined]  # private: not in django-stubs


def missing_object_redirect(model_admin: ModelAdmin[Any], request: HttpRequest, object_id: str) -> HttpResponse:
    """What the admin's own views answer for an id that names nothing: a message and back to the list.

    ModelAdmin._get_obj_does_not_exist_redirect, for a view of our own (the audit history) to behave as Django's.
    """
    return model_admin._get_obj_does_not_exist_redirect(  # type: ignore[attr-defined]  # private
        request, model_admin.opts, object_id)


def bare_migration_executor(connection: BaseDatabaseWrapper, loader: MigrationLoader) -> MigrationExecutor:
    """A MigrationExecutor around a graph already loaded, made without running its __init__.

    MigrationExecutor(connection) loads the graph from disk again and reads the applied migrations of whatever
    schema the connection is on; the engine loads the graph once per run and tells the executor what each
    schema has applied (assume_applied). The attributes set here are the ones __init__ sets.
    """
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.recorder import MigrationRecorder

    executor = MigrationExecutor.__new__(MigrationExecutor)
    executor.connection = connection
    executor.loader = loader
    executor.recorder = MigrationRecorder(connection)
    executor.progress_callback = None
    return executor


def assume_applied(executor: MigrationExecutor, applied: Iterable[tuple[str, str]]) -> None:
    """Make the executor plan (migration_plan) and migrate as if exactly these migrations were applied.

    MigrationLoader.applied_migrations, which the loader fills from django_migrations when it loads the graph
    with a connection, is what migration_plan and migrate read. Only its keys are read; its values (the
    recorder's rows) are not, hence None.
    """
    executor.loader.applied_migrations = cast(dict[Any, Any], dict.fromkeys(applied))


def project_state_after(executor: MigrationExecutor, applied: Iterable[tuple[str, str]]) -> ProjectState:
    """The models' state once these migrations are applied: what migrate builds before running a plan.

    MigrationExecutor._create_project_state; built once per distinct applied set, cloned per schema.
    """
    assume_applied(executor, applied)
    return executor._create_project_state(with_applied_migrations=True)  # type: ignore[attr-defined]  # private


def driver_connection(connection: BaseDatabaseWrapper, *, connect: bool = True) -> Any:
    """The driver's own connection under Django's wrapper (a psycopg2 connection): `connection.connection`.

    Opened first when connect; otherwise None when the wrapper has none. For what Django does not wrap: a
    string of several transactions sent as one (the migrator's replays), the backend's process id.
    """
    if connect:
        connection.ensure_connection()
    return connection.connection


def as_sql_literal(cursor: Any, sql: str, params: Any) -> str:
    """sql with params bound, as the driver would send it (psycopg2's cursor.mogrify): for SQL kept as text.

    cursor is Django's cursor (whose driver cursor is its `.cursor`) or the driver's own.
    """
    driver_cursor = getattr(cursor, "cursor", cursor)
    return driver_cursor.mogrify(sql, params).decode()
