"""The migration linter refuses what locks or rewrites a populated tenant table, and lets the safe forms through."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django_migration_linter import MigrationLinter
from django_migration_linter.sql_analyser import analyse_sql_statements, get_sql_analyser_class
from django_tenants.utils import tenant_context

from contexts.services import context_create
from tenants.ci.migration_lint import register_sql_analyser
from tenants.services import tenant_create
from tests.conftest import run_manage

UNSAFE = {"contexts": "tests.lint_migrations.unsafe"}
SAFE = {"contexts": "tests.lint_migrations.safe"}
SAFE_FORMS = [
    "0002_context_title_index",
    "0003_context_content_length",
    "0004_fill_context_content_length",
    "0005_context_content_length_check",
    "0006_validate_context_content_length_check",
]


def lint(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run lintmigrations in this process; return its exit code and what it printed."""
    try:
        call_command("lintmigrations", *args, stdout=StringIO(), stderr=StringIO())
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, capsys.readouterr().out


@pytest.mark.subprocess
def test_the_projects_migrations_pass_the_linter_as_make_lint_migrations_runs_it(db):
    result = run_manage("lintmigrations")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "(tenants, 0002_migration_run_records)... OK" in result.stdout
    assert "Erroneous migrations: 0/" in result.stdout


def test_the_linter_reads_the_tenant_apps_real_ddl_not_public_no_ops(db):
    statements = MigrationLinter(no_cache=True).get_sql("contexts", "0001_initial")

    assert any(line.startswith('CREATE TABLE "contexts" (') for line in statements)
    assert "-- (no-op)" not in statements


@pytest.mark.parametrize(
    ("migration_name", "message"),
    [
        ("0002_context_title_index", "CREATE INDEX locks table"),
        ("0003_context_token", "NOT NULL constraint on columns"),
        ("0004_context_version_bigint", "ALTERING columns"),
        ("0005_context_priority", "NOT NULL constraint on columns"),
        ("0006_context_secret", "ADD COLUMN with a volatile default rewrites table"),
        ("0007_context_title_not_blank", "CHECK or FOREIGN KEY without NOT VALID locks table"),
        ("0008_context_label_and_context_title_index", "CREATE INDEX locks table"),
    ],
    ids=[
        "plain index",
        "callable default",
        "type change",
        "not null without default",
        "volatile db_default",
        "check constraint without not valid",
        "plain index after a new table's index",
    ],
)
def test_the_linter_refuses_a_tenant_migration_that_locks_or_rewrites_the_table(db, settings, capsys,
                                                                                 migration_name, message):
    settings.MIGRATION_MODULES = UNSAFE

    code, printed = lint(capsys, "contexts", migration_name)

    assert code == 1
    assert f"(contexts, {migration_name})... ERR\n\t{message}" in printed


# Statements as sqlmigrate prints them (or a RunSQL holds them), for cases the example migrations do not show.
NEW_TABLE = 'CREATE TABLE "context_labels" ("id" bigint NOT NULL PRIMARY KEY, "name" varchar(64) NOT NULL);'
FOREIGN_KEY = (
    'ALTER TABLE "summaries" ADD CONSTRAINT "summaries_context_fk" '
    'FOREIGN KEY ("context_id") REFERENCES "contexts" ("id")'
)
NEW_TABLES_FOREIGN_KEY = (
    'ALTER TABLE "context_labels" ADD CONSTRAINT "context_labels_id_fk" '
    'FOREIGN KEY ("id") REFERENCES "contexts" ("id") DEFERRABLE INITIALLY DEFERRED;'
)


@pytest.mark.parametrize(
    ("statements", "refused"),
    [
        pytest.param(
            [f"{FOREIGN_KEY} DEFERRABLE INITIALLY DEFERRED;"], ["CONSTRAINT_MISSING_NOT_VALID"], id="foreign key"
        ),
        pytest.param([f"{FOREIGN_KEY} NOT VALID;"], [], id="foreign key not valid"),
        pytest.param(
            ['ALTER TABLE "contexts" ADD COLUMN "rank" integer NULL CHECK ("rank" >= 0);'],
            ["CONSTRAINT_MISSING_NOT_VALID"],
            id="column with a check of its own",
        ),
        pytest.param(
            [
                'ALTER TABLE "contexts" ADD COLUMN "parent_id" bigint NULL CONSTRAINT "contexts_parent_fk" '
                'REFERENCES "contexts"("id") DEFERRABLE INITIALLY DEFERRED;',
                'SET CONSTRAINTS "contexts_parent_fk" IMMEDIATE;',
            ],
            [],
            id="new nullable foreign key column",
        ),
        pytest.param(
            [
                NEW_TABLE,
                'ALTER TABLE "context_labels" ADD CONSTRAINT "context_labels_named" CHECK (NOT ("name" = \'\'));',
                NEW_TABLES_FOREIGN_KEY,
            ],
            [],
            id="constraints of a table the migration creates",
        ),
        pytest.param(
            ['CREATE EXTENSION IF NOT EXISTS "pg_trgm";'],
            ["CREATE_EXTENSION"],
            id="an extension, which a tenant migration would put in one tenant's schema",
        ),
        pytest.param(
            ["alter table contexts add column seen_at timestamptz default clock_timestamp();"],
            ["VOLATILE_DEFAULT"],
            id="hand-written volatile default",
        ),
        pytest.param(
            ['ALTER TABLE "contexts" ADD COLUMN "words" tsvector GENERATED ALWAYS AS '
             '(to_tsvector(\'english\'::regconfig, COALESCE("content", \'\'))) STORED;'],
            ["GENERATED_STORED"],
            id="stored generated column",
        ),
        pytest.param(
            [NEW_TABLE.replace(");", ', "words" tsvector GENERATED ALWAYS AS (to_tsvector(\'simple\', "name")) STORED);')],
            [],
            id="stored generated column of a table the migration creates",
        ),
        pytest.param(
            ['ALTER TABLE "contexts" ADD COLUMN "seen_at" timestamp with time zone DEFAULT (STATEMENT_TIMESTAMP());'],
            [],
            id="stable default",
        ),
        pytest.param(
            [
                NEW_TABLE,
                'CREATE INDEX "context_labels_name_gin" ON "context_labels" USING gin ("name");',
                'CREATE INDEX "context_labels_named_idx" ON "context_labels" ("id") WHERE NOT ("name" = \'\');',
                NEW_TABLES_FOREIGN_KEY,
            ],
            [],
            id="gin and partial indexes of a table the migration creates",
        ),
    ],
)
def test_the_linter_refuses_a_statement_only_if_it_scans_or_rewrites_a_table_with_rows(settings, statements, refused):
    # The analyser the lintmigrations command registers when it runs (in this process it may not have run yet).
    assert register_sql_analyser() == settings.MIGRATION_LINTER_OPTIONS["sql_analyser"]
    analyser = get_sql_analyser_class("postgresql", settings.MIGRATION_LINTER_OPTIONS["sql_analyser"])

    errors, _, warnings = analyse_sql_statements(analyser, ["BEGIN;", *statements, "COMMIT;"])

    assert sorted(issue.code for issue in errors + warnings) == refused


@pytest.mark.subprocess
def test_in_a_shell_the_linter_exits_non_zero_on_an_unsafe_tenant_migration(db):
    result = run_manage("lintmigrations", "contexts", env={"DJANGO_SETTINGS_MODULE": "tests.lint_migrations.settings"})

    assert result.returncode == 1
    assert "(contexts, 0002_context_title_index)... ERR\n\tCREATE INDEX locks table" in result.stdout
    assert "Erroneous migrations: 7/" in result.stdout


def test_a_migration_marked_reviewed_in_settings_is_let_through(db, settings, capsys):
    settings.MIGRATION_MODULES = UNSAFE
    reviewed = ["0002_context_title_index"]
    settings.MIGRATION_LINTER_OPTIONS = {**settings.MIGRATION_LINTER_OPTIONS, "ignore_name": reviewed}

    code, printed = lint(capsys, "contexts", "0002_context_title_index")

    assert code == 0
    assert "(contexts, 0002_context_title_index)... IGNORE" in printed


def test_the_readmes_safe_forms_pass_the_linter(committed, settings, capsys):
    # Outside a test transaction: Django refuses to render AddIndexConcurrently inside one, even as text.
    settings.MIGRATION_MODULES = SAFE

    code, printed = lint(capsys, "contexts")

    assert code == 0, printed
    for migration_name in SAFE_FORMS:
        assert f"(contexts, {migration_name})... OK\n" in printed


def test_the_readmes_safe_forms_migrate_a_tenant_with_rows_forward_and_back(committed, settings):
    acme, _ = tenant_create(slug="acme", name="Acme")
    with tenant_context(acme):
        context_create(key="a", content="twelve chars")
    settings.MIGRATION_MODULES = SAFE

    call_command("migrate_schemas", schema_name="tenant_acme", verbosity=0, stdout=StringIO())
    with connection.cursor() as cursor:
        cursor.execute('SELECT content_length FROM "tenant_acme".contexts')
        assert cursor.fetchall() == [(12,)]
        cursor.execute(
            "SELECT convalidated FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE n.nspname = 'tenant_acme' AND c.conname = 'contexts_content_length_known'"
        )
        assert cursor.fetchall() == [(True,)]
        cursor.execute("SELECT 1 FROM pg_indexes WHERE schemaname = 'tenant_acme' AND indexname = 'contexts_title_idx'")
        assert cursor.fetchone() is not None

    call_command("migrate_schemas", "contexts", "0001", schema_name="tenant_acme", verbosity=0, stdout=StringIO())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.columns "
            "WHERE table_schema = 'tenant_acme' AND table_name = 'contexts' AND column_name = 'content_length'"
        )
        assert cursor.fetchone() is None
