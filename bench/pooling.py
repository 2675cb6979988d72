"""Benchmark get-by-key through PgBouncer in transaction mode beside direct persistent connections, in one run.

    python bench/pooling.py                       # 20 tenants x 200 contexts, concurrency 64, 16 gunicorn workers
    python bench/pooling.py --seconds 20 --pool-size 10

One run on a fresh database (mcp_bench_pooling, dropped and created on the
server of DATABASE_URL, which must be reached over TCP): tenants made as
bench/api.py makes them (its seed, load generator and gunicorn; imported, not
copied). Then two gunicorns serve the project (DEBUG off, REDIS_URL on a
redis-server started for the run when one is installed, else the database
cache), both with persistent connections (CONN_MAX_AGE, as production):

    direct      DATABASE_URL at PostgreSQL
    pgbouncer   DATABASE_URL at Debian's pgbouncer (pool_mode = transaction,
                default_pool_size = --pool-size), started for the run

and the load generator keeps --concurrency requests in flight against each in
turn, --rounds rounds of --seconds / --rounds each, so that whatever else the
machine does weighs on both alike. Measured: GET /api/v1/contexts/{key} (one
statement, naming its schema) and GET /api/v1/contexts/ (the ORM: its
statements carry SET LOCAL search_path, mcp/postgresql_backend). A third
gunicorn, direct with SEARCH_PATH_PER_TRANSACTION=false (django-tenants'
session-level SET, a round trip of its own before each cursor), prices the
fix on a direct connection. It prints requests per second, p50 and p99 for
each, and the ratios. With more gunicorn workers than the pool has server
connections, the bouncer multiplexes them, as it would in production.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.api import (  # noqa: E402
    Result,
    calls,
    load_parser,
    measure_in_rounds,
    prepare_database,
    print_logged_errors,
    require_at_least_one,
    running_redis,
    seed,
    serving_env,
    start_gunicorn,
    stop,
    warm_up,
)
from bench.migrations import server_params  # noqa: E402
from tests.pgbouncer import run_pgbouncer  # noqa: E402

BENCH_DATABASE = "mcp_bench_pooling"
MEASURED = ("get", "list")
MODES = ("direct", "pgbouncer", "direct-session-set")


def path_cost(slug: str, context_count: int, *, rounds: int = 10, reads: int = 200) -> dict[bool, float]:
    """Microseconds an ORM read takes in autocommit on a direct connection, with the fix on and off, interleaved."""
    from django.conf import settings
    from django.db import connection
    from django_tenants.utils import tenant_context

    from contexts.models import Context
    from tenants.models import Tenant

    spent = {True: 0.0, False: 0.0}
    with tenant_context(Tenant.objects.get(slug=slug)):
        for round_number in range(rounds):
            for fixed in (True, False) if round_number % 2 else (False, True):
                settings.SEARCH_PATH_PER_TRANSACTION = fixed
                started = time.perf_counter()
                for n in range(reads):
                    Context.objects.filter(key=f"doc/{1 + n % context_count:06d}").values_list("version").first()
                spent[fixed] += time.perf_counter() - started
    settings.SEARCH_PATH_PER_TRANSACTION = True
    connection.close()
    return {fixed: 1e6 * seconds / (rounds * reads) for fixed, seconds in spent.items()}


def report(rows: dict[str, dict[str, Result]], args: argparse.Namespace, load: tuple[float, float]) -> None:
    """The table, then the ratios: through the bouncer against direct, and the fix's price on direct."""
    print()
    print(f"concurrency {args.concurrency}, {args.workers} gunicorn workers, PgBouncer pool of {args.pool_size} "
          f"(transaction mode), {os.cpu_count()} cores, 1-minute load average {load[0]:.2f} -> {load[1]:.2f}")
    print(f"{'mode':<19} {'call':<5} {'requests':>9} {'errors':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for mode, by_call in rows.items():
        for name, row in by_call.items():
            print(f"{mode:<19} {name:<5} {len(row.latencies):>9} {row.errors:>7} {row.rps:>8.0f} "
                  f"{row.percentile(0.50):>8.2f} {row.percentile(0.99):>8.2f}")
            if row.errors:
                print(f"{'':<25} statuses: {dict(sorted(row.statuses.items()))}")
    print()
    for name in MEASURED:
        direct, pooled = rows["direct"][name], rows["pgbouncer"][name]
        print(f"{name}: pgbouncer / direct throughput = {pooled.rps / direct.rps:.2f}, "
              f"p99 {pooled.percentile(0.99):.1f} ms against {direct.percentile(0.99):.1f} ms")
    if "direct-session-set" in rows:
        fixed, unfixed = rows["direct"]["list"], rows["direct-session-set"]["list"]
        print(f"list on direct connections: SET LOCAL carried with each statement {fixed.rps:.0f} req/s, "
              f"django-tenants' session SET {unfixed.rps:.0f} req/s ({fixed.rps / unfixed.rps:.2f}x)")


def main() -> None:
    parser = load_parser(__doc__, tenants=20, contexts=200, concurrency=64)
    parser.add_argument("--workers", type=int, default=16, help="gunicorn sync workers per server (default 16).")
    parser.add_argument("--pool-size", type=int, default=10, help="PgBouncer's default_pool_size (default 10).")
    parser.add_argument("--seconds", type=float, default=12.0, help="Measured seconds per call and mode (default 12).")
    parser.add_argument("--rounds", type=int, default=4, help="Turns each mode takes, interleaved (default 4).")
    parser.add_argument("--warmup", type=float, default=1.5, help="Unmeasured seconds before each (default 1.5).")
    parser.add_argument("--max-requests", type=int, default=100_000, help="At most this many per call and mode.")
    parser.add_argument("--no-session-set", action="store_true",
                        help="Skip the direct run with django-tenants' session-level SET (the fix's price).")
    args = parser.parse_args()
    require_at_least_one(parser, args, "tenants", "contexts", "concurrency", "workers", "pool_size", "rounds",
                         "max_requests")

    server = server_params()
    if server["host"].startswith("/"):
        raise SystemExit("PgBouncer is started here in front of PostgreSQL over TCP: set DATABASE_URL to a "
                         "postgres://…@host:port/… URL (the embedded server listens on a Unix socket only).")
    database_url = prepare_database(server, BENCH_DATABASE)
    print(f"Pooling benchmark: {args.tenants} tenants x {args.contexts} contexts", flush=True)
    tenants = seed(args.tenants, args.contexts)
    cost = path_cost(tenants[0].slug, args.contexts)
    print(f"  an ORM read in autocommit, direct, in process: {cost[True]:.0f} µs with SET LOCAL carried in its query "
          f"string, {cost[False]:.0f} µs after django-tenants' SET of its own ({cost[True] / cost[False]:.2f}x)",
          flush=True)
    the_calls = [call for call in calls(tenants, args.contexts, args.concurrency) if call.name in MEASURED]
    modes = [mode for mode in MODES if not (args.no_session_set and mode == "direct-session-set")]

    serve_env = serving_env()
    database = {"NAME": BENCH_DATABASE, "USER": server["user"], "PASSWORD": server["password"],
                "HOST": server["host"], "PORT": server["port"]}
    with tempfile.TemporaryDirectory(prefix="bench-pooling-") as scratch, \
            run_pgbouncer(database, pool_mode="transaction", pool_size=args.pool_size) as bouncer, \
            running_redis(Path(scratch)) as redis:
        scratch_dir = Path(scratch)
        if redis is None:
            print("  redis-server is not installed: the database cache holds the budgets")
        else:
            serve_env["REDIS_URL"] = redis[1]
        urls = {"direct": database_url, "pgbouncer": bouncer.database_url, "direct-session-set": database_url}
        servers = {}
        try:
            for mode in modes:
                env = {**serve_env, "DATABASE_URL": urls[mode],
                       "SEARCH_PATH_PER_TRANSACTION": "false" if mode == "direct-session-set" else "true"}
                servers[mode] = start_gunicorn(env, args.workers, scratch_dir / f"gunicorn-{mode}.log")
            warm_up([servers[mode][1] for mode in modes], the_calls, concurrency=args.concurrency,
                    seconds=args.warmup, max_requests=args.max_requests)
            load_before = os.getloadavg()[0]
            measured = measure_in_rounds({mode: (servers[mode][1], None) for mode in modes}, the_calls,
                                         rounds=args.rounds, concurrency=args.concurrency, seconds=args.seconds,
                                         max_requests=args.max_requests)
            rows: dict[str, dict[str, Result]] = {mode: {row.name: row for row in results}
                                                   for mode, results in measured.items()}
            load = (load_before, os.getloadavg()[0])
            for mode in modes:
                print(f"  {mode:<19} " + "  ".join(f"{name} {row.rps:.0f} req/s" for name, row in rows[mode].items()),
                      flush=True)
        finally:
            for process, _ in servers.values():
                stop(process)
        for mode in modes:
            print_logged_errors(scratch_dir / f"gunicorn-{mode}.log", f"gunicorn ({mode})")
    report(rows, args, load)


if __name__ == "__main__":
    main()
