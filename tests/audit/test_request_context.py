"""Request ids: accepted when well-formed, replaced when not, generated, echoed, in log lines and audit entries."""

import json
import logging
import re
from io import StringIO

import pytest

from audit.logging import JsonLogFormatter, RequestContextFilter
from audit.models import AuditLog
from tests.conftest import host_client

GENERATED = re.compile(r"[0-9a-f]{32}")


def test_a_well_formed_request_id_is_accepted_and_echoed(acme):
    response = host_client("acme.localhost").get("/healthz", HTTP_X_REQUEST_ID="trace-42.abc:7")
    assert response["X-Request-ID"] == "trace-42.abc:7"


@pytest.mark.parametrize("bad", ["has space", "quote'", "x" * 129, "semi;colon", "new\nline", ""])
def test_a_malformed_request_id_is_replaced_not_trusted(acme, bad):
    response = host_client("acme.localhost").get("/healthz", HTTP_X_REQUEST_ID=bad)
    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_a_request_without_an_id_gets_a_new_one_each_time(acme):
    client = host_client("acme.localhost")
    first, second = client.get("/healthz")["X-Request-ID"], client.get("/healthz")["X-Request-ID"]
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second) and first != second


def test_an_audit_entry_written_during_a_request_carries_its_id_ip_and_agent(acme):
    response = host_client("acme.localhost").post(
        "/admin/login/", {"username": "nobody@acme.test", "password": "wrong"},
        HTTP_X_REQUEST_ID="req-login-1", HTTP_USER_AGENT="pytest-agent/1.0", REMOTE_ADDR="203.0.113.9",
    )
    assert response["X-Request-ID"] == "req-login-1"
    entry = AuditLog.objects.get(action="auth.login_failed", request_id="req-login-1")
    assert (entry.ip_address, entry.user_agent, entry.tenant_slug) == ("203.0.113.9", "pytest-agent/1.0", "acme")


@pytest.fixture
def json_log_lines():
    """Every log record of the test, through the project's filter and JSON formatter."""
    stream = StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


def test_log_lines_carry_time_level_logger_message_request_id_tenant_and_user(acme, json_log_lines):
    response = host_client("acme.localhost").get("/no-such-page", HTTP_X_REQUEST_ID="req-404")
    assert response.status_code == 404

    (line,) = [line for line in json_log_lines() if line["logger"] == "django.request"]
    assert line["level"] == "WARNING" and line["message"] == "Not Found: /no-such-page"
    assert (line["request_id"], line["tenant"], line["user"]) == ("req-404", "acme", "-")
    assert line["time"]


def test_outside_a_request_log_lines_say_so(json_log_lines):
    logging.getLogger("mcp.test").warning("between requests")
    (line,) = json_log_lines()
    assert (line["request_id"], line["tenant"], line["user"]) == ("-", "-", "-")


def test_log_format_json_is_refused_unless_plain_or_json():
    from tests.conftest import run_manage

    result = run_manage("check", env={"LOG_FORMAT": "xml"})
    assert result.returncode == 2
    assert result.stderr == "Configuration error: LOG_FORMAT='xml' is not plain or json.\n"


def test_nothing_of_a_request_outlives_its_response(acme):
    from audit.request_id import current_context

    host_client("acme.localhost").get("/healthz", HTTP_X_REQUEST_ID="req-done")
    assert current_context().request_id == "" and current_context().tenant_slug == ""
