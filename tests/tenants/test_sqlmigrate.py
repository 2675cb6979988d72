"""sqlmigrate prints the real DDL of tenant apps; sqlmigrate_schema prints it for one schema, ready for psql."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tests.catalog import tables_in
from tests.conftest import run_manage, schema_names

UNSAFE = {"contexts": "tests.lint_migrations.unsafe"}


def sql(command: str, *args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    assert err.getvalue() == ""
    return out.getvalue()




def test_sqlmigrate_prints_a_tenant_apps_create_table_even_with_no_tenant_schema(public_tenant):
    printed = sql("sqlmigrate", "contexts", "0001")

    assert 'CREATE TABLE "contexts" (' in printed
    assert 'CREATE TABLE "context_versions" (' in printed
    assert "(no-op)" not in printed
    # The placeholder schema it rendered on was never created, and the connection is back on public.
    assert "tenant_template" not in schema_names()
    assert connection.schema_name == "public"


def test_sqlmigrate_backwards_prints_the_drop_table(public_tenant):
    printed = sql("sqlmigrate", "contexts", "0001", "--backwards")

    assert 'DROP TABLE "contexts" CASCADE;' in printed
    assert "CREATE TABLE" not in printed


def test_sqlmigrate_reads_constraint_names_from_an_existing_tenant_schema(acme, settings):
    settings.MIGRATION_MODULES = UNSAFE

    # Changing the type drops the column's check constraint, whose name only the tenant's catalog knows.
    printed = sql("sqlmigrate", "contexts", "0004")
    assert 'ALTER TABLE "contexts" DROP CONSTRAINT "contexts_version_check";' in printed
    assert 'ALTER COLUMN "version" TYPE bigint' in printed


def test_sqlmigrate_prints_a_shared_app_as_django_does(public_tenant):
    printed = sql("sqlmigrate", "tenants", "0002")

    assert printed.startswith("BEGIN;\n")
    assert 'CREATE TABLE "migration_runs" (' in printed
    assert "search_path" not in printed


def test_sqlmigrate_schema_prints_the_create_table_after_pointing_the_search_path_at_the_schema(acme):
    printed = sql("sqlmigrate_schema", "--schema", "tenant_acme", "contexts", "0001")

    assert printed.startswith('BEGIN;\nSET search_path TO "tenant_acme", public;\n--\n-- Create model Context\n')
    assert 'CREATE TABLE "contexts" (' in printed
    assert printed.endswith("COMMIT;\n")


def test_sqlmigrate_schema_backwards_prints_the_drop_table(acme):
    printed = sql("sqlmigrate_schema", "--schema", "tenant_acme", "contexts", "0001", "--backwards")

    assert printed.startswith('BEGIN;\nSET search_path TO "tenant_acme", public;\n')
    assert 'DROP TABLE "contexts" CASCADE;' in printed
    assert "CREATE TABLE" not in printed


def test_the_sql_sqlmigrate_schema_prints_builds_the_tables_in_that_schema_only(public_tenant):
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "tenant_scratch"')
    printed = sql("sqlmigrate_schema", "--schema", "tenant_scratch", "contexts", "0001")

    # Run it as psql would, less the BEGIN and COMMIT: the test already runs in a transaction.
    body = printed.strip().removeprefix("BEGIN;").removesuffix("COMMIT;")
    with connection.cursor() as cursor:
        cursor.execute(body)
    assert {"contexts", "context_versions", "summaries"} <= tables_in("tenant_scratch")
    assert not {"contexts", "context_versions", "summaries"} & tables_in("public")


def test_sqlmigrate_schema_prints_a_shared_app_for_public(public_tenant):
    printed = sql("sqlmigrate_schema", "--schema", "public", "tenants", "0002")

    assert printed.startswith('BEGIN;\nSET search_path TO "public";\n')
    assert 'CREATE TABLE "migration_runs" (' in printed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--schema", "tenant_nope", "contexts", "0001"], "Schema 'tenant_nope' does not exist."),
        (["--schema", "pg_catalog", "contexts", "0001"],
         "Schema 'pg_catalog' is not a tenant schema: give public or a tenant_… schema."),
        (["--schema", "public", "contexts", "0001"],
         "App 'contexts' is a tenant app; its tables are not in public: give a tenant schema."),
        (["--schema", "tenant_acme", "tenants", "0001"],
         "App 'tenants' is a shared app; its tables live in public: give --schema public."),
        (["--schema", "tenant_acme", "nope", "0001"], "No installed app with label 'nope'."),
        (["--schema", "tenant_acme", "contexts", "0099"],
         "Cannot find a migration matching '0099' from app 'contexts'. Is it in INSTALLED_APPS?"),
    ],
    ids=["unknown schema", "not a tenant schema", "tenant app in public", "shared app in a tenant",
         "unknown app", "unknown migration"],
)
def test_sqlmigrate_schema_refuses_in_one_line_and_prints_no_sql(acme, args, message):
    schemas_before = schema_names()
    out = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("sqlmigrate_schema", *args, stdout=out, stderr=StringIO())

    assert str(refused.value) == message
    assert out.getvalue() == ""
    assert schema_names() == schemas_before
    assert connection.schema_name == "public"


def test_sqlmigrate_refuses_an_unknown_schema_given_to_it(acme):
    with pytest.raises(CommandError, match="^Schema 'tenant_nope' does not exist.$"):
        sql("sqlmigrate", "--schema", "tenant_nope", "contexts", "0001")


@pytest.mark.subprocess
def test_in_a_shell_the_sql_goes_to_stdout_alone_and_a_refusal_is_one_line_on_stderr(public_tenant):
    printed = run_manage("sqlmigrate", "contexts", "0001")
    assert printed.returncode == 0, printed.stderr
    assert 'CREATE TABLE "contexts" (' in printed.stdout
    assert printed.stderr == ""

    printed = run_manage("sqlmigrate_schema", "--schema", "public", "tenants", "0002")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith('BEGIN;\nSET search_path TO "public";\n')
    assert printed.stderr == ""

    refused = run_manage("sqlmigrate_schema", "--schema", "tenant_nope", "contexts", "0001")
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr == "CommandError: Schema 'tenant_nope' does not exist.\n"
