"""Shared fixtures: tenants made through the services, clients on their hosts, a clean schema after each test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg2
import pytest
from django.db import connection
from django.test import Client

from tenants.models import Tenant
from tenants.services import ensure_public_tenant, tenant_create

PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    """Hashing passwords properly is slow by design; tests need not prove that again."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _forget_cached_template_scripts() -> None:
    """Each test's transaction rolls back the scripts it stored; the process must not remember them."""
    from tenants.engine import template

    template._scripts.clear()


@pytest.fixture(autouse=True)
def _no_request_context_left() -> Iterator[None]:
    """A test that serves in process what is a process of its own (mcp_stdio names its tenant for its whole life)
    must not leave that tenant on the next test's log lines and audit entries."""
    yield
    from audit.request_id import end_request

    end_request()


@pytest.fixture(autouse=True)
def _back_to_public_schema() -> Iterator[None]:
    """Never let one test's schema switch leak into the next."""
    yield
    if connection.connection is not None or connection.schema_name:
        connection.set_schema_to_public()


@pytest.fixture
def public_tenant(db: None) -> Tenant:
    return ensure_public_tenant()


@pytest.fixture
def make_tenant(public_tenant: Tenant) -> Callable[..., Tenant]:
    """Create tenants through the service, as the command and the admin do."""

    def make(slug: str, **fields: object) -> Tenant:
        tenant, _ = tenant_create(slug=slug, name=fields.pop("name", slug.title()), **fields)  # type: ignore[arg-type]
        return tenant

    return make


@pytest.fixture
def acme(make_tenant: Callable[..., Tenant]) -> Tenant:
    return make_tenant("acme", domain="acme.localhost")


@pytest.fixture
def globex(make_tenant: Callable[..., Tenant]) -> Tenant:
    return make_tenant("globex", domain="globex.localhost")


def host_client(host: str) -> Client:
    """A test client whose requests carry this Host header."""
    return Client(HTTP_HOST=host)


def schema_names() -> set[str]:
    """Every schema in the database (from the catalog, not the tenants table)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {row[0] for row in cursor.fetchall()}


def child_database_url() -> str:
    """A DATABASE_URL naming the test database, for commands run in a child process."""
    db = connection.settings_dict
    host = db["HOST"] or "localhost"
    if host.startswith("/"):
        host = quote(host, safe="")
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def run_manage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run manage.py in a child process against the test database."""
    child_env = {**os.environ, "DATABASE_URL": child_database_url(), "DEBUG": "true", **(env or {})}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=child_env,
        capture_output=True, text=True, timeout=120,
    )


# Tables whose rows are the database's own, not a test's: kept when a committed test cleans up.
KEPT_TABLES = {"django_migrations", "django_content_type", "auth_permission", "audit_logs"}


def drop_tenant_schemas() -> None:
    """Drop every tenant and pooled schema, and the rows of public's tables that name them."""
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' OR nspname LIKE 'pool\\_%'")
        for (schema,) in cursor.fetchall():
            cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')
        tables = set(connection.introspection.table_names()) - KEPT_TABLES
        cursor.execute("TRUNCATE " + ", ".join(f'"{table}"' for table in sorted(tables)) + " CASCADE")


def delete_committed_audit_entries() -> None:
    """Remove committed audit entries (the test database's owner may; the application never does)."""
    own = psycopg2.connect(**connection.get_connection_params())
    try:
        with own, own.cursor() as cursor:
            # Test entries are young, and the trigger keeps young entries even with the guard lifted: tests
            # may disable the trigger for their own cleanup, because a test database is theirs to reset.
            cursor.execute(
                "ALTER TABLE public.audit_logs DISABLE TRIGGER audit_logs_append_only_rows; "
                "DELETE FROM public.audit_logs; "
                "ALTER TABLE public.audit_logs ENABLE TRIGGER audit_logs_append_only_rows"
            )
    finally:
        own.close()


@pytest.fixture(autouse=True)
def _no_committed_audit_entries_outlive_a_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Refusals are audited on a connection of their own, so they outlive the test's rollback; remove them."""
    yield
    if {"db", "transactional_db", "committed"} & set(request.fixturenames):
        delete_committed_audit_entries()


@pytest.fixture
def committed(django_db_setup: None, django_db_blocker: object) -> Iterator[None]:
    """For tests whose data must be committed (child processes, concurrency): clean up what they made.

    Not pytest-django's transactional_db: its flush TRUNCATEs every table, and
    audit_logs refuses TRUNCATE by design.
    """
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        ensure_public_tenant()
        yield
        drop_tenant_schemas()
        delete_committed_audit_entries()
        ensure_public_tenant()
