"""Benchmark the REST API under gunicorn: throughput and latency of its main calls beside a view that touches no table.

    python bench/api.py                       # 50 tenants x 1,000 contexts, concurrency 8, 8 s a call
    python bench/api.py --seconds 15 --workers 5 --caches redis

One run on a fresh database (mcp_bench_api, dropped and created on the server
of DATABASE_URL, or the embedded one): 50 tenants made by the service (plan
enterprise, with budgets raised by bench.settings_api so that throttling counts
every request but refuses none) and their contexts inserted in bulk. Then
gunicorn serves the project (DEBUG off, as in production) once with REDIS_URL
on a redis-server started for the run, and once with the database cache, and a
load generator in this process (threads, http.client, one connection a request
as gunicorn's sync workers close them) keeps `--concurrency` requests in flight
against 127.0.0.1 with Host <slug>.localhost, for `--seconds` per call and at
most `--max-requests`, the calls taking turns in `--rounds` rounds:

    no-db      GET /healthz/live (routing and the middleware; no table read)
    get        GET /api/v1/contexts/{key}
    list       GET /api/v1/contexts/ (the first page)
    search     GET /api/v1/contexts/?q=<word>
    put        PUT /api/v1/contexts/{key} with If-Match (each thread owns its keys)

It prints requests per second and p50/p99 for each, with the ratios the issue
sets as targets: get-by-key at least half the no-database view's throughput,
and p99 under 4x p50. Compare ratios between machines, not absolute figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.migrations import fresh_database, server_params  # noqa: E402
from tests.processes import ProcessExited, ProcessSilent, free_port, stop_process, wait_until_ready  # noqa: E402

BENCH_DATABASE = "mcp_bench_api"
SETTINGS = "bench.settings_api"
READY_WITHIN = 30.0  # seconds for a server to answer
# Words of the seeded contents: each context draws WORDS_PER_CONTEXT of them, so a search for one matches about
# a fifth of a tenant's contexts (ranked, the first page returned with snippets).
VOCABULARY = (
    "invoice billing customer contract renewal schedule meeting agenda summary decision risk budget forecast "
    "quarter revenue margin supplier shipment warehouse inventory order payment refund ticket incident outage "
    "deploy release rollback migration schema index query latency throughput capacity cluster replica backup "
    "restore policy access audit review approval owner team project milestone roadmap feature request bug fix "
    "design document draft final version change note comment thread message email call report metric target "
    "goal plan task status blocked done pending started closed opened priority urgent normal low high customer "
    "account region market product pricing discount partner vendor legal compliance privacy security token key"
).split()
WORDS_PER_CONTEXT = 120
SEARCH_WORDS = ("invoice", "outage", "roadmap", "refund", "compliance", "latency", "milestone", "supplier")


# --- set-up -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchTenant:
    slug: str
    raw_key: str

    @property
    def host(self) -> str:
        return f"{self.slug}.localhost"


def manage(env: dict[str, str], *args: str) -> None:
    """Run manage.py in a child process; stop the benchmark if it fails."""
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-2000:]}")


def seed(tenant_count: int, context_count: int) -> list[BenchTenant]:
    """Create the tenants through the service and their contexts in bulk; return each one's host and key."""
    import django

    django.setup()
    from django.db import connection, transaction

    from tenants.api_keys import api_key_create
    from tenants.models import ApiKey
    from tenants.naming import quote_schema
    from tenants.services import tenant_create

    tenants = []
    for n in range(tenant_count):
        tenant, _ = tenant_create(slug=f"bench{n:03d}", name=f"Bench {n}", plan="enterprise")
        _, raw_key = api_key_create(tenant=tenant, name="bench", scopes=list(ApiKey.Scope.values))
        # Contents drawn from the vocabulary with PostgreSQL's random(), seeded per tenant; a version row each,
        # as the service would have written. The search vector is a generated column: PostgreSQL computes it.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT setseed(%s)", [n / (tenant_count + 1)])
            cursor.execute(
                f"SET LOCAL search_path = {quote_schema(tenant.schema_name)}, public; "
                "INSERT INTO contexts (key, title, content, tags, metadata, version, access_count, created_at, "
                "updated_at) "
                "SELECT 'doc/' || lpad(n::text, 6, '0'), 'Context ' || n, "
                "       (SELECT string_agg((%(words)s::text[])[1 + floor(random() * %(vocabulary)s)::int], ' ') "
                "          FROM generate_series(1, %(per_context)s) WHERE n > 0), "
                "       ARRAY['tag' || (n %% 10)], jsonb_build_object('n', n), 1, 0, now(), now() "
                "  FROM generate_series(1, %(count)s) AS n; "
                "INSERT INTO context_versions (version, title, content, tags, metadata, created_at, context_id) "
                "SELECT version, title, content, tags, metadata, created_at, id FROM contexts; "
                "ANALYZE contexts; ANALYZE context_versions",
                {"words": list(VOCABULARY), "vocabulary": len(VOCABULARY), "per_context": WORDS_PER_CONTEXT,
                 "count": context_count},
            )
        tenants.append(BenchTenant(slug=tenant.slug, raw_key=raw_key))
        if (n + 1) % 10 == 0:
            print(f"  seeded {n + 1}/{tenant_count} tenants", flush=True)
    connection.close()
    return tenants


def load_parser(description: str | None, *, tenants: int, contexts: int, concurrency: int) -> argparse.ArgumentParser:
    """A load benchmark's argument parser: its module's docstring, then --tenants, --contexts and --concurrency."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=tenants, help=f"How many tenants (default {tenants}).")
    parser.add_argument("--contexts", type=int, default=contexts, help=f"Contexts per tenant (default {contexts}).")
    parser.add_argument("--concurrency", type=int, default=concurrency,
                        help=f"Requests in flight (default {concurrency}).")
    return parser


def require_at_least_one(parser: argparse.ArgumentParser, args: argparse.Namespace, *names: str) -> None:
    """Refuse, as argparse refuses, any of these options below 1."""
    for name in names:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")


def prepare_database(server: dict[str, str], name: str) -> str:
    """Drop and create the benchmark's database, migrate public, and point this process at it; return its URL.

    This process's environment is then the one the seeding runs in (DEBUG on, the benchmark's settings, no
    REDIS_URL: the cache is the database's until gunicorn is given one).
    """
    database_url = fresh_database(server, name)
    os.environ.update({"DATABASE_URL": database_url, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": SETTINGS,
                       "LOG_LEVEL": "WARNING"})
    os.environ.pop("REDIS_URL", None)
    manage(dict(os.environ), "migrate_schemas", "--shared", "-v", "0")
    return database_url


def serving_env() -> dict[str, str]:
    """The environment gunicorn serves the benchmark in: this process's, as production (DEBUG off), no REDIS_URL."""
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50), "DJANGO_SETTINGS_MODULE": SETTINGS,
           "SECURE_SSL_REDIRECT": "false", "BASE_DOMAIN": "localhost", "SITE_URL": "http://localhost",
           "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    return env


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    """Poll ready() until it holds; stop the benchmark if the process dies or does not answer within READY_WITHIN."""
    try:
        wait_until_ready(ready, process, within=READY_WITHIN, poll_every=0.05)
    except ProcessExited as exc:
        raise SystemExit(f"{what} exited with {exc.returncode}:\n{log.read_text()[-3000:]}") from None
    except ProcessSilent:
        raise SystemExit(f"{what} did not answer within {READY_WITHIN} s:\n{log.read_text()[-3000:]}") from None


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    """Start a redis-server without persistence on a free port; None when it is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    port, log = free_port(), directory / "redis.log"
    process = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly",
                                "no", "--dir", str(directory), "--logfile", str(log)])

    def answers_ping() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    wait_until(answers_ping, process, "redis-server", log)
    return process, f"redis://127.0.0.1:{port}/0"


def start_gunicorn(env: dict[str, str], workers: int, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Serve the project with gunicorn's sync workers on a free port of 127.0.0.1, once it answers."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "mcp.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
             "--worker-class", "sync", "--timeout", "60", "--graceful-timeout", "5", "--log-level", "warning"],
            cwd=PROJECT_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
        )

    def answers() -> bool:
        try:
            return request(port, "GET", "/healthz/live", "localhost", {})[0] == 200
        except OSError:
            return False

    wait_until(answers, process, "gunicorn", log)
    return process, port


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a server the benchmark started (killed after 15 s)."""
    stop_process(process, timeout=15)


@contextmanager
def running_redis(directory: Path, *, wanted: bool = True) -> Iterator[tuple[subprocess.Popen[bytes], str] | None]:
    """start_redis for the block, stopped after it; None when not wanted or not installed."""
    redis = start_redis(directory) if wanted else None
    try:
        yield redis
    finally:
        if redis is not None:
            stop(redis[0])


def print_logged_errors(log: Path, server: str) -> None:
    """Print how many errors a server's log holds, and the first."""
    errors = [line for line in log.read_text().splitlines() if "Traceback" in line or "ERROR" in line]
    if errors:
        print(f"  {server} logged {len(errors)} errors; the first:\n{errors[0]}")


@contextmanager
def serving(env: dict[str, str], workers: int, log: Path, *,
            errors_as: str | None = None) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """start_gunicorn for the block, stopped after it; then, if errors_as names it, print the errors it logged."""
    process, port = start_gunicorn(env, workers, log)
    try:
        yield process, port
    finally:
        stop(process)
        if errors_as is not None:
            print_logged_errors(log, errors_as)


# --- CPU ------------------------------------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CPU_SIDES = ("gunicorn", "postgres", "redis", "client")


def _process_cpu(pid: int) -> tuple[int, float] | None:
    """Return a process's parent and its CPU seconds (user and system) so far, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state, ppid, …, utime (12th), stime
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class CpuMeter:
    """The CPU time each side of the benchmark spends: gunicorn (master and workers), the PostgreSQL backends of
    the benchmark's database, redis-server, and the load generator (this process, all its threads)."""

    gunicorn_pid: int
    redis_pid: int | None
    database: str

    def sample(self) -> dict[str, dict[int, float]]:
        sides: dict[str, dict[int, float]] = {side: {} for side in CPU_SIDES}
        marker = f" {self.database} ".encode()
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            found = _process_cpu(pid)
            if found is None:
                continue
            parent, seconds = found
            if pid == self.gunicorn_pid or parent == self.gunicorn_pid:
                sides["gunicorn"][pid] = seconds
            elif pid == self.redis_pid:
                sides["redis"][pid] = seconds
            else:
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if command.startswith(b"postgres: ") and marker in command:
                    sides["postgres"][pid] = seconds
        sides["client"][os.getpid()] = time.process_time()
        return sides

    @staticmethod
    def spent(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> Counter[str]:
        """CPU seconds per side between two samples (a backend that ended meanwhile is left out)."""
        return Counter({side: sum(seconds - before[side].get(pid, 0.0) for pid, seconds in after[side].items())
                        for side in CPU_SIDES})


# --- load ---------------------------------------------------------------------------------------------------------


def request(port: int, method: str, path: str, host: str, headers: dict[str, str],
            body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """Send one request on a new connection to 127.0.0.1 (gunicorn's sync workers close each one)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Host": host, **headers})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@dataclass
class Call:
    """One kind of request: what to send, drawn at random per request, and what a success is."""

    name: str
    ok: int
    make: Callable[[random.Random, int], tuple[str, str, BenchTenant, bytes | None, dict[str, str]]]
    after: Callable[[int, tuple[str, str, BenchTenant, bytes | None, dict[str, str]], int, dict[str, str]], None] = (
        lambda *args: None)


@dataclass
class Result:
    name: str
    seconds: float
    latencies: list[float] = field(default_factory=list)  # of the successes, in seconds
    statuses: Counter[int] = field(default_factory=Counter)
    cpu: Counter[str] = field(default_factory=Counter)  # CPU seconds per side (CpuMeter), when measured

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000 if ordered else float("nan")

    def merge(self, other: Result) -> None:
        """Add another measurement of the same call."""
        self.seconds += other.seconds
        self.latencies.extend(other.latencies)
        self.statuses.update(other.statuses)
        self.cpu.update(other.cpu)

    def cpu_ms(self, side: str) -> float:
        """CPU milliseconds a request on one side."""
        requests = sum(self.statuses.values())
        return 1000 * self.cpu[side] / requests if requests else float("nan")

    @property
    def errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 400 or status < 200)


def calls(tenants: list[BenchTenant], context_count: int, concurrency: int) -> list[Call]:
    """The five calls the benchmark measures, the no-database view first."""

    def auth(tenant: BenchTenant) -> dict[str, str]:
        return {"Authorization": f"Bearer {tenant.raw_key}"}

    def key(n: int) -> str:
        return f"doc/{n:06d}"

    # Each thread replaces its own contexts (numbers congruent to its index), so that its If-Match is never stale.
    versions: dict[tuple[str, int], int] = {}

    def make_put(rng: random.Random, thread: int) -> tuple[str, str, BenchTenant, bytes | None, dict[str, str]]:
        tenant = rng.choice(tenants)
        n = rng.randrange(thread + 1, context_count + 1, concurrency) if thread < context_count else 1
        version = versions.get((tenant.slug, n), 1)
        body = json.dumps({
            "title": f"Context {n}, revised", "content": " ".join(rng.choices(VOCABULARY, k=WORDS_PER_CONTEXT)),
            "tags": [f"tag{n % 10}", "revised"], "metadata": {"n": n, "revised": True},
        }).encode()
        headers = {**auth(tenant), "If-Match": f'"v{version}"', "Content-Type": "application/json"}
        return "PUT", f"/api/v1/contexts/{key(n)}", tenant, body, headers

    def after_put(thread: int, sent: tuple[str, str, BenchTenant, bytes | None, dict[str, str]], status: int,
                  headers: dict[str, str]) -> None:
        if status == 200:
            n = int(sent[1].rsplit("/", 1)[1])
            versions[(sent[2].slug, n)] = int(headers["ETag"].strip('"').lstrip("v"))

    return [
        Call("no-db", 200, lambda rng, _: ("GET", "/healthz/live", rng.choice(tenants), None, {})),
        Call("get", 200, lambda rng, _: ("GET", f"/api/v1/contexts/{key(rng.randint(1, context_count))}",
                                         (tenant := rng.choice(tenants)), None, auth(tenant))),
        Call("list", 200, lambda rng, _: ("GET", "/api/v1/contexts/", (tenant := rng.choice(tenants)), None,
                                          auth(tenant))),
        Call("search", 200, lambda rng, _: ("GET", f"/api/v1/contexts/?q={rng.choice(SEARCH_WORDS)}",
                                            (tenant := rng.choice(tenants)), None, auth(tenant))),
        Call("put", 200, make_put, after_put),
    ]


def drive(port: int, call: Call, *, concurrency: int, seconds: float, max_requests: int, seed_base: int,
          meter: CpuMeter | None = None) -> Result:
    """Keep `concurrency` requests of one call in flight for `seconds` (at most max_requests in all)."""
    result = Result(call.name, 0.0)
    lock = threading.Lock()
    budget = [max_requests]
    start = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def worker(thread: int) -> None:
        rng = random.Random(seed_base * 1000 + thread)
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        start.wait()
        while time.perf_counter() < deadline[0]:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            sent = call.make(rng, thread)
            method, path, tenant, body, headers = sent
            began = time.perf_counter()
            try:
                status, response_headers, _ = request(port, method, path, tenant.host, headers, body)
            except OSError:
                status, response_headers = 599, {}
            elapsed = time.perf_counter() - began
            statuses[status] += 1
            if status == call.ok:
                latencies.append(elapsed)
            call.after(thread, sent, status, response_headers)
        with lock:
            result.latencies.extend(latencies)
            result.statuses.update(statuses)

    threads = [threading.Thread(target=worker, args=(thread,)) for thread in range(concurrency)]
    for thread in threads:
        thread.start()
    before = meter.sample() if meter else None
    deadline[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - began
    if meter and before:
        result.cpu = CpuMeter.spent(before, meter.sample())
    return result


def warm_up(ports: list[int], the_calls: list[Call], *, concurrency: int, seconds: float, max_requests: int) -> None:
    """Send each call, unmeasured, to each server in turn."""
    for index, call in enumerate(the_calls):
        for port in ports:
            drive(port, call, concurrency=concurrency, seconds=seconds, max_requests=max_requests, seed_base=index)


def measure_in_rounds(servers: dict[str, tuple[int, CpuMeter | None]], the_calls: list[Call], *, rounds: int,
                      concurrency: int, seconds: float, max_requests: int) -> dict[str, list[Result]]:
    """Measure each call on each server (its port and meter), in `rounds` turns; the merged results, per server.

    The calls and servers take turns, so that whatever else the machine does meanwhile weighs on each of them
    alike: the ratios compare calls measured in the same minutes.
    """
    rows = {name: [Result(call.name, 0.0) for call in the_calls] for name in servers}
    for round_number in range(rounds):
        for index, call in enumerate(the_calls):
            for name, (port, meter) in servers.items():
                part = drive(port, call, concurrency=concurrency, seconds=seconds / rounds,
                             max_requests=max_requests // rounds, seed_base=1000 * (round_number + 1) + index,
                             meter=meter)
                rows[name][index].merge(part)
    return rows


# --- report -------------------------------------------------------------------------------------------------------


def report(results: dict[str, list[Result]]) -> None:
    """Print the table and the ratios the issue sets as targets."""
    print()
    print(f"{'cache':<9} {'call':<8} {'requests':>9} {'errors':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'p99/p50':>8}")
    for cache_name, rows in results.items():
        for row in rows:
            p50, p99 = row.percentile(0.50), row.percentile(0.99)
            print(f"{cache_name:<9} {row.name:<8} {len(row.latencies):>9} {row.errors:>7} {row.rps:>8.0f} "
                  f"{p50:>8.2f} {p99:>8.2f} {p99 / p50:>8.2f}")
            if row.errors:
                print(f"{'':<19} statuses: {dict(sorted(row.statuses.items()))}")
    if any(row.cpu for rows in results.values() for row in rows):
        print()
        print("CPU ms a request, by side (gunicorn: master and workers; postgres: the backends of the benchmark's "
              "database; client: the load generator)")
        print(f"{'cache':<9} {'call':<8} " + " ".join(f"{side:>9}" for side in CPU_SIDES) + f" {'total':>9}")
        for cache_name, rows in results.items():
            for row in rows:
                print(f"{cache_name:<9} {row.name:<8} " + " ".join(f"{row.cpu_ms(side):>9.2f}" for side in CPU_SIDES)
                      + f" {sum(row.cpu_ms(side) for side in CPU_SIDES):>9.2f}")
    print()
    for cache_name, rows in results.items():
        by_name = {row.name: row for row in rows}
        get, no_db = by_name["get"], by_name["no-db"]
        share = get.rps / no_db.rps if no_db.rps else 0.0
        worst = max(rows, key=lambda row: row.percentile(0.99) / row.percentile(0.50))
        worst_ratio = worst.percentile(0.99) / worst.percentile(0.50)
        print(f"{cache_name}: get-by-key / no-db throughput = {share:.2f} (target >= 0.50: "
              f"{'met' if share >= 0.5 else 'MISSED'}); worst p99/p50 = {worst_ratio:.2f} ({worst.name}; target < 4: "
              f"{'met' if worst_ratio < 4 else 'MISSED'})")


def main() -> None:
    parser = load_parser(__doc__, tenants=50, contexts=1000, concurrency=8)
    parser.add_argument("--seconds", type=float, default=8.0, help="Measured seconds per call (default 8).")
    parser.add_argument("--rounds", type=int, default=4, help="Turns each call takes, interleaved (default 4).")
    parser.add_argument("--warmup", type=float, default=1.5, help="Unmeasured seconds before each call (default 1.5).")
    parser.add_argument("--max-requests", type=int, default=100_000, help="At most this many per call.")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (default 4).")
    parser.add_argument("--calls", default="no-db,get,list,search,put",
                        help="The calls to measure, comma-separated (default all five; no-db and get are always "
                             "measured, for the ratios).")
    parser.add_argument("--caches", choices=("both", "redis", "database"), default="both",
                        help="Serve with REDIS_URL, with the database cache, or both in turn (default both).")
    args = parser.parse_args()
    require_at_least_one(parser, args, "tenants", "contexts", "concurrency", "max_requests", "workers", "rounds")
    unknown = {name.strip() for name in args.calls.split(",")} - {"no-db", "get", "list", "search", "put"}
    if unknown:
        parser.error(f"--calls: unknown call {sorted(unknown)[0]!r}; the calls are no-db, get, list, search, put")

    prepare_database(server_params(), BENCH_DATABASE)
    started = time.perf_counter()
    print(f"API benchmark: {args.tenants} tenants x {args.contexts} contexts, concurrency {args.concurrency}, "
          f"{args.workers} gunicorn workers, {os.cpu_count()} cores", flush=True)
    tenants = seed(args.tenants, args.contexts)
    print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)

    serve_env = serving_env()
    results: dict[str, list[Result]] = {}
    # Once: the PUTs' versions carry over between modes.
    wanted = {"no-db", "get", *(name.strip() for name in args.calls.split(","))}
    the_calls = [call for call in calls(tenants, args.contexts, args.concurrency) if call.name in wanted]
    with tempfile.TemporaryDirectory(prefix="bench-api-") as scratch:
        scratch_dir = Path(scratch)
        modes = ["redis", "database"] if args.caches == "both" else [args.caches]
        with running_redis(scratch_dir, wanted="redis" in modes) as redis:
            if "redis" in modes and redis is None:
                print("  redis-server is not installed (apt-get install redis-server): measuring the database cache "
                      "only")
                modes.remove("redis")
            for mode in modes:
                env = {**serve_env, **({"REDIS_URL": redis[1]} if mode == "redis" and redis else {})}
                log = scratch_dir / f"gunicorn-{mode}.log"
                with serving(env, args.workers, log, errors_as=f"gunicorn ({mode})") as (gunicorn, port):
                    meter = CpuMeter(gunicorn.pid, redis[0].pid if mode == "redis" and redis else None,
                                     BENCH_DATABASE)
                    warm_up([port], the_calls, concurrency=args.concurrency, seconds=args.warmup,
                            max_requests=args.max_requests)
                    rows = measure_in_rounds({mode: (port, meter)}, the_calls, rounds=args.rounds,
                                             concurrency=args.concurrency, seconds=args.seconds,
                                             max_requests=args.max_requests)[mode]
                    for row in rows:
                        print(f"  {mode:<9} {row.name:<7} {row.rps:>7.0f} req/s", flush=True)
                    results[mode] = rows
    report(results)


if __name__ == "__main__":
    main()
