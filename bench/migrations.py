"""Benchmark the migration engine against django-tenants' standard executor and the same SQL sent directly.

    python bench/migrations.py --tenants 300      # default
    python bench/migrations.py --tenants 1000 --stock-creations 5
    python bench/migrations.py --tenants 10000 --no-stock   # django-tenants' executor would take hours there

Everything runs in one go on a fresh database (mcp_bench, dropped and created
on the server of DATABASE_URL, or the embedded one), so the three columns are
measured on the same machine in the same minute: compare ratios, not
absolute times. Commands are run as an operator runs them, in a child process
(Python start-up included), and their peak memory is read from the kernel.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
BENCH_DATABASE = "mcp_bench"
ADD_FIELD_SETTINGS = "bench.settings_add_field"


# --- set-up -------------------------------------------------------------------------


def server_params() -> dict[str, str]:
    """Where the server is: DATABASE_URL's, or the embedded one (started if needed)."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        import dj_database_url

        db = dj_database_url.parse(url)
        return {"host": db["HOST"] or "localhost", "port": str(db["PORT"] or 5432), "user": db["USER"] or "postgres",
                "password": db["PASSWORD"] or ""}
    from mcp.embedded_postgres import embedded_database

    db = embedded_database(PROJECT_DIR / ".data" / "postgres")
    return {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "password": ""}


def fresh_database(server: dict[str, str], name: str = BENCH_DATABASE, *, reuse: bool = False) -> str:
    """Drop and create a bench database (mcp_bench unless named), or keep it if reuse; return a DATABASE_URL for it."""
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", **server)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not (reuse and cursor.fetchone()):
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            cursor.execute(f"CREATE DATABASE {name}")
    conn.close()
    host = quote(server["host"], safe="") if server["host"].startswith("/") else server["host"]
    auth = server["user"] + (f":{quote(server['password'], safe='')}" if server["password"] else "")
    return f"postgres://{auth}@{host}:{server['port']}/{name}"


def manage(*args: str) -> None:
    """Run manage.py in a child process; stop the benchmark if it fails."""
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT_DIR, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-2000:]}")


@dataclass
class ChildRun:
    seconds: float  # wall time of the whole command, Python start-up included
    peak_mib: float  # the child's own peak resident memory, from wait4
    engine_seconds: float | None  # the time the command reports for the migration work itself


def run_child(*args: str, settings: str = "mcp.settings", check: bool = True) -> ChildRun:
    """Run manage.py as a child process (its output to a file) and measure it."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings}
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # the child becomes manage.py
            os.dup2(output.fileno(), 1)
            os.chdir(PROJECT_DIR)
            os.execve(sys.executable, [sys.executable, "manage.py", *args], env)
        _, status, usage = os.wait4(pid, 0)
        elapsed = time.perf_counter() - started
        output.seek(0)
        stdout = output.read().decode()
    if check and os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed (exit {os.waitstatus_to_exitcode(status)})")
    engine = re.search(r"failed in (\d+\.\d+) s\.", stdout)
    return ChildRun(elapsed, usage.ru_maxrss / 1024, float(engine.group(1)) if engine else None)


# --- measurements -------------------------------------------------------------------


def median_ms(samples: list[float]) -> float | None:
    return statistics.median(samples) * 1000 if samples else None


def p99_ms(samples: list[float]) -> float | None:
    """The 99th percentile (nearest rank): the largest sample below 100 of them."""
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[max(0, -(-99 * len(ordered) // 100) - 1)] * 1000


# In the names of the tenants and schemas a run creates to time creation: a run with --reuse makes new ones.
RUN = secrets.token_hex(2)


def measure_creation(count: int, stock_count: int, pool_count: int) -> dict[str, float]:
    """Median time to create one tenant schema, each way (and the p99 from the pool), among the tenants there are."""
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.clone import CloneSchema

    from tenants.engine.applied_migrations import drop_statements, view_statements
    from tenants.engine.pool import pool_provision
    from tenants.engine.template import SCHEMA_PLACEHOLDER, code_fingerprint
    from tenants.models import TenantSchemaScript
    from tenants.services import tenant_create

    # Replay and the same DDL sent directly, alternately: both meet the same load and the same catalog.
    script = TenantSchemaScript.objects.get(fingerprint=code_fingerprint())
    rows = ", ".join(f"('{app}', '{name}', now())" for app, name in script.migrations)
    with connection.cursor() as cursor:
        raw = cursor.cursor.connection
    ours, direct = [], []
    for n in range(count):
        started = time.perf_counter()
        tenant_create(slug=f"create-{RUN}-{n}", name=f"Create {n}")
        ours.append(time.perf_counter() - started)
        schema = f'"direct_{RUN}_{n}"'
        view = "".join(f"{statement};\n" for statement in view_statements(f"direct_{RUN}_{n}"))
        sql = (f"BEGIN; CREATE SCHEMA {schema}; {view}SET LOCAL search_path = {schema}, public;\n"
               f"{script.sql.replace(SCHEMA_PLACEHOLDER, schema)}"
               f"INSERT INTO django_migrations (app, name, applied) VALUES {rows}; COMMIT;")
        started = time.perf_counter()
        with raw.cursor() as raw_cursor:
            raw_cursor.execute(sql)
        direct.append(time.perf_counter() - started)

    pool_provision(count=pool_count)
    # A pool is topped up ahead of the signups that claim from it (a cron job), not just before: the claims are
    # timed once the disk has written out what provisioning dirtied, as they would meet it.
    with raw.cursor() as raw_cursor:
        raw_cursor.execute("CHECKPOINT")
    # Beside each creation from the pool, the floor any durable write pays here: one row, committed (the
    # wait for the WAL to reach the disk), on the same connection.
    with raw.cursor() as raw_cursor:
        raw_cursor.execute("CREATE TABLE bench_commit (id serial PRIMARY KEY); COMMIT")
    pooled, commits = [], []
    for n in range(pool_count):
        started = time.perf_counter()
        tenant_create(slug=f"pooled-{RUN}-{n}", name=f"Pooled {n}")
        pooled.append(time.perf_counter() - started)
        started = time.perf_counter()
        with raw.cursor() as raw_cursor:
            raw_cursor.execute("BEGIN; INSERT INTO bench_commit DEFAULT VALUES; COMMIT")
        commits.append(time.perf_counter() - started)
    with raw.cursor() as raw_cursor:
        raw_cursor.execute("DROP TABLE bench_commit; COMMIT")

    stock = []
    for n in range(stock_count):
        schema = f"stock_{RUN}_{n}"
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{schema}"')
        call_command("migrate_schemas", tenant=True, schema_name=schema, executor="standard",
                     interactive=False, verbosity=0, lock_wait=10)
        stock.append(time.perf_counter() - started)

    clone = []
    source = tenant_schemas()[0]  # the first tenant populate() made
    for n in range(stock_count):
        schema = f"clone_{RUN}_{n}"
        started = time.perf_counter()
        CloneSchema().clone_schema(source, schema, "NODATA")
        # clone_schema copies the django_migrations view without its column default: made again as creation does.
        with connection.cursor() as cursor:
            cursor.execute(f'DROP VIEW "{schema}".django_migrations; ' + "; ".join(view_statements(schema)))
        call_command("migrate_schemas", tenant=True, schema_name=schema, executor="standard", fake=True,
                     interactive=False, verbosity=0, lock_wait=10)
        clone.append(time.perf_counter() - started)

    with connection.cursor() as cursor:
        for prefix, n in (("direct", count), ("stock", stock_count), ("clone", stock_count)):
            for i in range(n):
                for statement in drop_statements(f"{prefix}_{RUN}_{i}"):
                    cursor.execute(statement)
    return {"ours": median_ms(ours), "pooled": median_ms(pooled), "pooled_p99": p99_ms(pooled),
            "commit": median_ms(commits), "commit_p99": p99_ms(commits),
            "direct": median_ms(direct), "stock": median_ms(stock), "clone": median_ms(clone)}


def populate(count: int) -> tuple[float, float]:
    """Create tenants until there are `count` (besides public); return the first creation's ms and seconds taken.

    The first creation builds the tenant template. The rest commit asynchronously: setting up is not
    what is measured, and at 10,000 tenants waiting for each commit's flush would take minutes.
    """
    from django.db import connection

    from tenants.models import Tenant
    from tenants.services import tenant_create

    existing = Tenant.objects.exclude(schema_name="public").count()
    started = time.perf_counter()
    tenant_create(slug=f"t{existing:05d}", name=f"Tenant {existing}")  # builds and stores the template
    first = (time.perf_counter() - started) * 1000
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    for n in range(existing + 1, count):
        tenant_create(slug=f"t{n:05d}", name=f"Tenant {n}")
        if n % 1000 == 0:
            print(f"    {n} tenants, {time.perf_counter() - started:.0f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("RESET synchronous_commit")
    return first, time.perf_counter() - started


def tenant_schemas() -> list[str]:
    from tenants.models import Tenant

    return list(Tenant.objects.exclude(schema_name="public").order_by("schema_name").values_list("schema_name", flat=True))


def direct_noop() -> float:
    """The SQL floor of a no-op run: read every schema's applied migrations once."""
    from django.db import connection

    from tenants.engine.schema_state import read_schema_states

    schemas = tenant_schemas()
    connection.close()
    started = time.perf_counter()
    read_schema_states(schemas)
    return time.perf_counter() - started


# Schemas per transaction in the one-transaction SQL: an ALTER TABLE holds its table's lock to the end of the
# transaction, and the server's lock table (max_locks_per_transaction 64 × 100 connections) holds about 6,400.
SCHEMAS_PER_TRANSACTION = 2000


def direct_one_transaction(statements: str) -> float:
    """Send the same statements to every tenant schema in one transaction (one per 2,000 schemas), one round trip each."""
    from django.db import connection

    schemas = tenant_schemas()
    with connection.cursor() as cursor:
        raw = cursor.cursor.connection
    started = time.perf_counter()
    with raw.cursor() as cursor:
        for start in range(0, len(schemas), SCHEMAS_PER_TRANSACTION):
            cursor.execute("BEGIN")
            for schema in schemas[start:start + SCHEMAS_PER_TRANSACTION]:
                cursor.execute(f'SET LOCAL search_path = "{schema}", public; {statements}')
            cursor.execute("COMMIT")
    return time.perf_counter() - started


# The catalogs every tenant schema's DDL writes to. At 10,000 tenants each migration leaves tens of thousands of dead
# rows there, and autovacuum then works on them (about 2 million rows of pg_attribute) for a minute or more, in
# the middle of whatever is timed next: the same work measured 2-3x slower in one run than in the next.
BUSY_CATALOGS = ("pg_attribute", "pg_class", "pg_depend", "pg_type", "pg_attrdef", "pg_constraint", "pg_index",
                 "pg_rewrite", "pg_namespace")


def settle_catalogs() -> None:
    """Vacuum and analyze the catalogs now, so that autovacuum has nothing left to do during the next measurement."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) " + ", ".join(f"pg_catalog.{table}" for table in BUSY_CATALOGS))


def median_child(runs: int, *args: str, settings: str = "mcp.settings") -> ChildRun:
    """The run of median wall time among `runs` runs of a command that changes nothing."""
    children = sorted((run_child(*args, settings=settings) for _ in range(runs)), key=lambda run: run.seconds)
    return children[len(children) // 2]


def admin_tenant_list() -> tuple[int, float, float, bool]:
    """The platform admin's tenant list, twice in process: queries of the second, ms of each, and whether the
    second rebuilt the migration graph or hashed migration files."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from tenants.engine import graph as migration_graphs
    from tenants.engine import template
    from tenants.models import User

    setup_test_environment()
    User.objects.filter(email="bench@platform.test").delete()
    user = User.objects.create_superuser("bench@platform.test", "bench-password")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    started = time.perf_counter()
    assert client.get("/admin/tenants/tenant/").status_code == 200
    first = time.perf_counter() - started
    builds: list[str] = []
    # The function that reads and hashes the migration files (graph_fingerprint itself before it kept its result).
    hasher = "_hash_migration_files" if hasattr(template, "_hash_migration_files") else "graph_fingerprint"
    loader_init, hash_files = migration_graphs.MigrationLoader.__init__, getattr(template, hasher)
    migration_graphs.MigrationLoader.__init__ = lambda self, *a, **k: (builds.append("graph"), loader_init(self, *a, **k))[1]
    setattr(template, hasher, lambda graph: (builds.append("hash"), hash_files(graph))[1])
    try:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            assert client.get("/admin/tenants/tenant/").status_code == 200
            second = time.perf_counter() - started
    finally:
        migration_graphs.MigrationLoader.__init__ = loader_init
        setattr(template, hasher, hash_files)
    return len(queries), first * 1000, second * 1000, bool(builds)


def direct_each_schema(statements: str) -> float:
    """Send the same statements to every tenant schema, one transaction each, on one connection."""
    from django.db import connection

    schemas = tenant_schemas()
    with connection.cursor() as cursor:
        raw = cursor.cursor.connection
    started = time.perf_counter()
    with raw.cursor() as cursor:
        for schema in schemas:
            cursor.execute(f'BEGIN; SET LOCAL search_path = "{schema}", public; {statements} COMMIT;')
    return time.perf_counter() - started


ADD_FIELD_SQL = ('ALTER TABLE "contexts" ADD COLUMN "note" text NULL; INSERT INTO django_migrations (app, name, applied) '
                 "VALUES ('contexts', '0002_context_note', now());")
DROP_FIELD_SQL = ('ALTER TABLE "contexts" DROP COLUMN "note" CASCADE; DELETE FROM django_migrations '
                  "WHERE app = 'contexts' AND name = '0002_context_note';")


# --- report ---------------------------------------------------------------------------


def ratio(slow: float | None, fast: float | None) -> str:
    if not slow or not fast:
        return "-"
    return f"{slow / fast:.1f}x"


def milliseconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def seconds(value: float | None) -> str:
    return "-" if value is None else (f"{value:.2f} s" if value >= 1 else f"{value * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=300, help="How many tenants (default 300).")
    parser.add_argument("--creations", type=int, default=30, help="Tenants created to time creation (default 30).")
    parser.add_argument("--stock-creations", type=int, default=10, help="Stock creations timed (default 10).")
    parser.add_argument("--pool-creations", type=int, default=200,
                        help="Tenants created from the pool, for the median and p99 (default 200).")
    parser.add_argument("--no-stock", action="store_true", help="Skip django-tenants' standard executor runs.")
    parser.add_argument("--database", default=BENCH_DATABASE, help=f"The database to (re)create (default {BENCH_DATABASE}).")
    parser.add_argument("--reuse", action="store_true",
                        help="Keep the database of an earlier run and top it up to --tenants (creating 10,000 takes "
                             "about 11 minutes here); its tenants are first migrated to the code's migrations.")
    args = parser.parse_args()

    os.environ.setdefault("DEBUG", "true")
    server = server_params()
    os.environ["DATABASE_URL"] = fresh_database(server, args.database, reuse=args.reuse)
    os.environ["DJANGO_SETTINGS_MODULE"] = "mcp.settings"
    manage("migrate_schemas", "--shared", "-v", "0")
    if args.reuse:
        manage("migrate_schemas", "--tenant", "-v", "0")

    import django

    django.setup()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    print(f"Migration engine benchmark: {args.tenants} tenants, PostgreSQL {version}, {os.cpu_count()} cores", flush=True)

    first_ms, populate_s = populate(args.tenants)
    print(f"  populated {args.tenants} tenants in {populate_s:.1f} s", flush=True)
    settle_catalogs()
    creation = measure_creation(args.creations, 0 if args.no_stock else args.stock_creations, args.pool_creations)
    creation["first"] = first_ms
    print(f"  creation measured ({args.creations} tenants, {args.pool_creations} from the pool)", flush=True)
    admin_queries, admin_first_ms, admin_second_ms, admin_rebuilds = admin_tenant_list()
    connection.close()

    stock = not args.no_stock
    runs: dict[str, tuple[ChildRun, ChildRun | None, float]] = {}
    settle_catalogs()
    check = median_child(3, "check")
    status = median_child(3, "migration_status")
    noop = median_child(3, "migrate_schemas", "--tenant")
    stock_noop = run_child("migrate_schemas", "--tenant", "--executor", "standard", "-v", "0") if stock else None
    runs["no-op run"] = (noop, stock_noop, direct_noop())
    connection.close()
    print("  no-op measured", flush=True)

    settle_catalogs()
    apply = run_child("migrate_schemas", "--tenant", settings=ADD_FIELD_SETTINGS)
    # Back to the migration before the AddField (the last real one), as the SQL it is compared with does. (Until
    # this was fixed it went back to 0001: four more migrations than the SQL, through Django in every schema.)
    from tests.fleet_migrations import LATEST_REAL

    settle_catalogs()
    back = run_child("migrate_schemas", "--tenant", *LATEST_REAL, settings=ADD_FIELD_SETTINGS)
    stock_apply = stock_back = None
    if stock:
        settle_catalogs()
        stock_apply = run_child("migrate_schemas", "--tenant", "--executor", "standard", "-v", "0",
                                settings=ADD_FIELD_SETTINGS)
        settle_catalogs()
        stock_back = run_child("migrate_schemas", "--tenant", "--executor", "standard", *LATEST_REAL, "-v", "0",
                               settings=ADD_FIELD_SETTINGS)
    settle_catalogs()
    apply_each = direct_each_schema(ADD_FIELD_SQL)
    settle_catalogs()
    runs["apply one AddField"] = (apply, stock_apply, apply_each)
    runs["roll it back"] = (back, stock_back, direct_each_schema(DROP_FIELD_SQL))
    # The same statements in one transaction: the floor item 2 of the engine issue measures a run against.
    settle_catalogs()
    apply_one = direct_one_transaction(ADD_FIELD_SQL)
    settle_catalogs()
    back_one = direct_one_transaction(DROP_FIELD_SQL)

    print()
    print(f"| work, {args.tenants} tenants | this project: command | this project: engine | "
          "django-tenants standard | same SQL, one connection | standard / command | engine / SQL |")
    print("|---|---|---|---|---|---|---|")
    ms = creation
    print(f"| create one tenant, template replay (median of {args.creations}) | {ms['ours']:.1f} ms | {ms['ours']:.1f} ms | "
          f"{milliseconds(ms['stock'])} | {ms['direct']:.1f} ms | {ratio(ms['stock'], ms['ours'])} | "
          f"{ratio(ms['ours'], ms['direct'])} |")
    print(f"| create one tenant from the pool (median of {args.pool_creations}) | {ms['pooled']:.1f} ms | "
          f"{ms['pooled']:.1f} ms | - | {ms['direct']:.1f} ms | {ratio(ms['stock'], ms['pooled'])} | "
          f"{ratio(ms['pooled'], ms['direct'])} |")
    print(f"| create one tenant from the pool, p99 of {args.pool_creations} | {ms['pooled_p99']:.1f} ms | - | - | - | - "
          "| - |")
    print(f"| commit one row, median / p99 (the floor of any durable write) | {ms['commit']:.1f} / "
          f"{ms['commit_p99']:.1f} ms | - | - | - | - | - |")
    print(f"| create one tenant, django-tenants clone_schema + fake migrate | - | - | {milliseconds(ms['clone'])} "
          "| - | - | - |")
    print(f"| first creation after the migrations change (builds the template) | {ms['first']:.0f} ms | - | - | - "
          "| - | - |")
    for work, (ours, standard, direct) in runs.items():
        stock_s = standard.seconds if standard else None
        print(f"| {work} | {seconds(ours.seconds)} | {seconds(ours.engine_seconds)} | {seconds(stock_s)} | "
              f"{seconds(direct)} | {ratio(stock_s, ours.seconds)} | {ratio(ours.engine_seconds, direct)} |")
    stock_mib = max(r.peak_mib for r in (stock_noop, stock_apply) if r) if stock else None
    print(f"| peak memory, no-op / apply | {noop.peak_mib:.0f} / {apply.peak_mib:.0f} MiB | - | "
          f"{'-' if stock_mib is None else f'{stock_mib:.0f} MiB'} | - | - | - |")
    print(f"| manage.py check (median of 3) | {seconds(check.seconds)} | - | - | - | - | - |")
    print(f"| manage.py migration_status (median of 3) | {seconds(status.seconds)} | "
          f"{seconds(status.seconds - check.seconds)} beyond check | - | - | - | - |")
    print(f"| admin tenant list, 2nd request (1st) | {admin_second_ms:.0f} ms ({admin_first_ms:.0f} ms) | "
          f"{admin_queries} queries, graph built or files hashed: {'yes' if admin_rebuilds else 'no'} | - | - | - | - |")
    print()
    print(f"| item 2, {args.tenants} tenants | command | command - check | same SQL, one transaction | "
          "(command - check) / SQL |")
    print("|---|---|---|---|---|")
    for work, (ours, _, _), one in (("no-op run", runs["no-op run"], runs["no-op run"][2]),
                                    ("apply one AddField", runs["apply one AddField"], apply_one),
                                    ("roll it back", runs["roll it back"], back_one)):
        beyond = ours.seconds - check.seconds
        print(f"| {work} | {seconds(ours.seconds)} | {seconds(beyond)} | {seconds(one)} | {ratio(beyond, one)} |")
    print(f"| no-op run / manage.py check | {ratio(noop.seconds, check.seconds)} | - | - | - |")
    print()
    print("command: wall time of manage.py in a child process, Python and Django start-up included (no-op run, check "
          "and migration_status: the median of 3). engine: the time the command reports for the work itself. "
          f"Creation is timed in-process, among the {args.tenants} tenants. The one-transaction SQL sends each schema's "
          f"statements in a round trip of its own, {SCHEMAS_PER_TRANSACTION:,} schemas a transaction (the server's "
          "lock table holds about 6,400 locks); for the no-op run it is the two queries that read every schema's state. "
          "The catalogs are vacuumed before each measurement (settle_catalogs)."
          + (" django-tenants' standard executor skipped (--no-stock): at this size it would take hours." if not stock
             else ""))


if __name__ == "__main__":
    main()
