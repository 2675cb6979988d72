"""Profile one get-by-key and one no-database request in process, through the WSGI application gunicorn runs.

    python bench/api_profile.py --setup                 # a fresh mcp_bench_api_profile: 3 tenants x 1,000 contexts
    python bench/api_profile.py                         # time and profile both calls (database cache)
    python bench/api_profile.py --redis                 # the same with REDIS_URL on a redis-server of its own
    python bench/api_profile.py --redis --sort tottime --top 40

Each call is built as gunicorn would hand it to Django (a WSGI environ, the
request_started and request_finished signals, the response closed), with the
settings bench/api.py serves (bench.settings_api, DEBUG off). It prints the CPU
time per request of each call, then cProfile's table for --iterations of each.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.api import SETTINGS, manage, seed, start_redis, stop  # noqa: E402
from bench.migrations import fresh_database, server_params  # noqa: E402

DATABASE = "mcp_bench_api_profile"
BLOCKS = 10
KEYS_FILE = Path(tempfile.gettempdir()) / "mcp_bench_api_profile.json"


def setup(tenant_count: int, context_count: int) -> None:
    """Make the database and its tenants; keep the URL and the keys for the profiling runs."""
    database_url = fresh_database(server_params(), DATABASE)
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": SETTINGS,
           "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    manage(env, "migrate_schemas", "--shared", "-v", "0")
    os.environ.update({name: env[name] for name in ("DATABASE_URL", "DEBUG", "DJANGO_SETTINGS_MODULE", "LOG_LEVEL")})
    tenants = seed(tenant_count, context_count)
    KEYS_FILE.write_text(json.dumps({"database_url": database_url, "contexts": context_count,
                                     "tenants": [[tenant.slug, tenant.raw_key] for tenant in tenants]}))
    print(f"Seeded {DATABASE}: {tenant_count} tenants x {context_count} contexts ({KEYS_FILE})")


def environ(path: str, host: str, raw_key: str | None) -> dict[str, object]:
    """A WSGI environ as gunicorn builds it for a GET."""
    env: dict[str, object] = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": host, "HTTP_ACCEPT": "*/*",
        "HTTP_ACCEPT_ENCODING": "identity", "HTTP_USER_AGENT": "Python-urllib/3.11", "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }
    if raw_key:
        env["HTTP_AUTHORIZATION"] = f"Bearer {raw_key}"
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup", action="store_true", help="Make the database and its tenants, then stop.")
    parser.add_argument("--tenants", type=int, default=3, help="Tenants to seed with --setup (default 3).")
    parser.add_argument("--contexts", type=int, default=1000, help="Contexts per tenant with --setup (default 1000).")
    parser.add_argument("--redis", action="store_true", help="Serve with REDIS_URL on a redis-server of its own.")
    parser.add_argument("--iterations", type=int, default=2000, help="Requests per call (default 2000).")
    parser.add_argument("--sort", default="cumulative", help="cProfile's sort key (default cumulative).")
    parser.add_argument("--top", type=int, default=45, help="Rows of each profile (default 45).")
    parser.add_argument("--no-profile", action="store_true", help="Time only.")
    parser.add_argument("--calls", default="no-db,get", help="Which calls, comma-separated (default no-db,get).")
    args = parser.parse_args()
    if args.setup:
        setup(args.tenants, args.contexts)
        return

    saved = json.loads(KEYS_FILE.read_text())
    os.environ.update({"DATABASE_URL": saved["database_url"], "DEBUG": "false", "DJANGO_SETTINGS_MODULE": SETTINGS,
                       "SECRET_KEY": secrets.token_urlsafe(50), "SECURE_SSL_REDIRECT": "false",
                       "BASE_DOMAIN": "localhost", "SITE_URL": "http://localhost", "LOG_LEVEL": "WARNING"})
    os.environ.pop("REDIS_URL", None)
    scratch = tempfile.TemporaryDirectory(prefix="bench-api-profile-")
    redis = start_redis(Path(scratch.name)) if args.redis else None
    if redis is not None:
        os.environ["REDIS_URL"] = redis[1]
    try:
        from mcp.wsgi import application

        tenants = saved["tenants"]
        rng = random.Random(7)

        def no_db() -> dict[str, object]:
            slug, _ = rng.choice(tenants)
            return environ("/healthz/live", f"{slug}.localhost", None)

        def get() -> dict[str, object]:
            slug, raw_key = rng.choice(tenants)
            return environ(f"/api/v1/contexts/doc/{rng.randint(1, saved['contexts']):06d}", f"{slug}.localhost", raw_key)

        statuses: list[str] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
            statuses.append(status)

        def serve(make: object) -> None:
            response = application(make(), start_response)  # type: ignore[operator]
            b"".join(response)
            response.close()

        calls = {"no-db": no_db, "get": get}
        chosen = [name for name in args.calls.split(",") if name]
        for name in chosen:
            for _ in range(200):  # warm: connections, caches, imports
                serve(calls[name])
            statuses.clear()
            # In blocks, reporting the quickest and the median: other processes on the machine slow some blocks down.
            cpu_times, wall_times = [], []
            for _ in range(BLOCKS):
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(args.iterations // BLOCKS):
                    serve(calls[name])
                cpu_times.append(1000 * (time.process_time() - cpu) / (args.iterations // BLOCKS))
                wall_times.append(1000 * (time.perf_counter() - wall) / (args.iterations // BLOCKS))
            bad = [status for status in statuses if not status.startswith("200")]
            print(f"{name:<6} CPU ms a request: best {min(cpu_times):6.3f} median {statistics.median(cpu_times):6.3f}; "
                  f"wall best {min(wall_times):6.3f} median {statistics.median(wall_times):6.3f}"
                  f"{f'; NOT 200: {bad[:3]}' if bad else ''}", flush=True)
        if args.no_profile:
            return
        for name in chosen:
            # CPU time, not wall time: other processes share the machine, and waits on PostgreSQL or Redis are
            # what the wall-clock figures above add.
            profile = cProfile.Profile(time.process_time)
            profile.enable()
            for _ in range(args.iterations):
                serve(calls[name])
            profile.disable()
            out = io.StringIO()
            pstats.Stats(profile, stream=out).strip_dirs().sort_stats(args.sort).print_stats(args.top)
            print(f"\n===== {name}: {args.iterations} requests =====")
            print(out.getvalue())
    finally:
        if redis is not None:
            stop(redis[0])
        scratch.cleanup()


if __name__ == "__main__":
    main()
