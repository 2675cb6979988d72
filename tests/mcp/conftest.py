"""Fixtures of the MCP tests: keys, a JSON-RPC client on a tenant's host, the SDK client against a live server."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tenants.api_keys import api_key_create
from tenants.models import ApiKey, Tenant
from tests.conftest import PROJECT_DIR
from tests.live_server import LiveServer, django_db_setup, start_live_server  # noqa: F401  (fixture)

ALL_SCOPES = list(ApiKey.Scope.values)
MODERN = "2026-07-28"
SDK_PYTHON = PROJECT_DIR / ".venv-mcpclient" / "bin" / "python"
SDK_SCRIPT = Path(__file__).resolve().parent / "sdk_client.py"


def new_key(tenant: Tenant, scopes: list[str] | None = None) -> str:
    """Create a key of the tenant; return the secret."""
    return api_key_create(tenant=tenant, name="mcp-tests", scopes=scopes or ALL_SCOPES)[1]


class Mcp:
    """POSTs JSON-RPC to /mcp on one host with one key, in either era."""

    def __init__(self, host: str, key: str | None) -> None:
        self.client = Client(HTTP_HOST=host)
        self.key = key
        self.next_id = 0

    def post(self, body: Any, *, headers: dict[str, str] | None = None, raw: str | None = None,
             content_type: str = "application/json") -> Any:
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in (headers or {}).items()}
        if self.key is not None:
            extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {self.key}")
        data = raw if raw is not None else json.dumps(body)
        return self.client.post("/mcp", data=data, content_type=content_type, **extra)

    def message(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        return message

    def legacy(self, method: str, params: dict[str, Any] | None = None, *, version: str = "2025-11-25") -> Any:
        """A 2025 request, after the handshake: its version in MCP-Protocol-Version."""
        return self.post(self.message(method, params), headers={"MCP-Protocol-Version": version})

    def modern(self, method: str, params: dict[str, Any] | None = None, *, headers: dict[str, str] | None = None,
               meta: dict[str, Any] | None = None) -> Any:
        """A 2026-07-28 request: _meta and the routing headers, which headers may override (None drops one)."""
        params = dict(params or {})
        params["_meta"] = meta if meta is not None else {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "tests", "version": "9.1"},
        }
        routing = {"MCP-Protocol-Version": MODERN, "Mcp-Method": method}
        name = {"tools/call": params.get("name"), "resources/read": params.get("uri")}.get(method)
        if name is not None:
            routing["Mcp-Name"] = name
        routing.update(headers or {})
        return self.post(self.message(method, params),
                         headers={name: value for name, value in routing.items() if value is not None})

    def tool(self, name: str, arguments: dict[str, Any] | None = None, *, era: str = "modern") -> Any:
        params = {"name": name, "arguments": arguments or {}}
        return self.modern("tools/call", params) if era == "modern" else self.legacy("tools/call", params)


def result_of(response: Any) -> dict[str, Any]:
    """The result of a successful JSON-RPC answer."""
    assert response.status_code == 200, (response.status_code, response.content[:500])
    body = response.json()
    assert "result" in body, body
    return body["result"]


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The error object of a JSON-RPC error answered with this HTTP status."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert "error" in body, body
    return body["error"]


def structured(response: Any, *, is_error: bool = False) -> dict[str, Any]:
    """A tool's structuredContent, checked against its text mirror and its isError flag."""
    result = result_of(response)
    assert bool(result.get("isError")) is is_error, result
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
    return result["structuredContent"]


@pytest.fixture
def mcp_for() -> Callable[..., Mcp]:
    """An Mcp client of a tenant with a new key (every scope unless named), on its host unless named."""

    def make(tenant: Tenant, *, scopes: list[str] | None = None, host: str | None = None) -> Mcp:
        return Mcp(host or f"{tenant.slug}.localhost", new_key(tenant, scopes))

    return make


# --- the SDK client against a live server -----------------------------------------------------------------------

def sdk_missing_reason() -> str | None:
    if not SDK_PYTHON.exists():
        return f"the MCP SDK client is not installed in {SDK_PYTHON.parent.parent.name} (make test installs it)"
    return None


@pytest.fixture(scope="module")
def mcp_server(django_db_setup: None, django_db_blocker: Any,  # noqa: F811
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """runserver in a child process against the test database, one per module; skipped without the SDK client."""
    reason = sdk_missing_reason()
    if reason is not None:
        if os.environ.get("REQUIRE_MCP_CLIENT") == "1":
            pytest.fail(f"{reason}; REQUIRE_MCP_CLIENT=1 makes that a failure.", pytrace=False)
        pytest.skip(reason)
    from tenants.services import ensure_public_tenant

    with django_db_blocker.unblock():
        ensure_public_tenant()  # the server answers on the public host once it is up
    with start_live_server(tmp_path_factory.mktemp("mcp-server") / "server.log") as server:
        yield server


@pytest.fixture
def run_sdk(mcp_server: LiveServer, committed: None, tmp_path: Path,
            request: pytest.FixtureRequest) -> Iterator[Callable[..., dict[str, Any]]]:
    """Run a scenario with the SDK client (its own venv, python -P, outside the repository); return its report."""
    log_start = mcp_server.log_path.stat().st_size

    def run(*, host: str, key: str | None, mode: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
        scenario = {"url": mcp_server.url("127.0.0.1", "/mcp"), "host": f"{host}:{mcp_server.port}", "key": key,
                    "mode": mode, "steps": steps}
        completed = subprocess.run([str(SDK_PYTHON), "-P", str(SDK_SCRIPT)], input=json.dumps(scenario),
                                   capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert completed.returncode == 0, completed.stderr[-3000:]
        return json.loads(completed.stdout)

    yield run
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        with mcp_server.log_path.open(errors="replace") as log:
            log.seek(log_start)
            print("--- the server's log during this test:\n" + log.read())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test, so that a fixture can print the server's log when it failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
