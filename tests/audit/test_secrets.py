"""Passwords, tokens and the Authorization header never reach an audit entry or a log line."""

import json
import logging
from io import StringIO

from django.core.management import call_command
from django.db import connection

from audit.logging import JsonLogFormatter, RequestContextFilter
from audit.services import REDACTED, audit_record, scrub
from tests.conftest import host_client
from tests.tenants.test_admin import PASSWORD, make_user

BEARER = "mcp_sk_live_0123456789abcdefSECRET"


def test_a_full_login_and_tenant_creation_leave_no_secret_in_entries_or_logs(public_tenant):
    stream = StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        make_user("root@platform.test", tenant=None)
        client = host_client("localhost")
        client.post("/admin/login/", {"username": "root@platform.test", "password": "not " + PASSWORD},
                    HTTP_AUTHORIZATION=f"Bearer {BEARER}")
        client.post("/admin/login/", {"username": "root@platform.test", "password": PASSWORD},
                    HTTP_AUTHORIZATION=f"Bearer {BEARER}")
        session = client.cookies["sessionid"].value
        client.post("/admin/tenants/tenant/add/", {"slug": "acme", "name": "Acme", "domain": "", "plan": "free",
                                                    "billing_email": ""}, HTTP_AUTHORIZATION=f"Bearer {BEARER}")
        out = StringIO()
        call_command("create_tenant", "--slug", "globex", "--name", "Globex", "--admin-email", "o@globex.test",
                     stdout=out)
        owner_password = out.getvalue().rsplit(" ", 1)[-1].strip()
        client.get("/no-such-page", HTTP_AUTHORIZATION=f"Bearer {BEARER}")
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)

    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(a)::text FROM audit_logs a")
        entries = " ".join(row[0] for row in cursor.fetchall())
    logs = stream.getvalue()
    assert "auth.login_failed" in entries and "tenant.created" in entries and logs  # the test saw real traffic
    for secret in (PASSWORD, BEARER, session, owner_password):
        assert secret not in entries
        assert secret not in logs


def test_secret_looking_keys_are_redacted_at_any_depth():
    details = {"email": "a@b.c", "password": "x", "nested": [{"api_key": "k", "Authorization": "Bearer t"}],
               "token_count": 3}
    assert scrub(details) == {"email": "a@b.c", "password": REDACTED,
                              "nested": [{"api_key": REDACTED, "Authorization": REDACTED}], "token_count": REDACTED}


def test_details_given_to_the_audit_function_are_scrubbed_before_they_are_stored(db):
    entry = audit_record(action="test.event", details={"client_secret": "s3cr3t", "kept": "value"})
    entry.refresh_from_db()
    assert entry.details == {"client_secret": REDACTED, "kept": "value"}
    assert "s3cr3t" not in json.dumps(entry.details)
