"""tenant_placement and move_tenant on the cluster."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django_tenants.utils import tenant_context

from audit.models import AuditLog
from contexts.services import context_create, context_read
from tests.citus.conftest import node_of, workers
from tests.conftest import run_manage


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def wal_level_is_logical_everywhere() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT bool_and(success AND result = 'logical') FROM run_command_on_workers('SHOW wal_level')")
        return bool(cursor.fetchone()[0])


def test_tenant_placement_shows_each_tenants_node_and_size_and_the_totals(two_tenants_on_two_workers):
    acme, globex = two_tenants_on_two_workers
    document = json.loads(run("tenant_placement", "--json"))
    assert [(row["slug"], row["node"], row["distributed"], row["tables"]) for row in document] == [
        ("acme", node_of(acme.schema_name), True, 4), ("globex", node_of(globex.schema_name), True, 4)]
    assert all(row["size_bytes"] > 0 for row in document)

    lines = run("tenant_placement").splitlines()
    assert lines[0].split() == ["tenant", "node", "size"]
    assert lines[1].split()[:2] == ["acme", node_of(acme.schema_name)]
    assert lines[-1].startswith("2 tenant(s): ") and all(node in lines[-1] for node in workers())


@pytest.mark.parametrize("mode", ["auto", "block_writes"])
def test_move_tenant_moves_the_schema_with_its_rows_says_how_it_went_and_is_audited(two_tenants_on_two_workers, mode):
    if mode == "auto" and not wal_level_is_logical_everywhere():
        pytest.skip("an online move needs wal_level = logical on the workers (.ci/run sets it)")
    acme, _ = two_tenants_on_two_workers
    with tenant_context(acme):
        for n in range(50):
            context_create(key=f"notes/{n}", content=f"Note {n}")
    source = node_of(acme.schema_name)
    (target,) = set(workers()) - {source}

    out = run("move_tenant", "acme", "--to", target, "--mode", mode)

    assert node_of(acme.schema_name) == target
    lines = out.splitlines()
    assert lines[0].startswith("Moving tenant acme (tenant_acme, 4 tables, ") and f"from {source} to {target}" in lines[0]
    assert lines[-1].startswith(f"Moved tenant acme from {source} to {target} in ") and lines[-1].endswith(f"({mode}).")
    with tenant_context(acme):
        assert context_read(key="notes/49").content == "Note 49"
        context_create(key="notes/after", content="Written after the move")
    entry = AuditLog.objects.get(action="tenant.moved")
    assert (entry.tenant_slug, entry.outcome) == ("acme", "success")
    assert {key: entry.details[key] for key in ("schema_name", "from", "to", "mode")} == {
        "schema_name": "tenant_acme", "from": source, "to": target, "mode": mode}


@pytest.mark.parametrize(("to", "message"), [
    ("nowhere", "'nowhere' is not a node: give it as HOST:PORT"),
    ("127.0.0.1:1", "127.0.0.1:1 is not an active worker of this cluster"),
    (None, "is already on"),
])
def test_a_move_that_cannot_be_made_is_refused_in_one_line_and_changes_nothing(two_tenants_on_two_workers, to, message):
    acme, _ = two_tenants_on_two_workers
    source = node_of(acme.schema_name)
    with pytest.raises(CommandError, match=message):
        run("move_tenant", "acme", "--to", to or source, "--mode", "block_writes")
    assert node_of(acme.schema_name) == source
    assert not AuditLog.objects.filter(action="tenant.moved").exists()


@pytest.mark.subprocess
def test_move_tenant_of_an_unknown_tenant_exits_non_zero_with_one_line(two_tenants_on_two_workers):
    result = run_manage("move_tenant", "nobody", "--to", workers()[0])
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["CommandError: No tenant has the slug 'nobody'."]
