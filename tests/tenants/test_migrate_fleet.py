"""migrate_schemas across many tenants: skip what is current, isolate failures, resume, roll back, one run at a time."""

import re
from contextlib import nullcontext
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from contexts.services import context_create
from tenants.engine.lock import migration_lock
from tenants.models import MigrationRun, MigrationRunSchema
from tests.catalog import applied
from tests.fleet_migrations import LATEST_REAL, REAL_MIGRATIONS

UNIQUE_TITLE = {"contexts": "tests.fleet_migrations.unique_title"}
ADD_FIELD = {"contexts": "tests.fleet_migrations.add_field"}


def migrate(*args: str, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("migrate_schemas", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()




def has_constraint(schema: str, name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE n.nspname = %s AND c.conname = %s", [schema, name],
        )
        return cursor.fetchone() is not None


def give_two_contexts_one_title(tenant) -> None:
    """Data that the unique-title migration cannot accept."""
    with tenant_context(tenant):
        context_create(key="a", title="Same title")
        context_create(key="b", title="Same title")


@pytest.fixture
def three_tenants(make_tenant):
    return [make_tenant(slug) for slug in ("acme", "globex", "initech")]


def test_a_run_with_nothing_to_do_costs_the_same_few_queries_for_any_number_of_tenants(make_tenant):
    make_tenant("acme")
    with CaptureQueriesContext(connection) as one_tenant:
        out, _ = migrate("--tenant")
    assert "Migrated 0 schema(s), 1 already current, 0 failed" in out

    for slug in ("b1", "b2", "b3", "b4"):
        make_tenant(slug)
    with CaptureQueriesContext(connection) as five_tenants:
        out, _ = migrate("--tenant")
    assert "Migrated 0 schema(s), 5 already current, 0 failed" in out
    assert len(five_tenants.captured_queries) == len(one_tenant.captured_queries)
    # Nothing ran inside a tenant schema.
    assert not [q for q in five_tenants.captured_queries if "search_path" in q["sql"] and "tenant_" in q["sql"]]


def test_a_new_migration_is_applied_to_every_tenant_with_a_line_each_and_a_summary(three_tenants, settings):
    settings.MIGRATION_MODULES = ADD_FIELD
    out, _ = migrate("--tenant")

    lines = out.strip().splitlines()
    for index, schema in enumerate(["tenant_acme", "tenant_globex", "tenant_initech"], start=1):
        assert re.fullmatch(rf"\[{index}/3\] {schema}  contexts\.0002_context_note  applied  \d+ ms", lines[index - 1])
        assert applied(schema) == [*REAL_MIGRATIONS, "0002_context_note"]
    assert re.fullmatch(r"Migrated 3 schema\(s\), 0 already current, 0 failed in \d+\.\d\d s\.", lines[-1])


def test_a_run_that_changed_many_schemas_says_to_vacuum_the_catalogs(three_tenants, settings, monkeypatch):
    from tenants.management.commands import migrate_schemas

    monkeypatch.setattr(migrate_schemas, "VACUUM_HINT_SCHEMAS", 3)  # 1,000 in earnest
    settings.MIGRATION_MODULES = ADD_FIELD
    out, _ = migrate("--tenant")
    assert out.strip().splitlines()[-1] == (
        "3 schemas changed leave many dead rows in the catalogs; until autovacuum has been through them, "
        "catalog-heavy work is slower. Now: VACUUM (ANALYZE) pg_catalog.pg_attribute, pg_catalog.pg_class, "
        "pg_catalog.pg_depend, pg_catalog.pg_type;"
    )
    out, _ = migrate("--tenant", "contexts", LATEST_REAL[1])  # back: three schemas again
    assert "VACUUM" in out
    monkeypatch.setattr(migrate_schemas, "VACUUM_HINT_SCHEMAS", 4)
    out, _ = migrate("--tenant")
    assert "VACUUM" not in out


def test_a_failing_tenant_is_left_unchanged_the_others_are_migrated_and_the_exit_is_non_zero(three_tenants, settings):
    acme, globex, initech = three_tenants
    give_two_contexts_one_title(globex)
    settings.MIGRATION_MODULES = UNIQUE_TITLE

    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match=r"1 schema\(s\) failed; they are unchanged"):
        call_command("migrate_schemas", "--tenant", stdout=out, stderr=err)

    assert "[2/3] tenant_globex  contexts.0002_context_title_unique  FAILED" in out.getvalue()
    assert "Migrated 2 schema(s), 0 already current, 1 failed" in out.getvalue()
    assert "tenant_globex: IntegrityError: could not create unique index" in err.getvalue()
    assert applied("tenant_globex") == REAL_MIGRATIONS
    assert not has_constraint("tenant_globex", "contexts_title_unique_test")
    for schema in ("tenant_acme", "tenant_initech"):
        assert applied(schema) == [*REAL_MIGRATIONS, "0002_context_title_unique"]
        assert has_constraint(schema, "contexts_title_unique_test")

    run = MigrationRun.objects.latest("started_at")
    assert (run.outcome, run.schemas_migrated, run.schemas_failed) == ("failed", 2, 1)
    failed = MigrationRunSchema.objects.get(run=run, outcome="failed")
    assert failed.schema_name == "tenant_globex"
    assert "could not create unique index" in failed.error

    # Fix the data and run again: only what is left is applied.
    with tenant_context(globex):
        from contexts.models import Context

        Context.objects.filter(key="b").update(title="Another title")
    out, _ = migrate("--tenant")
    assert "[1/1] tenant_globex  contexts.0002_context_title_unique  applied" in out
    assert "Migrated 1 schema(s), 2 already current, 0 failed" in out
    assert applied("tenant_globex") == [*REAL_MIGRATIONS, "0002_context_title_unique"]


def test_fail_fast_stops_at_the_first_failing_schema(three_tenants, settings):
    acme, globex, initech = three_tenants
    give_two_contexts_one_title(acme)
    settings.MIGRATION_MODULES = UNIQUE_TITLE

    out = StringIO()
    with pytest.raises(CommandError):
        call_command("migrate_schemas", "--tenant", "--fail-fast", stdout=out, stderr=StringIO())

    assert "Stopped at the first failure (--fail-fast)" in out.getvalue()
    assert [applied(s) for s in ("tenant_acme", "tenant_globex", "tenant_initech")] == [REAL_MIGRATIONS] * 3


def test_verbosity_zero_prints_only_failures(three_tenants, settings):
    acme, globex, initech = three_tenants
    give_two_contexts_one_title(initech)
    settings.MIGRATION_MODULES = UNIQUE_TITLE

    out = StringIO()
    with pytest.raises(CommandError):
        call_command("migrate_schemas", "--tenant", verbosity=0, stdout=out, stderr=StringIO())
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[3/3] tenant_initech  contexts.0002_context_title_unique  FAILED")
    assert lines[1].startswith("Migrated 2 schema(s), 0 already current, 1 failed")


def test_rolling_back_takes_every_tenant_to_the_target_and_forward_again(three_tenants, settings):
    settings.MIGRATION_MODULES = ADD_FIELD
    migrate("--tenant")

    out, _ = migrate("--tenant", *LATEST_REAL)
    assert "[1/3] tenant_acme  contexts.0002_context_note  unapplied" in out
    assert all(applied(s) == REAL_MIGRATIONS for s in ("tenant_acme", "tenant_globex", "tenant_initech"))

    out, _ = migrate("--schema", "tenant_globex", "contexts", "zero")
    assert applied("tenant_globex") == [] and applied("tenant_acme") == REAL_MIGRATIONS

    out, _ = migrate("--tenant")
    assert "Migrated 3 schema(s)" in out
    assert all(applied(s) == [*REAL_MIGRATIONS, "0002_context_note"] for s in ("tenant_acme", "tenant_globex"))


def test_an_unknown_target_is_refused_in_one_line(three_tenants):
    with pytest.raises(CommandError, match="Cannot find one migration '0099' in app 'contexts'"):
        migrate("--tenant", "contexts", "0099")


def test_a_second_run_waits_then_says_who_holds_the_lock(public_tenant):
    with migration_lock(wait_seconds=1, dedicated_connection=True):
        with pytest.raises(CommandError, match=r"Another migration run holds the lock: .* Waited 0\.2 s"):
            migrate("--tenant", "--lock-wait", "0.2")


def test_tenant_creation_waits_for_a_run_but_not_for_another_creation(public_tenant):
    from tenants.services import tenant_create

    with migration_lock(wait_seconds=1, shared=True, dedicated_connection=True):  # another creation under way
        tenant_create(slug="acme", name="Acme")
    assert applied("tenant_acme") == REAL_MIGRATIONS


def test_tenant_creation_during_a_run_waits_then_is_refused_and_creates_nothing(public_tenant, settings):
    from tenants.engine.lock import MigrationLockBusy
    from tenants.models import Tenant
    from tenants.services import tenant_create
    from tests.conftest import schema_names

    settings.MIGRATION_LOCK_WAIT = 0.2
    with migration_lock(wait_seconds=1, dedicated_connection=True), pytest.raises(MigrationLockBusy, match=r"Waited 0\.2 s"):
        tenant_create(slug="acme", name="Acme")
    assert not Tenant.objects.filter(slug="acme").exists()
    assert "tenant_acme" not in schema_names()


def test_every_run_is_recorded_with_who_where_and_what(three_tenants, settings):
    settings.MIGRATION_MODULES = ADD_FIELD
    migrate("--tenant")
    run = MigrationRun.objects.latest("started_at")
    assert run.command.startswith("migrate_schemas")
    assert run.os_user and run.host and run.pid
    assert (run.outcome, run.schemas_total, run.schemas_migrated, run.schemas_current) == ("succeeded", 3, 3, 0)
    assert run.finished_at is not None
    assert sorted(MigrationRunSchema.objects.filter(run=run).values_list("schema_name", flat=True)) == [
        "tenant_acme", "tenant_globex", "tenant_initech"
    ]
    assert MigrationRunSchema.objects.filter(run=run).first().migrations == ["contexts.0002_context_note"]


def test_migration_history_lists_runs_and_what_one_did_to_each_schema(three_tenants, settings):
    settings.MIGRATION_MODULES = ADD_FIELD
    migrate("--tenant")
    run = MigrationRun.objects.latest("started_at")

    out = StringIO()
    call_command("migration_history", stdout=out)
    first = out.getvalue().splitlines()[0]
    assert first.startswith(f"#{run.pk}  ") and "succeeded" in first and "3 migrated, 0 current, 0 failed" in first

    out = StringIO()
    call_command("migration_history", "--run", str(run.pk), stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.split("  ")[:3] for line in lines] == [
        [schema, "contexts.0002_context_note", "applied"] for schema in ("tenant_acme", "tenant_globex", "tenant_initech")
    ]
    with pytest.raises(CommandError, match="No migration run #999999"):
        call_command("migration_history", "--run", "999999", stdout=StringIO())


def test_a_data_migration_runs_in_each_schema_on_its_own_rows_and_is_never_replayed(three_tenants, settings):
    for tenant in three_tenants:
        with tenant_context(tenant):
            context_create(key=f"{tenant.slug}-brief")
    settings.MIGRATION_MODULES = {"contexts": "tests.fleet_migrations.data_migration"}

    migrate("--tenant")

    from contexts.models import Context

    for tenant in three_tenants:
        with tenant_context(tenant):
            assert list(Context.objects.values_list("title", flat=True)) == [f"{tenant.slug.upper()}-BRIEF"]


def foreign_keys(schema: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                       "WHERE n.nspname = %s AND c.contype = 'f' ORDER BY 1", [schema])
        return [row[0] for row in cursor.fetchall()]


def test_statements_that_start_with_set_are_replayed_whole_in_every_schema_and_the_template(three_tenants, settings):
    before = foreign_keys("tenant_acme")
    assert any(name.startswith("summaries_context_id") for name in before)
    settings.MIGRATION_MODULES = {"contexts": "tests.fleet_migrations.drop_fk"}

    migrate("--tenant")

    from tenants.services import tenant_create

    tenant_create(slug="after", name="After")
    for schema in ("tenant_acme", "tenant_globex", "tenant_initech", "tenant_after"):
        assert not any(name.startswith("summaries_context_id") for name in foreign_keys(schema)), schema


@pytest.mark.parametrize("flag", ["--plan", "--check"])
def test_flags_that_only_look_never_apply_tenant_migrations(committed, settings, flag):
    # Committed: django-tenants' standard executor, which these flags need, holds the lock on a connection of
    # its own, and would wait for the shared lock of a creation still open in the test's transaction.
    from tenants.services import tenant_create

    for slug in ("acme", "globex", "initech"):
        tenant_create(slug=slug, name=slug)
    settings.MIGRATION_MODULES = ADD_FIELD
    with pytest.raises(SystemExit) if flag == "--check" else nullcontext():
        call_command("migrate_schemas", "--tenant", flag, stdout=StringIO(), stderr=StringIO())
    assert all(applied(s) == REAL_MIGRATIONS for s in ("tenant_acme", "tenant_globex", "tenant_initech"))


def test_fail_fast_leaves_the_pooled_schemas_it_never_reached_unclaimable(three_tenants, settings):
    from tenants.engine.pool import pool_provision
    from tenants.models import PooledSchema

    pool_provision(count=1)
    give_two_contexts_one_title(three_tenants[0])
    settings.MIGRATION_MODULES = UNIQUE_TITLE
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("migrate_schemas", "--fail-fast", stdout=out, stderr=StringIO())

    # A run over everything counts public too (current here); the three tenants and the pool were never reached.
    assert "Migrated 0 schema(s), 1 already current, 1 failed" in out.getvalue()
    pooled = PooledSchema.objects.get()
    assert applied(pooled.schema_name) == REAL_MIGRATIONS
    from tenants.engine.template import code_fingerprint

    assert pooled.fingerprint != code_fingerprint()  # behind the code, so never claimed


def test_the_migrator_hands_the_connection_back_on_the_callers_tenant(three_tenants):
    from tenants.engine.migrator import Migrator
    from tenants.engine.schema_state import SchemaState

    acme, globex, _ = three_tenants
    migrator = Migrator()
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "tenant_scratch"')
    with tenant_context(acme):
        state = SchemaState("tenant_scratch", has_table=False)
        assert not migrator.migrate_one("tenant_scratch", state, migrator.plan_for(state)).failed
        assert connection.schema_name == "tenant_acme"
        context_create(key="still-in-acme")
    with tenant_context(globex):
        from contexts.models import Context

        assert not Context.objects.filter(key="still-in-acme").exists()


def test_schemas_in_the_same_state_as_the_first_are_replayed_not_migrated_through_django(three_tenants, settings):
    from tenants.engine.migrator import Migrator

    settings.MIGRATION_MODULES = ADD_FIELD
    migrator = Migrator()
    result = migrator.migrate(["tenant_acme", "tenant_globex", "tenant_initech"])

    # The first through Django (its statements captured), the others by replay: recorded in their own
    # round trip. The search path the backend sets (SET LOCAL in a transaction) is not part of what is kept.
    assert [outcome.recorded for outcome in result.outcomes] == [False, True, True]
    [statements] = migrator._replays.values()
    assert "set local search_path" not in statements.lower() and 'ADD COLUMN "note"' in statements
    assert all(applied(s) == [*REAL_MIGRATIONS, "0002_context_note"] for s in ("tenant_acme", "tenant_initech"))


@pytest.mark.parametrize("failing_slug", ["globex", "kappa"])  # schemas run in name order: 2nd or 3rd
def test_outside_a_transaction_each_schema_commits_on_its_own_and_a_failing_one_is_left_clean(
    committed, settings, failing_slug
):
    """The run as an operator starts it (no test transaction around it): schemas are replayed several to a round
    trip, each in a transaction of its own committed asynchronously, so a schema that fails among replayed ones
    (the first of a batch, or in its middle) leaves the others applied, and itself exactly as it was."""
    import psycopg2

    from tenants.engine.migrator import Migrator
    from tenants.services import tenant_create

    slugs = sorted(["acme", "initech", "umbrella", "zeta", failing_slug])
    failing, failing_schema = slugs.index(failing_slug), f"tenant_{failing_slug}"
    tenants = {slug: tenant_create(slug=slug, name=slug)[0] for slug in slugs}
    give_two_contexts_one_title(tenants[failing_slug])
    settings.MIGRATION_MODULES = UNIQUE_TITLE
    batches: list[tuple[list[str], list[bool]]] = []
    replay_batch = Migrator._replay_batch

    def spy(self, schema_names, plan, statements):
        outcomes = replay_batch(self, schema_names, plan, statements)
        batches.append((list(schema_names), [outcome.failed for outcome in outcomes]))
        return outcomes

    Migrator._replay_batch = spy
    try:
        with pytest.raises(CommandError, match=r"1 schema\(s\) failed; they are unchanged"):
            migrate("--tenant")
    finally:
        Migrator._replay_batch = replay_batch

    # acme went through Django (its statements kept); the others were replayed in one round trip until the failing
    # one (then Django failed it too), and those after it in the next.
    schemas = [f"tenant_{slug}" for slug in slugs]
    assert batches[0] == (schemas[1:], [False] * (failing - 1) + [True])
    if failing < 4:
        assert batches[1][0] == schemas[failing + 1:] and not any(batches[1][1])
    # What another session sees: committed, schema by schema.
    conn = psycopg2.connect(**connection.get_connection_params())
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT n.nspname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE c.conname = 'contexts_title_unique_test' ORDER BY 1"
            )
            assert [row[0] for row in cursor.fetchall()] == sorted(set(schemas) - {failing_schema})
            cursor.execute("SELECT schema_name, outcome FROM migration_run_schemas ORDER BY schema_name")
            assert cursor.fetchall() == sorted(
                (schema, "failed" if schema == failing_schema else "applied") for schema in schemas
            )
    finally:
        conn.close()
    assert applied(failing_schema) == REAL_MIGRATIONS
    assert not has_constraint(failing_schema, "contexts_title_unique_test")
    for schema in set(schemas) - {failing_schema}:
        assert applied(schema) == [*REAL_MIGRATIONS, "0002_context_title_unique"]


def test_a_run_does_not_run_djangos_migrate_on_public_when_public_has_every_migration(public_tenant, settings,
                                                                                       monkeypatch):
    from tenants.engine import executor as executors

    calls: list[str] = []
    command_class = executors.get_tenant_base_migrate_command_class()

    class Counting(command_class):
        def execute(self, *args, **options):
            calls.append("migrate")
            return super().execute(*args, **options)

    monkeypatch.setattr(executors, "get_tenant_base_migrate_command_class", lambda: Counting)
    out, _ = migrate("--shared")
    assert calls == []
    assert "Migrated 0 schema(s), 1 already current, 0 failed" in out

    # A migration public lacks (a tenant app's: Django's migrate records it in public too): Django's migrate runs.
    settings.MIGRATION_MODULES = ADD_FIELD
    migrate("--shared")
    assert calls == ["migrate"]
    assert "0002_context_note" in applied("public")
