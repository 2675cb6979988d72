"""Benchmark the same work on a local Citus cluster and on a single PostgreSQL server, in one run.

    python bench/citus.py                      # 200 tenants, 20 timed creations, get-by-key for 5 s
    python bench/citus.py --tenants 500 --seconds 10 --citus-url postgresql://postgres@127.0.0.1:9700/citus

The single server is DATABASE_URL's (or the embedded one), on a fresh database
mcp_bench_citus; the cluster is one this script starts with
../shared/citus/cluster.sh (a coordinator and two workers, on --port and the
two ports after it) and stops at the end, unless --citus-url names one, whose
database is left alone: the benchmark makes a database mcp_bench_citus of its
own on every node of it (dropped first if there is one).
Each side is measured in a child process of its own (Django binds its
database at start-up), with bench/migrations.py's and bench/api.py's helpers:

    creation     tenant_create by template replay, and from the pool (median)
    fleet        migrate_schemas over every tenant: nothing to do, one AddField, back (the engine's own time)
    get-by-key   GET /api/v1/contexts/{key} under gunicorn at --concurrency (requests/s, p50, p99)

Both sides run on the same machine in the same minutes: compare them, not
other machines' figures. On a laptop-sized local cluster every node shares the
same cores, so the cluster pays its network hops and two-phase commits without
gaining any of the capacity that more machines would add.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.migrations import ADD_FIELD_SETTINGS, fresh_database, manage, populate, run_child, server_params  # noqa: E402

BENCH_DATABASE = "mcp_bench_citus"
CLUSTER_SCRIPT = PROJECT_DIR.parent / "shared" / "citus" / "cluster.sh"
# The code's latest contexts migration: rolling the benchmark's AddField back means going back to it.
LATEST_REAL = sorted(path.stem for path in (PROJECT_DIR / "contexts" / "migrations").glob("[0-9][0-9][0-9][0-9]_*.py"))[-1]


# --- one side, in a child process ---------------------------------------------------------------------------------


def measure_creation(count: int) -> dict[str, float]:
    """Median milliseconds of a tenant's creation by replay and from the pool (the first one builds the template)."""
    from tenants.engine.pool import pool_provision
    from tenants.services import tenant_create

    started = time.perf_counter()
    tenant_create(slug="first", name="First")
    first = (time.perf_counter() - started) * 1000
    replay, pooled = [], []
    for n in range(count):
        started = time.perf_counter()
        tenant_create(slug=f"create-{n}", name=f"Create {n}")
        replay.append((time.perf_counter() - started) * 1000)
    pool_provision(count=count)
    for n in range(count):
        started = time.perf_counter()
        tenant_create(slug=f"pooled-{n}", name=f"Pooled {n}")
        pooled.append((time.perf_counter() - started) * 1000)
    return {"first_ms": first, "replay_ms": statistics.median(replay), "pool_ms": statistics.median(pooled)}


def measure_fleet(tenants: int) -> dict[str, float | None]:
    """migrate_schemas over every tenant, as an operator runs it: the engine's reported seconds (wall if none)."""
    from django.db import connection

    populate_s = populate(tenants)
    connection.close()
    figures: dict[str, float | None] = {"populate_s": populate_s}
    for name, args, settings in (
        ("noop_s", ("migrate_schemas", "--tenant"), "mcp.settings"),
        ("apply_s", ("migrate_schemas", "--tenant"), ADD_FIELD_SETTINGS),
        ("back_s", ("migrate_schemas", "--tenant", "contexts", LATEST_REAL), ADD_FIELD_SETTINGS),
    ):
        run = run_child(*args, "-v", "1", settings=settings)
        figures[name] = run.engine_seconds if run.engine_seconds is not None else run.seconds
    return figures


def measure_get_by_key(seconds: float, concurrency: int, workers: int) -> dict[str, float]:
    """GET by key under gunicorn (the database cache, no Redis), as bench/api.py measures it."""
    from bench import api

    bench_tenants = api.seed(10, 200)
    with tempfile.TemporaryDirectory() as directory, \
            api.serving(api.serving_env(), workers, Path(directory) / "gunicorn.log") as (_, port):
        get = next(call for call in api.calls(bench_tenants, 200, concurrency) if call.name == "get")
        api.drive(port, get, concurrency=concurrency, seconds=1.0, max_requests=10**9, seed_base=0)  # warm-up
        result = api.drive(port, get, concurrency=concurrency, seconds=seconds, max_requests=10**9, seed_base=1)
    return {"get_rps": result.rps, "get_p50_ms": result.percentile(0.5), "get_p99_ms": result.percentile(0.99),
            "get_errors": result.errors}


def measure(args: argparse.Namespace) -> None:
    """Everything, on DATABASE_URL's database; the figures as one JSON line on stdout."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcp.settings")
    manage("migrate_schemas", "--shared", "-v", "0")
    import django

    django.setup()
    from django.db import connection

    from tenants.citus import citus_coordinator

    figures: dict[str, object] = {"citus": citus_coordinator()}
    connection.close()
    figures.update(measure_creation(args.creations))
    print("  creation measured", file=sys.stderr, flush=True)
    figures.update(measure_fleet(args.tenants))
    print("  fleet measured", file=sys.stderr, flush=True)
    figures.update(measure_get_by_key(args.seconds, args.concurrency, args.workers))
    print(json.dumps(figures), flush=True)


# --- the run --------------------------------------------------------------------------------------------------------


def run_side(label: str, database_url: str, args: argparse.Namespace) -> dict[str, float]:
    print(f"== {label}", file=sys.stderr, flush=True)
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "true"}
    command = [sys.executable, __file__, "--measure", "--tenants", str(args.tenants), "--creations",
               str(args.creations), "--seconds", str(args.seconds), "--concurrency", str(args.concurrency),
               "--workers", str(args.workers)]
    result = subprocess.run(command, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit(f"measuring {label} failed (exit {result.returncode})")
    return json.loads(result.stdout.strip().splitlines()[-1])


def fresh_cluster_database(url: str, name: str = BENCH_DATABASE) -> str:
    """Drop and create a database on every node of the cluster, with the extension and the workers registered."""
    import dj_database_url
    import psycopg2

    db = dj_database_url.parse(url)
    auth = {"user": db["USER"] or "postgres", "password": db["PASSWORD"] or ""}

    def run(host: str, port: int, database: str, *statements: str) -> list[tuple]:
        conn = psycopg2.connect(host=host, port=port, dbname=database, **auth)
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
                return cursor.fetchall() if cursor.description else []
        finally:
            conn.close()

    coordinator = (db["HOST"], int(db["PORT"] or 5432))
    workers = run(*coordinator, db["NAME"], "SELECT nodename, nodeport FROM pg_dist_node WHERE groupid <> 0 "
                  "AND noderole = 'primary' ORDER BY nodename, nodeport")
    for host, port in [coordinator, *workers]:
        run(host, port, "postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
        run(host, port, name, "CREATE EXTENSION citus")
    run(*coordinator, name, f"SELECT citus_set_coordinator_host('{coordinator[0]}', {coordinator[1]})",
        *(f"SELECT citus_add_node('{host}', {port})" for host, port in workers))
    return f"postgresql://{auth['user']}@{coordinator[0]}:{coordinator[1]}/{name}"


def row(label: str, single: object, cluster: object, unit: str, *, lower_is_better: bool = True) -> str:
    def shown(value: object) -> str:
        if value is None:
            return "-"
        number = float(value)  # type: ignore[arg-type]
        return f"{number:.0f} {unit}" if number >= 100 else f"{number:.1f} {unit}" if number >= 1 else \
            f"{number:.2f} {unit}"

    ratio = "-"
    if single and cluster:
        value = float(cluster) / float(single) if lower_is_better else float(single) / float(cluster)  # type: ignore[arg-type]
        ratio = f"{value:.1f}x"
    return f"| {label} | {shown(single)} | {shown(cluster)} | {ratio} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=200, help="Tenants the fleet runs migrate (default 200).")
    parser.add_argument("--creations", type=int, default=20, help="Creations timed each way (default 20).")
    parser.add_argument("--seconds", type=float, default=5.0, help="Seconds of get-by-key load (default 5).")
    parser.add_argument("--concurrency", type=int, default=8, help="Requests in flight (default 8).")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4).")
    parser.add_argument("--port", type=int, default=9720, help="The cluster's first port (default 9720).")
    parser.add_argument("--citus-url", help="A running cluster's coordinator (its nodes get a database mcp_bench_citus).")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # the child's part
    args = parser.parse_args()
    if args.measure:
        measure(args)
        return

    single_url = fresh_database(server_params(), BENCH_DATABASE)
    cluster_dir = None
    citus_url = args.citus_url
    if citus_url is None:
        cluster_dir = tempfile.mkdtemp(prefix="citus-bench-")
        citus_url = subprocess.run([str(CLUSTER_SCRIPT), "start", cluster_dir, str(args.port)], check=True,
                                   capture_output=True, text=True).stdout.strip()
    try:
        citus_url = fresh_cluster_database(citus_url)
        single = run_side("single server", single_url, args)
        cluster = run_side("Citus, a coordinator and two workers", citus_url, args)
    finally:
        if cluster_dir is not None:
            subprocess.run([str(CLUSTER_SCRIPT), "stop", cluster_dir], check=False)
    assert cluster["citus"] and not single["citus"]

    print()
    print(f"| {args.tenants} tenants, {os.cpu_count()} cores | single server | Citus (local, 3 nodes) | Citus / single |")
    print("|---|---|---|---|")
    print(row(f"create a tenant, template replay (median of {args.creations})", single["replay_ms"],
              cluster["replay_ms"], "ms"))
    print(row(f"create a tenant from the pool (median of {args.creations})", single["pool_ms"], cluster["pool_ms"],
              "ms"))
    print(row("first creation (builds the template)", single["first_ms"], cluster["first_ms"], "ms"))
    print(row(f"migrate_schemas, nothing to do ({args.tenants} tenants)", single["noop_s"], cluster["noop_s"], "s"))
    print(row(f"migrate_schemas, one AddField ({args.tenants} tenants)", single["apply_s"], cluster["apply_s"], "s"))
    print(row(f"migrate_schemas, roll it back ({args.tenants} tenants)", single["back_s"], cluster["back_s"], "s"))
    print(row(f"GET by key, requests/s (concurrency {args.concurrency}, {args.workers} gunicorn workers)",
              single["get_rps"], cluster["get_rps"], "req/s", lower_is_better=False))
    print(row("GET by key, p50", single["get_p50_ms"], cluster["get_p50_ms"], "ms"))
    print(row("GET by key, p99", single["get_p99_ms"], cluster["get_p99_ms"], "ms"))
    errors = single["get_errors"] + cluster["get_errors"]
    print()
    print("engine: the seconds migrate_schemas reports for its work (Python start-up excluded). Citus / single: "
          "how many times longer the cluster takes (for requests/s, how many times fewer)."
          + (f" {errors:.0f} requests failed." if errors else ""))


if __name__ == "__main__":
    main()
