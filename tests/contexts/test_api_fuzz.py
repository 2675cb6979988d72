"""schemathesis against a live server: no 5xx, and no answer that the OpenAPI document does not describe.

The server runs in a child process on the test database (committed data), with
a tenant of its own whose key has every scope. schemathesis reads the document
the server serves and sends what it describes, and what it does not (negative
cases), through every phase: the document's examples, boundary values, random
data and stateful sequences (create, then read, change and delete what was
created). Each answer must be no server error and must match the document: its
status, media type, headers and body. Bounded by examples per operation, so
that it takes well under a minute; a fixed seed makes a run repeatable
(SCHEMATHESIS_SEED picks another, SCHEMATHESIS_EXAMPLES more cases).
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from contexts import services, summaries
from contexts.api.schema import EXAMPLE_KEY
from tenants.api_keys import api_key_create
from tenants.models import ApiKey
from tenants.services import tenant_create
from tests.live_server import django_db_setup, start_live_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.schemathesis

HOST = "fuzz.localhost"
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
])
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261201")
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "15")


@pytest.fixture
def fuzz_key(committed: None) -> str:
    """A tenant of its own (the largest plan), the document's example context with versions and summaries,
    and a key with every scope; committed, for the server in the child process."""
    tenant, _ = tenant_create(slug="fuzz", name="Fuzz", domain=HOST, plan="enterprise")
    with tenant_context(tenant):
        context = services.context_create(key=EXAMPLE_KEY, title="Notes", content="first\nline", tags=["plans"],
                                          metadata={"team": "ops"})
        services.context_patch(key=EXAMPLE_KEY, changes={"content": "second\nline", "tags": ["plans", "q1"]},
                               expected_version=1)
        summaries.summary_request(context=context)
        failed = summaries.summary_request(context=context, max_attempts=1)
        summaries.summary_failed(summary=failed, error="The summarizer timed out.")
    _, raw_key = api_key_create(tenant=tenant, name="schemathesis", scopes=list(ApiKey.Scope.values))
    return raw_key


def _get(port: int, path: str, host: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@contextmanager
def live_server(log_path: Path) -> Iterator[int]:
    """gunicorn in a child process, as production runs (DEBUG off), on the test database; yield its port.

    Not runserver: it keeps connections alive and answers each request on them some 40 ms late (delayed
    ACKs), which would triple the run's time.
    """
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.contexts.fuzz_server_settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP on the loopback; production sits behind a TLS proxy
        "ALLOWED_HOSTS": "localhost,.localhost,127.0.0.1",
    }
    # No limit on the request line: the one a deployment sets (gunicorn's 4 KiB, a proxy's) answers 414 in
    # its own HTML before the API sees the request; what is tested is the API's answer.
    with start_live_server(log_path, env=env, server="gunicorn", gunicorn_args=(
        "--access-logfile", "-", "--limit-request-line", "0",
    )) as server:
        yield server.port


@pytest.mark.timeout(240)
def test_schemathesis_finds_no_server_error_and_no_answer_the_schema_does_not_describe(
    fuzz_key: str, tmp_path: Path
) -> None:
    with live_server(tmp_path / "server.log") as port:
        # The document as a client gets it: from the tenant's host, without a key.
        status, document = _get(port, "/api/schema/?format=json", HOST)
        assert status == 200, document[:500]
        schema_path = tmp_path / "openapi.json"
        schema_path.write_bytes(document)
        assert json.loads(document)["openapi"] == "3.1.0"

        # Names under .localhost need not resolve outside browsers: connect to 127.0.0.1 and name the host.
        result = subprocess.run(
            [str(Path(sys.executable).with_name("st")), "run", str(schema_path),
             "--url", f"http://127.0.0.1:{port}", "-H", f"Host: {HOST}", "-H", f"Authorization: Bearer {fuzz_key}",
             # One worker: schemathesis's threads can trip CPython 3.11's ast.parse ("AST constructor recursion
             # depth mismatch"), which it reports as an error of the run.
             "--checks", CHECKS, "--max-examples", MAX_EXAMPLES, "--seed", SEED, "--workers", "1",
             "--request-timeout", "30", "--suppress-health-check", "all"],
            cwd=tmp_path, capture_output=True, text=True, timeout=200, env={**os.environ, "NO_COLOR": "1"},
        )
    print(result.stdout[-4000:])  # the summary: phases, cases generated, time (shown with -s or on failure)
    server_log = (tmp_path / "server.log").read_text(errors="replace")
    assert result.returncode == 0, (
        f"schemathesis found problems (seed {SEED}):\n{result.stdout[-25000:]}\n{result.stderr[-3000:]}\n"
        f"--- server log (tracebacks):\n{_tracebacks(server_log)}"
    )
    assert "Traceback" not in server_log, _tracebacks(server_log)


def _tracebacks(log: str) -> str:
    """The server log's tracebacks (the lines from each 'Traceback' to the next request line), at most 8000 chars."""
    keep, out = False, []
    for line in log.splitlines():
        if line.startswith("Traceback"):
            keep = True
        elif line.startswith(("[", "INFO", "WARNING")) and keep and not line.startswith(" "):
            keep = False
        if keep or "ERROR" in line:
            out.append(line)
    return "\n".join(out)[-8000:]
