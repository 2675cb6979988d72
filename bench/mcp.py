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

import json
import os
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.api import (  # noqa: E402
    BenchTenant,
    Call,
    Result,
    drive,
    load_parser,
    prepare_database,
    require_at_least_one,
    running_redis,
    seed,
    serving,
    serving_env,
    warm_up,
)
from bench.migrations import server_params  # noqa: E402

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
    parser = load_parser(__doc__, tenants=20, contexts=1000, concurrency=8)
    parser.add_argument("--seconds", type=float, default=5.0, help="Measured seconds per call and round (default 5).")
    parser.add_argument("--rounds", type=int, default=4, help="Rounds, each measuring both calls (default 4).")
    parser.add_argument("--warmup", type=float, default=1.5, help="Unmeasured seconds of each call first.")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (default 4).")
    parser.add_argument("--caches", choices=("redis", "database"), default="redis",
                        help="Serve with REDIS_URL (default, as production) or with the database cache.")
    args = parser.parse_args()
    require_at_least_one(parser, args, "tenants", "contexts", "concurrency", "rounds", "workers")

    prepare_database(server_params(), BENCH_DATABASE)
    print(f"MCP benchmark: {args.tenants} tenants x {args.contexts} contexts, concurrency {args.concurrency}, "
          f"{args.workers} gunicorn workers, {os.cpu_count()} cores", flush=True)
    tenants = seed(args.tenants, args.contexts)

    env = serving_env()
    rest_call, mcp_call = the_calls(tenants, args.contexts)
    with tempfile.TemporaryDirectory(prefix="bench-mcp-") as scratch:
        scratch_dir = Path(scratch)
        with running_redis(scratch_dir, wanted=args.caches == "redis") as redis:
            if args.caches == "redis" and redis is None:
                raise SystemExit("redis-server is not installed (apt-get install redis-server); or --caches database")
            if redis is not None:
                env["REDIS_URL"] = redis[1]
            with serving(env, args.workers, scratch_dir / "gunicorn.log", errors_as="gunicorn") as (_, port):
                totals = {"rest": Result("rest", 0.0), "mcp": Result("mcp", 0.0)}
                warm_up([port], [rest_call, mcp_call], concurrency=args.concurrency, seconds=args.warmup,
                        max_requests=10**9)
                for round_number in range(args.rounds):
                    # The same seeds for both calls: the same tenants and keys, in the same order.
                    for call in (rest_call, mcp_call) if round_number % 2 == 0 else (mcp_call, rest_call):
                        result = drive(port, call, concurrency=args.concurrency, seconds=args.seconds,
                                       max_requests=10**9, seed_base=100 + round_number)
                        totals[call.name].merge(result)
                        print(f"  round {round_number + 1}: {call.name:<5} {result.rps:>7.0f} req/s", flush=True)
                        time.sleep(0.2)  # let the last connections close before the other call starts
    report(args.caches, totals["rest"], totals["mcp"])


if __name__ == "__main__":
    main()
