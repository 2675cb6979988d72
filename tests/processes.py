"""Child processes that serve something on 127.0.0.1: a free port, waiting until one answers, stopping one.

Used by the test servers (tests/live_server.py, tests/redis_server.py, tests/pgbouncer.py) and by bench/api.py;
it imports neither pytest nor Django, so that the benchmarks can use it too. Each caller turns the two
failures below into its own (pytest.fail, SystemExit …), with its own message.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable


class ProcessExited(Exception):
    """The process ended before it answered."""

    def __init__(self, returncode: int) -> None:
        super().__init__(f"exited with {returncode}")
        self.returncode = returncode


class ProcessSilent(Exception):
    """The process did not answer in time; it has been killed."""


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_ready(ready: Callable[[], bool], process: subprocess.Popen[bytes], *, within: float,
                     poll_every: float) -> None:
    """Poll ready() until it holds, waiting on the process between polls (which also notices it dying).

    Raise ProcessExited if the process ends first, ProcessSilent (after killing it) once `within` seconds pass.
    """
    deadline = time.monotonic() + within
    while not ready():
        try:
            process.wait(timeout=poll_every)
        except subprocess.TimeoutExpired:
            pass
        else:
            raise ProcessExited(process.returncode)
        if time.monotonic() > deadline:
            process.kill()
            raise ProcessSilent(f"did not answer within {within} s")


def stop_process(process: subprocess.Popen[bytes], *, timeout: float = 10) -> None:
    """Terminate the process and reap it; kill it if it has not ended within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
