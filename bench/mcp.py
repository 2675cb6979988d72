"""Benchmark get_context through /mcp beside GET /api/v1/contexts/{key}: same contexts, same server, same run.

    python bench/mcp.py                       # 20 tenants x 1,000 contexts, concurrency 8, 4 rounds of 5 s a call
    python bench/mcp.py --caches database     # without Redis: the budgets in the database cache

One run on a fresh database (mcp_bench_mcp, on the server of DATABASE_URL or
the embedded one), seeded as bench/api.py seeds (tenants made by the service,
plan enterprise with budgets no run reaches, contexts in bulk). gunicorn serves
the project (DEBUG off, sync workers) with REDIS_URL on a redis-server started
for the run, as production does, and a load generator in this process keeps
--concurrency requests in flight against 127.0.0.1 with Host <slug>.localhost:

    rest   GET /api/v1/contexts/{key}
    mcp    POST /mcp  tools/call get_context {key}   (2026-07-28: _meta and the routing headers)

both drawing the same random tenant and key sequence. The two alternate for
--rounds rounds, after a warm-up of each, so that a drift of the machine
touches both alike. It prints requests per second and p50/p99 of each, and MCP's
throughput as a share of REST's (target: at least 0.80). The SQL statements
each call costs are counted by tests/mcp/test_operations.py.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.api import (  # noqa: E402
    SETTINGS,
    BenchTenant,
    Call,
    Result,
    drive,
    manage,
    seed,
    start_gunicorn,
    start_redis,
    stop,
)
from bench.migrations import fresh_database, server_params  # noqa: E402

BENCH_DATABASE = "mcp_bench_mcp"
MODERN = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"}}


def key_of(n: int) -> str:
    return f"doc/{n:06d}"


def the_calls(tenants: list[BenchTenant], context_count: int) -> list[Call]:
    """GET by key over REST, and get_context over MCP, for the same random tenants and keys."""

    def rest(rng, _thread):
        tenant, n = rng.choice(tenants), rng.randint(1, context_count)
        return "GET", f"/api/v1/contexts/{key_of(n)}", tenant, None, {"Authorization": f"Bearer {tenant.raw_key}"}

    def mcp(rng, _thread):
        tenant, n = rng.choice(tenants), rng.randint(1, context_count)
        body = json.dumps({"jsonrpc": "2.0", "id": n, "method": "tools/call",
                           "params": {"name": "get_context", "arguments": {"key": key_of(n)}, "_meta": META}})
        headers = {"Authorization": f"Bearer {tenant.raw_key}", "Content-Type": "application/json",
                   "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": MODERN,
                   "Mcp-Method": "tools/call", "Mcp-Name": "get_context"}
        return "POST", "/mcp", tenant, body.encode(), headers

    return [Call("rest", 200, rest), Call("mcp", 200, mcp)]


def merged(name: str, rounds: list[Result]) -> Result:
    total = Result(name, sum(result.seconds for result in rounds))
    for result in rounds:
        total.latencies.extend(result.latencies)
        total.statuses.update(result.statuses)
    return total


def report(mode: str, rest: Result, mcp: Result) -> None:
    print()
    print(f"{'cache':<9} {'call':<28} {'requests':>9} {'errors':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for label, row in (("GET /api/v1/contexts/{key}", rest), ("/mcp get_context", mcp)):
        print(f"{mode:<9} {label:<28} {len(row.latencies):>9} {row.errors:>7} {row.rps:>8.0f} "
              f"{row.percentile(0.50):>8.2f} {row.percentile(0.99):>8.2f}")
        if row.errors:
            print(f"{'':<38} statuses: {dict(sorted(row.statuses.items()))}")
    share = mcp.rps / rest.rps if rest.rps else 0.0
    print(f"\n{mode}: MCP / REST throughput = {share:.2f} (target >= 0.80: {'met' if share >= 0.8 else 'MISSED'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=20, help="How many tenants (default 20).")
    parser.add_argument("--contexts", type=int, default=1000, help="Contexts per tenant (default 1000).")
    parser.add_argument("--concurrency", type=int, default=8, help="Requests in flight (default 8).")
    parser.add_argument("--seconds", type=float, default=5.0, help="Measured seconds per call and round (default 5).")
    parser.add_argument("--rounds", type=int, default=4, help="Rounds, each measuring both calls (default 4).")
    parser.add_argument("--warmup", type=float, default=1.5, help="Unmeasured seconds of each call first.")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (default 4).")
    parser.add_argument("--caches", choices=("redis", "database"), default="redis",
                        help="Serve with REDIS_URL (default, as production) or with the database cache.")
    args = parser.parse_args()
    for name in ("tenants", "contexts", "concurrency", "rounds", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")

    database_url = fresh_database(server_params(), BENCH_DATABASE)
    setup_env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": SETTINGS,
                 "LOG_LEVEL": "WARNING"}
    setup_env.pop("REDIS_URL", None)
    manage(setup_env, "migrate_schemas", "--shared", "-v", "0")
    os.environ.update({key: setup_env[key] for key in ("DATABASE_URL", "DEBUG", "DJANGO_SETTINGS_MODULE",
                                                       "LOG_LEVEL")})
    os.environ.pop("REDIS_URL", None)
    print(f"MCP benchmark: {args.tenants} tenants x {args.contexts} contexts, concurrency {args.concurrency}, "
          f"{args.workers} gunicorn workers, {os.cpu_count()} cores", flush=True)
    tenants = seed(args.tenants, args.contexts)

    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50), "DATABASE_URL": database_url,
           "DJANGO_SETTINGS_MODULE": SETTINGS, "SECURE_SSL_REDIRECT": "false", "BASE_DOMAIN": "localhost",
           "SITE_URL": "http://localhost", "LOG_LEVEL": "WARNING"}
    rest_call, mcp_call = the_calls(tenants, args.contexts)
    with tempfile.TemporaryDirectory(prefix="bench-mcp-") as scratch:
        scratch_dir = Path(scratch)
        redis = start_redis(scratch_dir) if args.caches == "redis" else None
        if args.caches == "redis" and redis is None:
            raise SystemExit("redis-server is not installed (apt-get install redis-server); or --caches database")
        if redis is not None:
            env["REDIS_URL"] = redis[1]
        log = scratch_dir / "gunicorn.log"
        gunicorn, port = start_gunicorn(env, args.workers, log)
        try:
            rounds: dict[str, list[Result]] = {"rest": [], "mcp": []}
            for index, call in enumerate((rest_call, mcp_call)):
                drive(port, call, concurrency=args.concurrency, seconds=args.warmup, max_requests=10**9,
                      seed_base=index)
            for round_number in range(args.rounds):
                # The same seeds for both calls: the same tenants and keys, in the same order.
                for call in (rest_call, mcp_call) if round_number % 2 == 0 else (mcp_call, rest_call):
                    result = drive(port, call, concurrency=args.concurrency, seconds=args.seconds,
                                   max_requests=10**9, seed_base=100 + round_number)
                    rounds[call.name].append(result)
                    print(f"  round {round_number + 1}: {call.name:<5} {result.rps:>7.0f} req/s", flush=True)
                    time.sleep(0.2)  # let the last connections close before the other call starts
        finally:
            stop(gunicorn)
            if redis is not None:
                stop(redis[0])
            errors = [line for line in log.read_text().splitlines() if "Traceback" in line or "ERROR" in line]
            if errors:
                print(f"  gunicorn logged {len(errors)} errors; the first:\n{errors[0]}")
    report(args.caches, merged("rest", rounds["rest"]), merged("mcp", rounds["mcp"]))


if __name__ == "__main__":
    main()
