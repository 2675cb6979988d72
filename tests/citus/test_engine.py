"""The migration engine on a Citus coordinator: public, creation by replay and from the pool, the fleet over 200 tenants."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from tenants.engine.graph import MigrationGraph
from tenants.engine.migrator import Migrator
from tenants.engine.pool import pool_provision
from tenants.engine.schema_state import read_schema_states
from tenants.models import PooledSchema, Tenant
from tenants.services import tenant_create, tenant_delete
from tests.catalog import CATALOG_QUERIES, catalog
from tests.citus.conftest import node_of, workers
from tests.fleet_migrations import REAL_MIGRATIONS
from tests.tenants.test_template import migrate_from_zero

ADD_FIELD = {"contexts": "tests.fleet_migrations.add_field"}
TENANT_TABLES = {"django_migrations", "contexts", "context_versions", "summaries"}


def distributed_tables(schema_name: str) -> dict[str, str]:
    """The schema's tables that Citus knows, with their kind ('schema': a distributed schema's table)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.citus_table_type FROM citus_tables t JOIN pg_class c ON c.oid = t.table_name "
            "WHERE c.relnamespace = %s::regnamespace", [schema_name],
        )
        return dict(cursor.fetchall())


def is_distributed_schema(schema_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_dist_schema WHERE schemaid = %s::regnamespace)", [schema_name])
        return cursor.fetchone()[0]


def assert_placed_on_a_worker(schema_name: str) -> str:
    """The schema is distributed, every table of it is a single-shard table, all on one worker; return it."""
    assert is_distributed_schema(schema_name)
    assert distributed_tables(schema_name) == dict.fromkeys(TENANT_TABLES, "schema")
    node = node_of(schema_name)
    assert node in workers()
    return node


@pytest.fixture
def count_engine_paths(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the tenant schemas migrated through Django and the replays (and the replays that failed).

    Building the template migrates a scratch schema through Django, once per state of the migrations: not counted.
    """
    counts = {"django": 0, "replayed": 0, "replay_failed": 0}
    migrate_one, replay = Migrator.migrate_one, Migrator._replay

    def counted_migrate_one(self, schema_name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not schema_name.startswith("template_scratch_"):
            counts["django"] += 1
        return migrate_one(self, schema_name, *args, **kwargs)

    def counted_replay(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        outcome = replay(self, *args, **kwargs)
        counts["replay_failed" if outcome.failed else "replayed"] += 1
        return outcome

    monkeypatch.setattr(Migrator, "migrate_one", counted_migrate_one)
    monkeypatch.setattr(Migrator, "_replay", counted_replay)
    return counts


def test_public_is_migrated_and_its_tables_stay_on_the_coordinator(committed):
    graph = MigrationGraph()
    assert set(graph.shared_plan) <= read_schema_states(["public"])["public"].applied
    out = StringIO()
    call_command("migrate_schemas", "--shared", stdout=out)
    assert "Migrated 0 schema(s), 1 already current, 0 failed" in out.getvalue()
    assert distributed_tables("public") == {}  # tenants, audit_logs, summary_queue …: plain tables of the coordinator


def test_a_tenant_created_by_replay_is_a_distributed_schema_on_a_worker_equal_to_a_migrated_one(
        committed, count_engine_paths):
    tenant, _ = tenant_create(slug="acme", name="Acme")

    assert count_engine_paths["django"] == 0  # the template was replayed, not the migrations run
    assert_placed_on_a_worker(tenant.schema_name)
    assert [name for _, name in sorted(read_schema_states([tenant.schema_name])[tenant.schema_name].applied)] \
        == REAL_MIGRATIONS

    migrate_from_zero("tenant_migrated")  # Django's own migrate, statement by statement (counted: 1)
    assert_placed_on_a_worker("tenant_migrated")
    templated, migrated = catalog(tenant.schema_name), catalog("tenant_migrated")
    for part in CATALOG_QUERIES:
        assert templated[part] == migrated[part], part


def test_a_tenant_created_from_the_pool_is_the_pooled_distributed_schema_renamed(committed, count_engine_paths):
    assert pool_provision(count=2) == 2
    pooled = sorted(PooledSchema.objects.values_list("schema_name", flat=True))
    nodes = {name: assert_placed_on_a_worker(name) for name in pooled}

    tenant, _ = tenant_create(slug="globex", name="Globex")

    (left,) = PooledSchema.objects.values_list("schema_name", flat=True)
    (claimed,) = set(pooled) - {left}
    assert assert_placed_on_a_worker(tenant.schema_name) == nodes[claimed]
    assert not schema_exists(claimed)
    assert count_engine_paths["django"] == 0


def schema_exists(schema_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)", [schema_name])
        return cursor.fetchone()[0]


def note_columns_by_worker(schema_names: list[str]) -> dict[str, int]:
    """On each worker, how many of these schemas' contexts shards have the column `note` (read on the worker)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nodename || ':' || nodeport, result FROM run_command_on_workers($$SELECT count(*) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE a.attname = 'note' AND n.nspname LIKE 'tenant\\_f%' AND c.relname LIKE 'contexts\\_%'$$)"
        )
        return {node: int(count) for node, count in cursor.fetchall()}


@pytest.mark.timeout(600)  # 200 creations and three runs: about 40 s on a quiet machine, more on a busy one
def test_the_fleet_engine_migrates_200_tenants_on_both_workers_by_replay(committed, settings, count_engine_paths):
    for n in range(200):
        tenant_create(slug=f"f{n:03d}", name=f"Fleet {n}")
    schemas = list(Tenant.objects.exclude(schema_name="public").values_list("schema_name", flat=True))
    by_node = {node: 0 for node in workers()}
    for schema_name in schemas:
        by_node[node_of(schema_name)] += 1
    assert len(by_node) == 2 and min(by_node.values()) > 0, by_node

    settings.MIGRATION_MODULES = ADD_FIELD
    out = StringIO()
    call_command("migrate_schemas", "--tenant", stdout=out)

    assert "Migrated 200 schema(s), 0 already current, 0 failed" in out.getvalue()
    # The first schema through Django (its statements captured), the 199 others by replay, none fell back.
    assert count_engine_paths == {"django": 1, "replayed": 199, "replay_failed": 0}
    assert note_columns_by_worker(schemas) == by_node  # the shards on the workers have the column
    states = read_schema_states(schemas)
    assert all(("contexts", "0002_context_note") in states[name].applied for name in schemas)

    # migration_status reads the same state, unchanged on Citus: every tenant current, at the new migration.
    status = StringIO()
    call_command("migration_status", "--json", stdout=status)
    tenant_rows = [row for row in json.loads(status.getvalue())["schemas"] if row["kind"] == "tenant"]
    assert len(tenant_rows) == 200
    assert {(row["state"], row["last_applied"]["contexts"]) for row in tenant_rows} == {("current", "0002_context_note")}
    call_command("migration_status", "--check", stdout=StringIO())  # exits 0: raises nothing

    # A run with nothing to do migrates nothing; back again, by replay too.
    out = StringIO()
    call_command("migrate_schemas", "--tenant", stdout=out)
    assert "Migrated 0 schema(s), 200 already current, 0 failed" in out.getvalue()
    call_command("migrate_schemas", "--tenant", "contexts", REAL_MIGRATIONS[-1][:4], stdout=StringIO())
    assert count_engine_paths == {"django": 2, "replayed": 398, "replay_failed": 0}
    assert note_columns_by_worker(schemas) == dict.fromkeys(by_node, 0)


def test_deleting_a_tenant_drops_its_distributed_schema_from_its_worker(make_committed_tenant):
    tenant = make_committed_tenant("initech")
    assert_placed_on_a_worker(tenant.schema_name)
    tenant_delete(tenant=tenant)

    assert not schema_exists(tenant.schema_name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT nodename || ':' || nodeport, result FROM run_command_on_workers($$SELECT count(*) "
                       "FROM pg_namespace WHERE nspname = 'tenant_initech'$$)")
        assert dict(cursor.fetchall()) == dict.fromkeys(workers(), "0")
