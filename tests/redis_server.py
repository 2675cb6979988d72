"""A real Redis for the tests that need one: redis-server in a child process on a free port of 127.0.0.1.

Skipped when redis-server is not installed (apt-get install redis-server), and
failed instead with REQUIRE_REDIS=1, as CI sets it. Import the fixtures into a
test module: `from tests.redis_server import redis_caches, redis_url  # noqa: F401`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.processes import ProcessExited, ProcessSilent, free_port, stop_process, wait_until_ready

READY_WITHIN = 10.0  # seconds for redis-server to answer PING
POLL_EVERY = 0.02  # seconds between two PINGs, spent waiting on the process (which also notices it dying)


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start redis-server on a free port, without persistence; return it and its URL once it answers PING."""
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "redis-server is not installed (apt-get install redis-server): the Redis tests need a real one"
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(f"{reason}; REQUIRE_REDIS=1 makes that a failure.", pytrace=False)
        pytest.skip(reason)
    port = free_port()
    log = directory / "redis.log"
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(directory), "--logfile", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)

    def answers_ping() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_until_ready(answers_ping, process, within=READY_WITHIN, poll_every=POLL_EVERY)
    except ProcessExited as exc:
        text = log.read_text() if log.exists() else ""
        pytest.fail(f"redis-server exited with {exc.returncode}:\n{text[-2000:]}", pytrace=False)
    except ProcessSilent:
        pytest.fail(f"redis-server did not answer PING on port {port} within {READY_WITHIN} s.", pytrace=False)
    finally:
        client.close()
    return process, f"redis://127.0.0.1:{port}/0"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a redis-server started for this test run, stopped after it."""
    process, url = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    stop_process(process)


@pytest.fixture
def redis_caches(settings, redis_url: str) -> Iterator[redis.Redis]:
    """Both caches (budgets and lookups) on the test Redis, emptied first; yield a client of that Redis."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    settings.CACHES = {
        alias: {"BACKEND": "mcp.redis_cache.RedisCache", "LOCATION": redis_url,
                "KEY_PREFIX": f"test:{alias}"}
        for alias in ("default", "lookups")
    }
    yield client
    client.flushdb()
    client.close()
