"""Tests against a real Citus cluster (schema-based sharding): a coordinator and two workers.

CITUS_DATABASE_URL names the coordinator's database, e.g. what ../shared/citus/cluster.sh start prints;
run these tests on their own, with DATABASE_URL set to the same URL (so that the settings need no
embedded server):

    CITUS_URL=$(../shared/citus/cluster.sh start /tmp/citus 9700)
    DATABASE_URL=$CITUS_URL CITUS_DATABASE_URL=$CITUS_URL .venv/bin/python -m pytest tests/citus

They use that database itself, not a test database made beside it: a database created on a coordinator
has neither the extension nor the workers. Each test's tenants are dropped afterwards (the `committed`
fixture). Without CITUS_DATABASE_URL they are skipped (a plain make test); with REQUIRE_CITUS=1 (CI) a
missing cluster fails them instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dj_database_url
import pytest
from django.db import connection

from tenants.models import Tenant
from tenants.services import tenant_create

HERE = Path(__file__).resolve().parent
CITUS_URL = os.environ.get("CITUS_DATABASE_URL", "").strip()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse to share a run with the other tests: these repoint the default database at the cluster."""
    if CITUS_URL and any(HERE not in Path(str(item.path)).parents for item in items):
        raise pytest.UsageError("CITUS_DATABASE_URL is set: run tests/citus on its own (pytest tests/citus).")


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker: Any) -> Iterator[None]:
    """Use the cluster's database as it is: public migrated, no tenant left from an earlier run."""
    if not CITUS_URL:
        reason = "no Citus cluster: set CITUS_DATABASE_URL to its coordinator (../shared/citus/cluster.sh start)"
        if os.environ.get("REQUIRE_CITUS") == "1":
            pytest.fail(f"{reason}; REQUIRE_CITUS=1 makes that a failure.", pytrace=False)
        pytest.skip(reason)
    from django.conf import settings
    from django.core.management import call_command

    from tenants.services import ensure_public_tenant
    from tests.conftest import delete_committed_audit_entries, drop_tenant_schemas

    target = dj_database_url.parse(CITUS_URL)
    for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT"):
        settings.DATABASES["default"][key] = target[key]
        connection.settings_dict[key] = target[key]
    connection.close()
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_dist_node WHERE noderole = 'primary' AND groupid <> 0")
            assert cursor.fetchone()[0] >= 2, "the cluster needs two workers"
        call_command("migrate_schemas", shared=True, verbosity=0)
        drop_tenant_schemas()
        delete_committed_audit_entries()
        ensure_public_tenant()
    yield


@pytest.fixture(autouse=True)
def _on_the_cluster(django_db_setup: None) -> None:
    """Every test here needs the cluster (skipped, or failed with REQUIRE_CITUS=1, without one)."""


def node_of(schema_name: str) -> str:
    """The worker that holds a distributed schema's tables, as host:port (one node for all of them)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT s.nodename || ':' || s.nodeport FROM citus_shards s "
            "JOIN pg_dist_schema d ON d.colocationid = s.colocation_id WHERE d.schemaid = %s::regnamespace",
            [schema_name],
        )
        nodes = [row[0] for row in cursor.fetchall()]
    assert len(nodes) == 1, f"{schema_name} is on {nodes}"
    return nodes[0]


def workers() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT node_name || ':' || node_port FROM citus_get_active_worker_nodes() ORDER BY 1")
        return [row[0] for row in cursor.fetchall()]


def move_to(schema_name: str, node: str) -> None:
    """Put a schema on a node (writes blocked for the copy: fine for a test's empty tenant)."""
    if node_of(schema_name) != node:
        host, port = node.rsplit(":", 1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT citus_schema_move(%s::regnamespace, %s, %s, 'block_writes')",
                           [schema_name, host, int(port)])


@pytest.fixture
def two_tenants_on_two_workers(committed: None) -> tuple[Tenant, Tenant]:
    """acme on the first worker, globex on the second, committed."""
    first, second = workers()[:2]
    acme = tenant_create(slug="acme", name="Acme", domain="acme.localhost")[0]
    globex = tenant_create(slug="globex", name="Globex", domain="globex.localhost")[0]
    move_to(acme.schema_name, first)
    move_to(globex.schema_name, second)
    return acme, globex


@pytest.fixture
def make_committed_tenant(committed: None) -> Callable[..., Tenant]:
    def make(slug: str, **fields: Any) -> Tenant:
        return tenant_create(slug=slug, name=fields.pop("name", slug.title()), **fields)[0]

    return make
