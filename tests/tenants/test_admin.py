import re

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from audit.models import AuditLog
from tenants.models import Domain, Tenant, User
from tests.conftest import host_client, schema_names

PASSWORD = "a long and proper passphrase"


def make_user(email: str, *, tenant: Tenant | None, role: str = "", **fields) -> User:
    if tenant is None:
        return User.objects.create_superuser(email, PASSWORD)
    return User.objects.create_user(email, PASSWORD, tenant=tenant, role=role or User.Role.OWNER, **fields)


def sign_in(client: Client, email: str) -> int:
    """Post the admin login form; return the status (302 means signed in)."""
    return client.post("/admin/login/", {"username": email, "password": PASSWORD}).status_code


def signed_in_client(host: str, *, tenant: Tenant | None) -> Client:
    email = f"owner-{host}"
    client = host_client(host)
    make_user(email.replace("owner-", "owner@"), tenant=tenant)
    assert sign_in(client, email.replace("owner-", "owner@")) == 302
    return client


def test_platform_staff_sign_in_on_the_public_host_and_see_the_platform_models(public_tenant):
    client = signed_in_client("localhost", tenant=None)
    index = client.get("/admin/").content.decode()
    for model in ("Tenants", "Users", "Audit logs"):
        assert model in index
    assert "Contexts" not in index


def test_platform_staff_cannot_sign_in_on_a_tenant_host(acme):
    make_user("root@platform.test", tenant=None)
    assert sign_in(host_client("acme.localhost"), "root@platform.test") == 200  # the form again, with an error


def test_a_tenant_owner_sees_only_contexts_summaries_and_api_keys(acme):
    client = signed_in_client("acme.localhost", tenant=acme)
    index = client.get("/admin/").content.decode()
    assert "Contexts" in index and "Summaries" in index and "API keys" in index
    for model in ("Tenants", "Users", "Audit logs", "Groups"):
        assert model not in index
    assert "Acme administration" in index
    assert client.get("/admin/tenants/tenant/").status_code == 404


def test_a_user_of_tenant_a_cannot_sign_in_to_tenant_b_or_the_platform(acme, globex):
    make_user("owner@acme.test", tenant=acme)
    assert sign_in(host_client("globex.localhost"), "owner@acme.test") == 200
    assert sign_in(host_client("localhost"), "owner@acme.test") == 200
    assert sign_in(host_client("acme.localhost"), "owner@acme.test") == 302


def test_a_member_without_an_admin_role_cannot_use_the_tenant_admin(acme):
    make_user("member@acme.test", tenant=acme, role=User.Role.MEMBER)
    assert sign_in(host_client("acme.localhost"), "member@acme.test") == 200


def test_a_session_carried_to_another_tenants_host_is_not_honoured(acme, globex):
    client = signed_in_client("acme.localhost", tenant=acme)
    session_cookie = client.cookies["sessionid"].value
    other_host = host_client("globex.localhost")
    other_host.cookies["sessionid"] = session_cookie

    response = other_host.get("/admin/contexts/context/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_same_email_may_belong_to_two_tenants_and_signs_in_to_each_separately(acme, globex):
    User.objects.create_user("pat@example.test", "acme password 123!", tenant=acme, role="owner")
    User.objects.create_user("pat@example.test", "globex password 456!", tenant=globex, role="owner")
    acme_client, globex_client = host_client("acme.localhost"), host_client("globex.localhost")
    form = {"username": "pat@example.test"}
    assert acme_client.post("/admin/login/", {**form, "password": "globex password 456!"}).status_code == 200
    assert acme_client.post("/admin/login/", {**form, "password": "acme password 123!"}).status_code == 302
    assert globex_client.post("/admin/login/", {**form, "password": "globex password 456!"}).status_code == 302


def add_tenant(client: Client, **form: str):
    """Post the admin's add-tenant form with these fields (the rest empty or default)."""
    fields = {"slug": "", "name": "", "domain": "", "owner_email": "", "plan": "free", "billing_email": ""}
    return client.post("/admin/tenants/tenant/add/", {**fields, **form})


def test_creating_a_tenant_in_the_admin_creates_and_migrates_its_schema(public_tenant):
    client = signed_in_client("localhost", tenant=None)

    response = add_tenant(client, slug="initech", name="Initech", plan="team", billing_email="ap@initech.test")

    assert response.status_code == 200, response.content.decode()[:2000]
    tenant = Tenant.objects.get(slug="initech")
    assert (tenant.schema_name, tenant.plan) == ("tenant_initech", "team")
    assert Domain.objects.get(tenant=tenant).domain == "initech.localhost"
    assert "tenant_initech" in schema_names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'tenant_initech' AND tablename = 'contexts'")
        assert cursor.fetchone()[0] == 1
    entry = AuditLog.objects.get(action="tenant.created", tenant_id=tenant.pk)
    assert entry.actor_label == "owner@localhost"
    page = response.content.decode()
    assert "The tenant “initech” was created" in page and "http://initech.localhost:8000/admin/" in page
    assert not User.objects.filter(tenant=tenant).exists() and "temporary password" not in page


def test_creating_a_tenant_with_an_owner_shows_the_temporary_password_once_and_stores_it_nowhere(public_tenant):
    client = signed_in_client("localhost", tenant=None)

    response = add_tenant(client, slug="initech", name="Initech", owner_email="Boss@Initech.test")

    owner = User.objects.get(tenant__slug="initech")
    assert (owner.email, owner.role) == ("boss@initech.test", User.Role.OWNER)
    password = re.search(r'<code id="owner-password">([^<]+)</code>', response.content.decode()).group(1)
    assert owner.check_password(password)
    assert "no-store" in response["Cache-Control"]
    assert "Owner boss@initech.test can sign in" in response.content.decode()  # as stored, not as typed
    # Not in a message cookie or the session: the next page knows nothing of it.
    assert password not in str(response.cookies) and password not in client.get("/admin/").content.decode()
    owner_client = host_client("initech.localhost")
    assert owner_client.post("/admin/login/", {"username": "boss@initech.test", "password": password}).status_code == 302


def test_the_add_form_shows_the_default_domain_literally_and_lets_a_long_slug_through_to_be_refused(public_tenant):
    client = signed_in_client("localhost", tenant=None)
    page = client.get("/admin/tenants/tenant/add/").content.decode()
    assert "leave empty for &lt;slug&gt;.localhost" in page
    slug_input = re.search(r'<input[^>]*name="slug"[^>]*>', page).group(0)
    assert "maxlength" not in slug_input  # the browser would cut a long slug instead of letting it be refused

    response = add_tenant(client, slug="a" * 57, name="Long")

    assert "the most is 56" in response.content.decode()
    assert not Tenant.objects.filter(name="Long").exists()


@pytest.mark.parametrize(
    ("form", "field", "error"),
    [
        ({"slug": "Bad Slug", "name": "X"}, "slug", "is not valid"),
        ({"slug": "public", "name": "X"}, "slug", "is reserved"),
        ({"slug": "acme", "name": "X"}, "slug", "already exists"),
        ({"slug": "other", "name": "X", "domain": "acme.localhost"}, "domain", "already served by another tenant"),
        ({"slug": "other", "name": "X", "domain": "other.localhost:8000"}, "domain", "has a port"),
        ({"slug": "other", "name": "X", "domain": "http://x y"}, "domain", "has a scheme"),
        ({"slug": "other", "name": "X", "owner_email": "not an email"}, "owner_email", "valid email"),
    ],
)
def test_the_admin_add_form_refuses_bad_input_creates_nothing_and_audits_the_refusal(acme, form, field, error):
    client = signed_in_client("localhost", tenant=None)
    schemas_before, count_before = schema_names(), Tenant.objects.count()

    response = add_tenant(client, **form)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field], errors  # a duplicate slug does not also flag the domain it implies
    assert error in response.content.decode()
    assert Tenant.objects.count() == count_before
    assert schema_names() == schemas_before
    refusal = AuditLog.objects.get(action="tenant.created", outcome="failure")
    assert refusal.details["slug"] == form["slug"] and error in refusal.details["error"]
    assert refusal.actor_label == "owner@localhost"


def test_the_tenant_list_shows_the_columns_people_need(acme, globex):
    client = signed_in_client("localhost", tenant=None)
    page = client.get("/admin/tenants/tenant/?q=acme").content.decode()
    for text in ("acme", "Acme", "Active", "Free", "column-migration_state", "column-created_on"):
        assert text in page
    assert "globex" not in page
    assert "column-schema_name" not in page  # on the tenant's page
    assert "globex" in client.get("/admin/tenants/tenant/?status__exact=active").content.decode()


def test_suspending_in_the_admin_asks_for_a_reason_which_the_audit_keeps(acme, globex):
    client = signed_in_client("localhost", tenant=None)
    select = {"action": "suspend_selected", "_selected_action": [acme.pk]}

    confirmation = client.post("/admin/tenants/tenant/", select)
    assert confirmation.status_code == 200 and 'name="reason"' in confirmation.content.decode()
    no_reason = client.post("/admin/tenants/tenant/", {**select, "confirm": "yes", "reason": ""})
    assert "Say why" in no_reason.content.decode()
    acme.refresh_from_db()
    assert acme.status == "active"

    done = client.post("/admin/tenants/tenant/", {**select, "confirm": "yes", "reason": "Unpaid invoice 42"}, follow=True)

    assert "Suspended 1 tenant(s): acme." in done.content.decode()
    acme.refresh_from_db()
    globex.refresh_from_db()
    assert (acme.status, globex.status) == ("suspended", "active")
    assert AuditLog.objects.get(action="tenant.suspended").details == {"reason": "Unpaid invoice 42"}
    assert host_client("acme.localhost").get("/healthz").status_code == 403
    activated = client.post("/admin/tenants/tenant/", {"action": "activate_selected", "_selected_action": [acme.pk]},
                            follow=True)
    assert "Activated 1 tenant(s): acme." in activated.content.decode()
    acme.refresh_from_db()
    assert acme.status == "active"


def test_audit_logs_are_read_only_in_the_admin_even_for_superusers(acme):
    client = signed_in_client("localhost", tenant=None)
    entry = AuditLog.objects.get(action="tenant.created", tenant_id=acme.pk)
    assert client.get("/admin/audit/auditlog/").status_code == 200
    assert client.get("/admin/audit/auditlog/add/").status_code == 403
    assert client.post(f"/admin/audit/auditlog/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    page = client.get(f"/admin/audit/auditlog/{entry.pk}/change/").content.decode()
    assert 'name="action"' not in page  # shown, not editable
    assert AuditLog.objects.filter(pk=entry.pk).exists()


def test_the_tenant_list_shows_each_tenants_migration_state_and_filters_the_behind(acme, globex, settings):
    from django.test.utils import CaptureQueriesContext

    client = signed_in_client("localhost", tenant=None)
    page = client.get("/admin/tenants/tenant/").content.decode()
    assert page.count('<td class="field-migration_state">current</td>') == 2

    settings.MIGRATION_MODULES = {"contexts": "tests.fleet_migrations.add_field"}
    from io import StringIO

    from django.core.management import call_command

    call_command("migrate_schemas", "--schema", "tenant_acme", stdout=StringIO())
    page = client.get("/admin/tenants/tenant/").content.decode()
    assert '<td class="field-migration_state">behind (1 pending)</td>' in page
    behind = client.get("/admin/tenants/tenant/?migrations=behind").content.decode()
    assert ">globex</a>" in behind and ">acme</a>" not in behind

    with CaptureQueriesContext(connection) as queries:
        client.get("/admin/tenants/tenant/")
    for slug in ("b1", "b2", "b3"):
        from tenants.services import tenant_create

        tenant_create(slug=slug, name=slug)
    with CaptureQueriesContext(connection) as more_queries:
        client.get("/admin/tenants/tenant/")
    assert len(more_queries.captured_queries) == len(queries.captured_queries)


def test_a_creation_refused_only_at_creation_time_comes_back_as_a_message(public_tenant, settings):
    from tenants.engine.lock import migration_lock

    client = signed_in_client("localhost", tenant=None)
    settings.MIGRATION_LOCK_WAIT = 0.1
    with migration_lock(wait_seconds=1, dedicated_connection=True):
        response = client.post("/admin/tenants/tenant/add/", {"slug": "initech", "name": "Initech", "domain": "",
                                                             "plan": "free", "billing_email": ""}, follow=True)
    assert response.status_code == 200
    assert "Another migration run holds the lock" in response.content.decode()
    assert not Tenant.objects.filter(slug="initech").exists() and "tenant_initech" not in schema_names()


def sign_in_error(host: str, email: str, password: str = PASSWORD) -> str:
    """Post the admin login form on a host; return the refusal shown (the form must come back)."""
    response = host_client(host).post("/admin/login/", {"username": email, "password": password})
    assert response.status_code == 200 and "_auth_user_id" not in response.wsgi_request.session
    return " ".join(str(error) for error in response.context["form"].non_field_errors())


def test_signing_in_on_the_wrong_host_says_where_to_go_without_telling_whether_the_email_exists(acme, globex):
    make_user("owner@acme.test", tenant=acme)
    make_user("root@platform.test", tenant=None)

    on_platform = sign_in_error("localhost", "owner@acme.test")
    on_other_tenant = sign_in_error("globex.localhost", "owner@acme.test")
    staff_on_tenant = sign_in_error("acme.localhost", "root@platform.test")

    assert "sign in at their organisation's own address (http://<your organisation>.localhost:8000/admin/)" in (
        on_platform
    )
    assert "Globex" in on_other_tenant and "sign in at that organisation's own address" in on_other_tenant
    assert "platform staff sign in at http://localhost:8000/admin/" in staff_on_tenant
    assert "staff account" not in on_other_tenant + staff_on_tenant
    # The same words for an email that exists nowhere, or a wrong password: no account enumeration.
    assert sign_in_error("localhost", "nobody@nowhere.test") == on_platform
    assert sign_in_error("globex.localhost", "nobody@nowhere.test") == on_other_tenant
    assert sign_in_error("acme.localhost", "owner@acme.test", "wrong password") == staff_on_tenant


def test_dates_read_the_same_on_every_admin_page(acme):
    client = signed_in_client("localhost", tenant=None)
    page = client.get(f"/admin/tenants/tenant/{acme.pk}/change/").content.decode()
    created = timezone.localtime(acme.created_at)
    assert f"{created:%Y-%m-%d %H:%M:%S} UTC" in page


def test_the_tenant_list_costs_a_few_queries_and_never_reloads_the_migrations_per_request(make_tenant, monkeypatch):
    from django.test.utils import CaptureQueriesContext

    from tenants.engine import graph as migration_graphs
    from tenants.engine import template

    for slug in ("acme", "globex", "initech", "umbrella"):
        make_tenant(slug)
    client = signed_in_client("localhost", tenant=None)
    assert client.get("/admin/tenants/tenant/").status_code == 200  # the first may load the graph
    work: list[str] = []
    loader_init, hash_files = migration_graphs.MigrationLoader.__init__, template._hash_migration_files
    monkeypatch.setattr(migration_graphs.MigrationLoader, "__init__",
                        lambda self, *args, **kwargs: (work.append("graph"), loader_init(self, *args, **kwargs))[1])
    monkeypatch.setattr(template, "_hash_migration_files", lambda graph: (work.append("hash"), hash_files(graph))[1])

    with CaptureQueriesContext(connection) as queries:
        page = client.get("/admin/tenants/tenant/").content.decode()

    assert all(slug in page for slug in ("acme", "globex", "initech", "umbrella")) and "current" in page
    # Inside the test's transaction the backend sets the search path in statements of its own; a request
    # (autocommit) sends it in each query's own string (mcp.postgresql_backend): not round trips of their own.
    sent = [query["sql"] for query in queries if not query["sql"].startswith("SET LOCAL search_path")]
    assert len(sent) <= 10, "\n".join(sql[:200] for sql in sent)
    assert work == []


def test_the_migration_graph_is_loaded_again_when_a_migration_file_changes(settings):
    import os
    from pathlib import Path

    import contexts.migrations
    from tenants.engine.graph import migration_graph

    graph = migration_graph()
    assert migration_graph() is graph
    migration_file = next(Path(contexts.migrations.__file__).parent.glob("0001_*.py"))
    stat = migration_file.stat()
    os.utime(migration_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a deploy rewrites it
    try:
        assert migration_graph() is not graph
    finally:
        os.utime(migration_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    settings.MIGRATION_MODULES = {"contexts": "tests.fleet_migrations.add_field"}
    assert ("contexts", "0002_context_note") in migration_graph().known
