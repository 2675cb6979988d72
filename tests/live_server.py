"""A real server in a child process against the test database, for tests that drive it from outside.

start_live_server runs manage.py runserver (or gunicorn) on a free port of
127.0.0.1 and waits, with a deadline, until it answers; the test's data must be
committed (the `committed` fixture) for the child to see it. Import the
django_db_setup fixture into a conftest whose tests use only committed data,
so that the test database exists even when no test of the run asks for `db`.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_DIR, child_database_url
from tests.processes import ProcessExited, ProcessSilent, free_port, stop_process, wait_until_ready

START_DEADLINE = 30.0  # seconds for the server to answer
POLL_EVERY = 0.05  # seconds between two probes, spent waiting on the process (which also notices it dying)


@dataclass(frozen=True)
class LiveServer:
    """The child process's server: its port, and where it logs."""

    port: int
    log_path: Path

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def answers(port: int, path: str = "/healthz/live", host: str = "localhost") -> bool:
    """Return whether the server on this port answers 200 at path."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", path, headers={"Host": host})
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@contextmanager
def start_live_server(log_path: Path, *, env: dict[str, str] | None = None, server: str = "runserver",
                      workers: int = 2, gunicorn_args: tuple[str, ...] = ()) -> Iterator[LiveServer]:
    """Serve the project in a child process against the test database until the block ends.

    server is "runserver" (threaded, as `make run` serves) or "gunicorn" (sync workers, as production does);
    env overrides the child's environment (another settings module, DEBUG off …).
    """
    port = free_port()
    child_env = {
        **os.environ,
        "DATABASE_URL": child_database_url(),
        "DEBUG": "true",
        "BASE_DOMAIN": "localhost",
        "SITE_URL": f"http://localhost:{port}",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    child_env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    if server == "gunicorn":
        command = [sys.executable, "-m", "gunicorn", "mcp.wsgi", "--bind", f"127.0.0.1:{port}", "--workers",
                   str(workers), "--worker-class", "sync", "--timeout", "60", "--log-level", "warning", *gunicorn_args]
    else:
        command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=PROJECT_DIR, env=child_env, stdout=log, stderr=subprocess.STDOUT)
    live = LiveServer(port=port, log_path=log_path)
    try:
        try:
            wait_until_ready(lambda: answers(port), process, within=START_DEADLINE, poll_every=POLL_EVERY)
        except ProcessExited as exc:
            pytest.fail(f"The server exited with {exc.returncode} before answering:\n{live.log()}")
        except ProcessSilent:
            pytest.fail(f"The server did not answer within {START_DEADLINE:.0f} s:\n{live.log()}")
        yield live
    finally:
        stop_process(process)


@pytest.fixture(scope="session")
def django_db_setup(
    django_db_setup: None, django_db_blocker: Any, django_db_keepdb: bool, request: pytest.FixtureRequest
) -> Iterator[None]:
    """Create the test database even when no test of the run asks for `db` (tests of committed data only)."""
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.fixtures import _get_databases_for_setup

    aliases, _ = _get_databases_for_setup(request.session.items)
    if "default" in aliases:  # already made for the other tests of this run
        yield
        return
    with django_db_blocker.unblock():
        created = setup_databases(verbosity=0, interactive=False, keepdb=django_db_keepdb, aliases={"default"})
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            teardown_databases(created, verbosity=0)
