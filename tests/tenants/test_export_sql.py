"""The exported SQL, applied with psql to an empty database, builds the same schemas Django does."""

import subprocess
from io import StringIO

import psycopg2
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tenants.engine.sql_export import BASE_FILE, TENANT_FILE, pg_binary
from tenants.services import tenant_create
from tests.catalog import catalog

EXPORT_DATABASE = "test_mcp_export"


def server_connection(dbname: str) -> psycopg2.extensions.connection:
    params = {**connection.get_connection_params(), "dbname": dbname}
    params.pop("database", None)
    conn = psycopg2.connect(**params)
    conn.autocommit = True
    return conn


def psql(sql_file, dbname: str, *variables: str) -> subprocess.CompletedProcess:
    params = connection.get_connection_params()
    command = [pg_binary("psql"), "-X", "-q", "-h", params["host"], "-p", str(params["port"]), "-U", params["user"],
               "-d", dbname]
    for variable in variables:
        command += ["-v", variable]
    return subprocess.run(command + ["-f", str(sql_file)], capture_output=True, text=True, timeout=120)


@pytest.fixture
def empty_database():
    admin = server_connection("postgres")
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {EXPORT_DATABASE} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {EXPORT_DATABASE}")
    yield EXPORT_DATABASE
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {EXPORT_DATABASE} WITH (FORCE)")
    admin.close()


def test_the_exported_files_build_public_and_a_tenant_like_django_does(public_tenant, empty_database, tmp_path):
    tenant_create(slug="acme", name="Acme")
    err = StringIO()
    call_command("export_sql", "--output-dir", str(tmp_path), stdout=StringIO(), stderr=err)
    assert f"Wrote {tmp_path / BASE_FILE} and {tmp_path / TENANT_FILE}." in err.getvalue()

    base = psql(tmp_path / BASE_FILE, empty_database, "base_domain=example.test")
    assert base.returncode == 0, base.stderr
    tenant = psql(tmp_path / TENANT_FILE, empty_database, "schema=tenant_acme")
    assert tenant.returncode == 0, tenant.stderr

    exported = server_connection(empty_database)
    try:
        with exported.cursor() as cursor:
            exported_public, exported_tenant = catalog("public", cursor), catalog("tenant_acme", cursor)
            cursor.execute("SELECT d.domain FROM domains d JOIN tenants t ON t.id = d.tenant_id "
                           "WHERE t.schema_name = 'public'")
            assert cursor.fetchall() == [("example.test",)]
    finally:
        exported.close()
    django_public, django_tenant = catalog("public"), catalog("tenant_acme")
    # Columns Django dropped (contenttypes' name) leave gaps in ordinal positions that a dump closes.
    assert [c[:-1] for c in exported_public["columns"]] == [c[:-1] for c in django_public["columns"]]
    for part in ("indexes", "triggers"):
        assert exported_public[part] == django_public[part], part
    # CHECK expressions come back from a dump in an equal but differently spelled form; the rest verbatim.
    def comparable(constraint):
        return constraint[:3] + constraint[4:] if constraint[2] == "c" else constraint
    assert [comparable(c) for c in exported_public["constraints"]] == [comparable(c) for c in django_public["constraints"]]
    for part in exported_tenant:
        assert exported_tenant[part] == django_tenant[part], part


def test_the_tenant_file_refuses_to_run_without_a_schema_name(public_tenant, empty_database, tmp_path):
    call_command("export_sql", "--output-dir", str(tmp_path), stdout=StringIO(), stderr=StringIO())
    result = psql(tmp_path / TENANT_FILE, empty_database)
    assert result.returncode != 0
    assert "name the schema: psql -v schema=tenant_<slug>" in result.stderr


def test_export_for_one_tenant_validates_the_slug_and_prints_sql_only(public_tenant):
    out = StringIO()
    call_command("export_sql", "--tenant", "acme-corp", stdout=out, stderr=StringIO())
    assert 'CREATE SCHEMA "tenant_acme_corp";' in out.getvalue()
    assert 'CREATE TABLE "contexts"' in out.getvalue()
    with pytest.raises(CommandError, match="is not valid"):
        call_command("export_sql", "--tenant", 'x"; DROP SCHEMA public; --', stdout=StringIO(), stderr=StringIO())
