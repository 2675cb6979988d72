"""API keys: made and revoked by the service (admin and commands), recognised by one rule in tenants.access."""

import datetime as dt
import hashlib
import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditLog
from tenants.access import api_key_authenticate, require_scope
from tenants.api_keys import ApiKeyError, api_key_create, api_key_revoke, api_key_touch
from tenants.errors import (
    CredentialExpired,
    CredentialInvalid,
    CredentialMissing,
    CredentialOfAnotherTenant,
    CredentialRevoked,
    ScopeMissing,
)
from tenants.models import ApiKey
from tests.conftest import run_manage
from tests.tenants.test_admin import signed_in_client


def bearer(raw_key: str) -> str:
    return f"Bearer {raw_key}"


def test_a_key_is_stored_as_a_digest_and_recognised_on_its_own_tenants_host(acme):
    api_key, raw_key = api_key_create(tenant=acme, name="ci", scopes=["contexts:read"])

    assert re.fullmatch(r"mcpk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}", raw_key)
    assert raw_key.startswith(f"mcpk_{api_key.key_id}_")
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert stored.digest == hashlib.sha256(raw_key.encode()).hexdigest()
    assert raw_key.split("_", 2)[2] not in json.dumps([stored.name, stored.key_id, stored.digest])
    assert api_key_authenticate(authorization=bearer(raw_key), host_tenant=acme).pk == api_key.pk
    entry = AuditLog.objects.get(action="api_key.created")
    assert raw_key.split("_", 2)[2] not in json.dumps(entry.details)
    assert entry.details["key_id"] == api_key.key_id


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (None, CredentialMissing), ("", CredentialMissing), ("Basic abc", CredentialMissing), ("Bearer ", CredentialMissing),
        ("Bearer mcpk_short", CredentialInvalid), ("Bearer " + "mcpk_aaaaaaaaaaaa_" + "x" * 43, CredentialInvalid),
    ],
)
def test_missing_or_malformed_credentials_are_refused(acme, header, error):
    with pytest.raises(error):
        api_key_authenticate(authorization=header, host_tenant=acme)


def test_a_key_with_a_wrong_secret_is_refused(acme):
    api_key, raw_key = api_key_create(tenant=acme, name="ci", scopes=["contexts:read"])
    forged = raw_key[:-1] + ("A" if raw_key[-1] != "A" else "B")
    with pytest.raises(CredentialInvalid):
        api_key_authenticate(authorization=bearer(forged), host_tenant=acme)


def test_a_key_of_tenant_a_is_refused_on_tenant_bs_host(acme, globex):
    _, raw_key = api_key_create(tenant=acme, name="ci", scopes=["contexts:read"])
    with pytest.raises(CredentialOfAnotherTenant, match="belongs to another tenant"):
        api_key_authenticate(authorization=bearer(raw_key), host_tenant=globex)


def test_revoked_and_expired_keys_stop_working(acme):
    revoked, revoked_key = api_key_create(tenant=acme, name="old", scopes=["contexts:read"])
    api_key_revoke(api_key=revoked)
    with pytest.raises(CredentialRevoked):
        api_key_authenticate(authorization=bearer(revoked_key), host_tenant=acme)
    expiring, expiring_key = api_key_create(
        tenant=acme, name="short", scopes=["contexts:read"], expires_at=timezone.now() + dt.timedelta(days=1)
    )
    ApiKey.objects.filter(pk=expiring.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(CredentialExpired):
        api_key_authenticate(authorization=bearer(expiring_key), host_tenant=acme)


def test_a_missing_scope_is_refused_naming_it(acme):
    api_key, _ = api_key_create(tenant=acme, name="reader", scopes=["contexts:read"])
    require_scope(api_key, "contexts:read")
    with pytest.raises(ScopeMissing, match="'contexts:write'") as refused:
        require_scope(api_key, "contexts:write")
    assert (refused.value.status, refused.value.problem_type) == (403, "insufficient-scope")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "", "scopes": ["contexts:read"]}, "needs a name"),
        ({"name": "ci", "scopes": []}, "at least one scope"),
        ({"name": "ci", "scopes": ["contexts:admin"]}, "Unknown scope 'contexts:admin'"),
        ({"name": "ci", "scopes": ["contexts:read"], "expires_at": timezone.now() - dt.timedelta(days=1)}, "in the past"),
    ],
)
def test_api_key_create_refuses_bad_input_and_creates_nothing(acme, fields, message):
    with pytest.raises(ApiKeyError, match=message):
        api_key_create(tenant=acme, **fields)
    assert not ApiKey.objects.exists()


def test_the_platform_has_no_keys(public_tenant):
    with pytest.raises(ApiKeyError, match="belong to a tenant"):
        api_key_create(tenant=public_tenant, name="x", scopes=["contexts:read"])


def updates_of_api_keys(queries: CaptureQueriesContext) -> int:
    return sum(1 for query in queries.captured_queries if query["sql"].startswith('UPDATE "api_keys"'))


def test_last_used_is_written_at_most_once_a_minute(acme):
    api_key, _ = api_key_create(tenant=acme, name="ci", scopes=["contexts:read"])
    with CaptureQueriesContext(connection) as first_use:
        api_key_touch(api_key)
    first = api_key.last_used_at
    with CaptureQueriesContext(connection) as within_a_minute:
        api_key_touch(api_key)
    assert (updates_of_api_keys(first_use), len(within_a_minute)) == (1, 0)
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == first
    api_key.last_used_at = first - dt.timedelta(minutes=2)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=api_key.last_used_at)
    with CaptureQueriesContext(connection) as later:
        api_key_touch(api_key)
    assert updates_of_api_keys(later) == 1 and ApiKey.objects.get(pk=api_key.pk).last_used_at > first


def test_the_commands_create_list_and_revoke_a_key(acme):
    out, err = StringIO(), StringIO()
    call_command("create_api_key", "--tenant", "acme", "--name", "ci", "--scope", "contexts:read",
                 "--expires-in", "90d", stdout=out, stderr=err)
    raw_key = out.getvalue().strip()
    api_key = ApiKey.objects.get()
    assert raw_key.startswith(f"mcpk_{api_key.key_id}_") and "\n" not in raw_key
    assert "shown only this once" in err.getvalue() and "http://acme.localhost:8000/api/v1/" in err.getvalue()
    assert api_key.scopes == ["contexts:read"]
    assert dt.timedelta(days=89) < api_key.expires_at - timezone.now() <= dt.timedelta(days=90)

    listing = StringIO()
    call_command("list_api_keys", "--tenant", "acme", "--json", stdout=listing)
    (row,) = json.loads(listing.getvalue())["keys"]
    assert (row["key_id"], row["state"], row["scopes"]) == (api_key.key_id, "active", ["contexts:read"])
    assert raw_key.split("_", 2)[2] not in listing.getvalue()

    revoked = StringIO()
    call_command("revoke_api_key", api_key.key_id, "--tenant", "acme", stdout=revoked)
    assert f"Revoked API key {api_key.key_id} (ci) of tenant acme." in revoked.getvalue()
    with pytest.raises(CredentialRevoked):
        api_key_authenticate(authorization=bearer(raw_key), host_tenant=acme)
    assert AuditLog.objects.get(action="api_key.revoked").actor_label.startswith("revoke_api_key")


def test_revoking_names_the_tenant_so_another_tenants_key_cannot_be_revoked_by_mistake(acme, globex):
    api_key, _ = api_key_create(tenant=acme, name="ci", scopes=["contexts:read"])
    with pytest.raises(CommandError, match=f"No API key has the id '{api_key.key_id}' in tenant 'globex'"):
        call_command("revoke_api_key", api_key.key_id, "--tenant", "globex")
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--tenant", "acme", "--name", "x", "--expires-in", "soon"], "--expires-in 'soon' is not a number of days"),
     (["--tenant", "nope", "--name", "x"], "No tenant has the slug 'nope'")],
)
def test_create_api_key_refusals_are_one_line(acme, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_key", *args)
    assert not ApiKey.objects.exists()


def test_a_tenant_admin_creates_its_own_keys_and_sees_no_other_tenants(acme, globex):
    api_key_create(tenant=globex, name="globex-secret-key", scopes=["contexts:read"])
    client = signed_in_client("acme.localhost", tenant=acme)

    page = client.post("/admin/tenants/apikey/add/", {"name": "claude", "scopes": ["contexts:read", "contexts:write"]})

    raw_key = re.search(r'<code id="api-key">([^<]+)</code>', page.content.decode()).group(1)
    api_key = api_key_authenticate(authorization=bearer(raw_key), host_tenant=acme)
    assert (api_key.name, api_key.scopes) == ("claude", ["contexts:read", "contexts:write"])
    listing = client.get("/admin/tenants/apikey/").content.decode()
    assert "claude" in listing and "globex-secret-key" not in listing
    other = ApiKey.objects.get(tenant=globex)
    assert client.get(f"/admin/tenants/apikey/{other.pk}/change/").status_code == 302  # not found here: back to list
    client.post("/admin/tenants/apikey/", {"action": "revoke_selected", "_selected_action": [other.pk, api_key.pk]})
    assert ApiKey.objects.get(pk=other.pk).revoked_at is None  # not acme's: never selected, never revoked
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is not None


def test_platform_staff_create_a_key_for_any_tenant(acme):
    client = signed_in_client("localhost", tenant=None)
    page = client.post("/admin/tenants/apikey/add/", {"tenant": acme.pk, "name": "ops", "scopes": ["summaries:write"]})
    raw_key = re.search(r'<code id="api-key">([^<]+)</code>', page.content.decode()).group(1)
    assert api_key_authenticate(authorization=bearer(raw_key), host_tenant=acme).scopes == ["summaries:write"]


@pytest.mark.subprocess
def test_create_api_key_prints_only_the_key_on_stdout(committed):
    from tenants.services import tenant_create

    tenant_create(slug="acme", name="Acme")
    result = run_manage("create_api_key", "--tenant", "acme", "--name", "ci")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"mcpk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}\n", result.stdout)
    refused = run_manage("create_api_key", "--tenant", "acme", "--name", "ci", "--scope", "everything")
    assert refused.returncode != 0 and "invalid choice: 'everything'" in refused.stderr
