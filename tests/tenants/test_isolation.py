import pytest
from django.db import ProgrammingError, connection, transaction
from django_tenants.utils import tenant_context

from contexts.models import Context
from contexts.services import context_create
from tenants.models import Tenant


def test_a_row_written_in_one_tenant_is_invisible_from_another_with_the_orm(acme, globex):
    with tenant_context(acme):
        context_create(key="launch-plan", content="acme's secret")
    with tenant_context(globex):
        assert not Context.objects.filter(key="launch-plan").exists()
        assert Context.objects.count() == 0
        context_create(key="launch-plan", content="globex's own")  # the same key is free here
    with tenant_context(acme):
        assert list(Context.objects.values_list("content", flat=True)) == ["acme's secret"]


def test_a_row_written_in_one_tenant_is_invisible_from_another_with_raw_sql(acme, globex):
    connection.set_tenant(acme)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO contexts (key, title, content, tags, metadata, version, access_count, created_at, "
                       "updated_at) VALUES ('raw', '', 'acme only', '{}', '{}', 1, 0, now(), now())")
    connection.set_tenant(globex)
    with connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        assert cursor.fetchone()[0].startswith("tenant_globex")
        cursor.execute("SELECT count(*) FROM contexts WHERE key = 'raw'")
        assert cursor.fetchone()[0] == 0
    connection.set_tenant(acme)
    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM contexts WHERE key = 'raw'")
        assert cursor.fetchall() == [("acme only",)]


def test_tenant_tables_are_not_reachable_from_the_public_schema(acme):
    with tenant_context(acme):
        context_create(key="k")
    connection.set_schema_to_public()
    with pytest.raises(ProgrammingError, match='relation "contexts" does not exist'):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM contexts")


def test_leaving_a_tenant_context_restores_the_previous_schema(acme, globex):
    connection.set_schema_to_public()
    with tenant_context(acme):
        with tenant_context(globex):
            assert connection.schema_name == "tenant_globex"
        assert connection.schema_name == "tenant_acme"
    assert connection.schema_name == "public"


def test_each_host_sees_only_its_own_contexts_through_the_admin(acme, globex, django_user_model):
    from tests.tenants.test_admin import signed_in_client

    with tenant_context(acme):
        context_create(key="acme-roadmap")
    with tenant_context(globex):
        context_create(key="globex-roadmap")

    acme_page = signed_in_client("acme.localhost", tenant=acme).get("/admin/contexts/context/").content.decode()
    globex_page = signed_in_client("globex.localhost", tenant=globex).get("/admin/contexts/context/").content.decode()
    assert "acme-roadmap" in acme_page and "globex-roadmap" not in acme_page
    assert "globex-roadmap" in globex_page and "acme-roadmap" not in globex_page


def connection_is_on_public_only() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schemas(false)")
        schemas = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'tenants'")
        return schemas == ["public"] and cursor.fetchone()[0] > 0  # public's table, not a tenant's


def test_creating_a_tenant_leaves_the_connection_on_public_within_the_same_transaction(public_tenant):
    from django.db import transaction

    from tenants.services import tenant_create

    with transaction.atomic():
        tenant_create(slug="acme", name="Acme")
        assert connection_is_on_public_only()


def test_a_fleet_run_that_replays_sql_leaves_the_connection_on_public(make_tenant, settings):
    from io import StringIO

    from django.core.management import call_command

    for slug in ("acme", "globex", "initech"):
        make_tenant(slug)
    settings.MIGRATION_MODULES = {"contexts": "tests.fleet_migrations.add_field"}
    call_command("migrate_schemas", "--tenant", stdout=StringIO())
    assert connection_is_on_public_only()
    # And the raw connection the replays used: its next Django cursor is on public too.
    with tenant_context(make_tenant("hooli")):
        assert not Context.objects.exists()
    assert connection_is_on_public_only()


def test_creating_a_tenant_from_inside_another_tenants_context_touches_neither_wrongly(acme):
    from tenants.services import tenant_create
    from tests.catalog import tables_in

    with tenant_context(acme):
        context_create(key="acme-only")
        tenant_create(slug="globex", name="Globex")
        assert connection.schema_name == "tenant_acme"
        assert list(Context.objects.values_list("key", flat=True)) == ["acme-only"]
    assert {"contexts", "django_migrations"} <= tables_in("tenant_globex")
    with tenant_context(Tenant.objects.get(slug="globex")):
        assert not Context.objects.exists()
    assert not {"tenants", "audit_logs"} & tables_in("tenant_acme")
