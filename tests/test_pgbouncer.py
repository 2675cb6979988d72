"""Behind a real PgBouncer in transaction mode (pool of 2): no request or worker step ever reads another tenant's rows.

gunicorn serves the project with DATABASE_URL at the bouncer; two load
processes send requests for acme and globex in turn (each starting with the
other tenant), through every door: the REST API (a list and a read by key),
the MCP endpoint (recent_contexts) and the tenant admin's list of contexts.
Both tenants have contexts with the same keys (and ids), titled with their own
marker, so a query run in the other's schema shows at once. Two summary
workers run meanwhile, through the same bouncer. Then the same load with the
fix switched off (SEARCH_PATH_PER_TRANSACTION=false: django-tenants' own
session-level SET search_path) shows what the fix prevents.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from contexts.models import Context, Summary
from contexts.services import context_create
from contexts.summaries import summary_request
from tenants.api_keys import api_key_create
from tenants.models import ApiKey, Tenant
from tenants.services import tenant_create
from tests.conftest import PROJECT_DIR, child_database_url
from tests.live_server import django_db_setup, start_live_server  # noqa: F401  (fixture)
from tests.pgbouncer import Bouncer, start_pgbouncer
from tests.tenants.test_admin import signed_in_client

LOAD_SCRIPT = Path(__file__).resolve().parent / "pooling_load.py"
CONTEXTS = 5  # per tenant, the same keys in both
ROUNDS = 40  # per load process: 40 x 8 requests
MAX_LOADS = 5  # without the fix: loads sent until a leak shows
LEGACY_MCP = "2025-11-25"

pytestmark = pytest.mark.subprocess


@pytest.fixture
def bouncer(committed: None) -> Iterator[Bouncer]:
    with start_pgbouncer(connection.settings_dict, pool_mode="transaction", pool_size=2) as running:
        yield running


@pytest.fixture
def two_tenants(committed: None) -> dict[str, dict[str, Any]]:
    """acme and globex, each with CONTEXTS contexts under the same keys, an API key and a signed-in owner."""
    made = {}
    for slug in ("acme", "globex"):
        tenant, _ = tenant_create(slug=slug, name=slug.title(), domain=f"{slug}.localhost", plan="enterprise")
        with tenant_context(tenant):
            for n in range(CONTEXTS):
                context_create(key=f"notes/{n}", title=f"{slug}owned {n}", content=f"{slug}content {n}. " * 20)
        key = api_key_create(tenant=tenant, name="pooling", scopes=list(ApiKey.Scope.values))[1]
        admin = signed_in_client(f"{slug}.localhost", tenant=tenant)
        made[slug] = {"tenant": tenant, "key": key, "session": admin.cookies["sessionid"].value}
    return made


def requests_for(slug: str, made: dict[str, Any], others: list[str]) -> list[dict[str, Any]]:
    """The four doors' reads on one tenant's host, each with the marker its rows carry and the others'.

    Markers are letters only: the admin breaks long values after hyphens and slashes (<wbr>)."""
    host, auth = f"{slug}.localhost", {"Authorization": f"Bearer {made['key']}"}
    mcp_call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "recent_contexts", "arguments": {"limit": CONTEXTS}}}
    mcp_headers = {**auth, "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                   "MCP-Protocol-Version": LEGACY_MCP}
    marks = {"own": f"{slug}owned", "foreign": [f"{other}owned" for other in others]}
    return [
        {"name": "rest-list", "method": "GET", "path": "/api/v1/contexts/", "host": host, "headers": auth, **marks},
        {"name": "rest-get", "method": "GET", "path": "/api/v1/contexts/notes/1", "host": host, "headers": auth,
         **marks},
        {"name": "mcp", "method": "POST", "path": "/mcp", "host": host, "headers": mcp_headers,
         "body": json.dumps(mcp_call), **marks},
        {"name": "admin", "method": "GET", "path": "/admin/contexts/context/", "host": host,
         "headers": {"Cookie": f"sessionid={made['session']}"}, **marks},
    ]


def drive(port: int, made: dict[str, dict[str, Any]], scratch: Path) -> list[dict[str, Any]]:
    """Two load processes at once, alternating acme and globex (one starting with each); return their reports."""
    by_tenant = {slug: requests_for(slug, made[slug], [other for other in made if other != slug]) for slug in made}
    acme, globex = by_tenant["acme"], by_tenant["globex"]
    orders = [
        [request for pair in zip(acme, globex, strict=True) for request in pair],
        [request for pair in zip(globex, acme, strict=True) for request in pair],
    ]
    processes = []
    for index, order in enumerate(orders):
        spec = scratch / f"load-{index}.json"
        spec.write_text(json.dumps({"port": port, "rounds": ROUNDS, "requests": order}))
        processes.append(subprocess.Popen([sys.executable, str(LOAD_SCRIPT), str(spec)], stdout=subprocess.PIPE,
                                          text=True))
    reports = []
    for process in processes:
        out, _ = process.communicate(timeout=300)
        assert process.returncode == 0
        reports.append(json.loads(out))
    return reports


def request_summaries(made: dict[str, dict[str, Any]]) -> None:
    """A summary of every context of every tenant, for the workers to make."""
    for slug in made:
        with tenant_context(made[slug]["tenant"]):
            for context in Context.objects.all():
                summary_request(context=context)


def start_workers(env: dict[str, str]) -> list[subprocess.Popen[str]]:
    """Two summary workers through the bouncer, each until no summary is due."""
    return [
        subprocess.Popen([sys.executable, "manage.py", "process_summaries", "--worker-id", f"pooled-{n}"],
                         cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for n in range(2)
    ]


def child_env(bouncer: Bouncer, *, fixed: bool) -> dict[str, str]:
    """The environment of a child behind the bouncer, with the fix on or off."""
    return {**os.environ, "DATABASE_URL": bouncer.database_url, "DEBUG": "true",
            "SEARCH_PATH_PER_TRANSACTION": "true" if fixed else "false"}


def test_behind_pgbouncer_in_transaction_mode_no_door_and_no_worker_step_sees_another_tenants_rows(
    bouncer, two_tenants, tmp_path
):
    request_summaries(two_tenants)
    env = child_env(bouncer, fixed=True)
    workers = start_workers(env)
    with start_live_server(tmp_path / "gunicorn.log", env=env, server="gunicorn", workers=3) as server:
        reports = drive(server.port, two_tenants, tmp_path)
    worker_output = [worker.communicate(timeout=120)[0] for worker in workers]

    assert [worker.returncode for worker in workers] == [0, 0], worker_output
    sent = sum(report["sent"] for report in reports)
    assert sent == 2 * ROUNDS * 8
    statuses: dict[str, int] = {}
    for report in reports:
        for name, count in report["statuses"].items():
            statuses[name] = statuses.get(name, 0) + count
    assert set(statuses) == {f"{name} 200" for name in ("rest-list", "rest-get", "mcp", "admin")}, statuses
    assert [leak for report in reports for leak in report["leaks"]] == []
    assert [missing for report in reports for missing in report["missing"]] == []
    # Every summary made, in its own schema, of its own tenant's content.
    for slug, other in (("acme", "globex"), ("globex", "acme")):
        with tenant_context(two_tenants[slug]["tenant"]):
            made = list(Summary.objects.values_list("status", "text"))
        assert len(made) == CONTEXTS
        assert {status for status, _ in made} == {Summary.Status.SUCCEEDED}, worker_output
        assert all(f"{slug}content" in text and f"{other}content" not in text for _, text in made)
    print(f"\n{sent} requests through PgBouncer (transaction mode, pool of 2): {statuses}, no leak")


def test_without_the_fix_the_same_load_reads_another_tenants_rows(bouncer, two_tenants, tmp_path):
    """django-tenants' session-level SET search_path behind the same bouncer: the leak the fix prevents.

    A leak needs another request's SET to reach a server connection between a request's SET and its query; in
    runs here about one response in 25 showed one. The load is sent again, at most MAX_LOADS times in all,
    until one is seen, so that a quiet scheduler cannot make the demonstration miss.
    """
    env = child_env(bouncer, fixed=False)
    leaks: list[dict[str, Any]] = []
    sent = 0
    with start_live_server(tmp_path / "gunicorn.log", env=env, server="gunicorn", workers=3) as server:
        for _ in range(MAX_LOADS):
            reports = drive(server.port, two_tenants, tmp_path)
            sent += sum(report["sent"] for report in reports)
            leaks += [leak for report in reports for leak in report["leaks"]]
            if leaks:
                break

    print(f"\nwithout the fix: {len(leaks)} of {sent} responses carried the other tenant's rows; by door: "
          f"{sorted({leak['request'] for leak in leaks})}")
    assert leaks, f"no leak in {sent} requests: the demonstration did not reproduce django-tenants' PgBouncer leak"
    assert all(leak["request"] != "rest-get" for leak in leaks)  # the read by key names its schema: never leaks


def test_a_migration_command_through_the_bouncer_refuses_in_one_line(bouncer):
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate_schemas", "--shared"], cwd=PROJECT_DIR,
        env=child_env(bouncer, fixed=True), capture_output=True, text=True, timeout=120,
    )

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "pooler in transaction mode" in result.stderr and "set MIGRATION_DATABASE_URL" in result.stderr
    assert Tenant.objects.filter(schema_name="public").count() == 1  # nothing ran


def test_with_migration_database_url_the_command_connects_directly(bouncer):
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate_schemas", "--shared", "-v", "0"], cwd=PROJECT_DIR,
        env={**child_env(bouncer, fixed=True), "MIGRATION_DATABASE_URL": child_database_url()},
        capture_output=True, text=True, timeout=120,
    )

    assert (result.returncode, result.stderr) == (0, "")
    with connection.cursor() as cursor:
        cursor.execute("SELECT outcome FROM migration_runs ORDER BY started_at DESC LIMIT 1")
        assert cursor.fetchone() == ("succeeded",)


def test_migration_database_url_through_the_bouncer_too_is_refused(bouncer):
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate_schemas", "--shared"], cwd=PROJECT_DIR,
        env={**child_env(bouncer, fixed=True), "MIGRATION_DATABASE_URL": bouncer.database_url},
        capture_output=True, text=True, timeout=120,
    )

    assert result.returncode == 1
    assert "MIGRATION_DATABASE_URL goes through a pooler in transaction mode too" in result.stderr


def wrapper_at(url: str) -> Any:
    """A connection of our backend at this URL (not the test's own)."""
    from mcp.env import database_from_url
    from mcp.postgresql_backend.base import DatabaseWrapper

    settings_dict = {**connection.settings_dict, **database_from_url("URL", url), "ENGINE": "mcp.postgresql_backend"}
    return DatabaseWrapper(settings_dict, alias="probe")


def test_the_probe_tells_a_transaction_pooler_from_a_session(bouncer):
    from tenants.session_database import transactions_are_pooled

    with start_pgbouncer(connection.settings_dict, pool_mode="session", pool_size=2) as session_bouncer:
        probes = {name: wrapper_at(url) for name, url in (
            ("direct", child_database_url()), ("transaction", bouncer.database_url),
            ("session", session_bouncer.database_url),
        )}
        try:
            found = {name: transactions_are_pooled(probe) for name, probe in probes.items()}
        finally:
            for probe in probes.values():
                probe.close()

    assert found == {"direct": False, "transaction": True, "session": False}
