"""A real PgBouncer for the tests that need one: Debian's pgbouncer in a child process, in front of the test database.

run_pgbouncer writes its own configuration in a scratch directory (its own
port on 127.0.0.1, auth_type trust with an auth file, the pool mode and size
asked for) and returns once it accepts a login; bench/pooling.py uses it too.
start_pgbouncer, for tests, skips when pgbouncer is not installed (apt-get
install pgbouncer), and fails instead with REQUIRE_PGBOUNCER=1, as CI sets it.
PgBouncer refuses to run as root; as root it is started with `-u nobody`,
which is why its directory is world-readable and why it reaches PostgreSQL
over TCP (a Unix socket in a private directory would be out of nobody's
reach): tests on such a database are skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg2
import pytest

from tests.processes import ProcessExited, ProcessSilent, free_port, stop_process, wait_until_ready

READY_WITHIN = 10.0  # seconds for pgbouncer to accept a login
POLL_EVERY = 0.02  # seconds between two attempts, spent waiting on the process (which also notices it dying)


@dataclass(frozen=True)
class Bouncer:
    """A running pgbouncer: where it listens, and the URL of the database behind it."""

    port: int
    database_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class PgBouncerUnavailable(Exception):
    """pgbouncer cannot be started here (not installed, or the database is out of its reach)."""


class PgBouncerFailed(Exception):
    """pgbouncer started but exited, or never accepted a login."""


@contextmanager
def start_pgbouncer(database: dict[str, str], *, pool_mode: str = "transaction", pool_size: int = 2) -> Iterator[Bouncer]:
    """run_pgbouncer for a test: skipped where it cannot run (failed with REQUIRE_PGBOUNCER=1), failed if it dies."""
    try:
        with run_pgbouncer(database, pool_mode=pool_mode, pool_size=pool_size) as bouncer:
            yield bouncer
    except PgBouncerUnavailable as exc:
        if os.environ.get("REQUIRE_PGBOUNCER") == "1":
            pytest.fail(f"{exc}; REQUIRE_PGBOUNCER=1 makes that a failure.", pytrace=False)
        pytest.skip(str(exc))
    except PgBouncerFailed as exc:
        pytest.fail(str(exc), pytrace=False)


@contextmanager
def run_pgbouncer(database: dict[str, str], *, pool_mode: str = "transaction", pool_size: int = 2) -> Iterator[Bouncer]:
    """Run pgbouncer in front of the database (Django's settings_dict fields) until the block ends."""
    binary = shutil.which("pgbouncer") or next(
        (path for path in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(path, os.X_OK)), None
    )
    if binary is None:
        raise PgBouncerUnavailable("pgbouncer is not installed (apt-get install pgbouncer): the pooling tests need it")
    host = database["HOST"] or "127.0.0.1"
    if host.startswith("/"):
        raise PgBouncerUnavailable(f"the database is on a Unix socket ({host}); PgBouncer here needs it over TCP")
    user = database["USER"] or "postgres"
    directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    directory.chmod(0o777)  # read (and logged to) by nobody when we are root
    port = free_port()
    log_path = directory / "pgbouncer.log"
    auth_file = directory / "users.txt"
    auth_file.write_text(f'"{user}" "{database["PASSWORD"] or ""}"\n')
    config = directory / "pgbouncer.ini"
    config.write_text(
        "[databases]\n"
        f"{database['NAME']} = host={host} port={database['PORT'] or 5432} dbname={database['NAME']}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {auth_file}\n"
        f"pool_mode = {pool_mode}\ndefault_pool_size = {pool_size}\nmax_client_conn = 500\n"
        # Django's psycopg2 connections send none of these, but a client that does must not be refused.
        "ignore_startup_parameters = extra_float_digits,options\n"
        f"logfile = {log_path}\npidfile = {directory / 'pgbouncer.pid'}\n"
    )
    for path in (auth_file, config):
        path.chmod(0o644)
    command = [binary, "-q", *(["-u", "nobody"] if os.geteuid() == 0 else []), str(config)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    auth = quote(user, safe="") + (":" + quote(database["PASSWORD"], safe="") if database["PASSWORD"] else "")
    bouncer = Bouncer(port=port, database_url=f"postgres://{auth}@127.0.0.1:{port}/{database['NAME']}",
                      log_path=log_path)
    try:
        _wait_for_login(bouncer, process, user, database)
        yield bouncer
    finally:
        stop_process(process)
        shutil.rmtree(directory, ignore_errors=True)


def _wait_for_login(bouncer: Bouncer, process: subprocess.Popen[bytes], user: str, database: dict[str, str]) -> None:
    def accepts_login() -> bool:
        try:
            psycopg2.connect(host="127.0.0.1", port=bouncer.port, user=user, password=database["PASSWORD"] or None,
                             dbname=database["NAME"], connect_timeout=1).close()
        except psycopg2.OperationalError:
            return False
        return True

    try:
        wait_until_ready(accepts_login, process, within=READY_WITHIN, poll_every=POLL_EVERY)
    except ProcessExited as exc:
        raise PgBouncerFailed(f"pgbouncer exited with {exc.returncode}:\n{bouncer.log()[-2000:]}") from None
    except ProcessSilent:
        raise PgBouncerFailed(
            f"pgbouncer did not accept a login within {READY_WITHIN} s:\n{bouncer.log()[-2000:]}") from None
