"""Waves: migrate some tenants first (--tenants, --plan, --canary), then the rest; unknown ones refused."""

import hashlib
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tenants.models import MigrationRun, PooledSchema
from tenants.services import tenant_create
from tests.catalog import applied
from tests.conftest import run_manage
from tests.fleet_migrations import REAL_MIGRATIONS

ADD_FIELD = {"contexts": "tests.fleet_migrations.add_field"}
NOTE = "0002_context_note"
SLUGS = ("acme", "globex", "initech", "umbrella", "hooli")


def migrate(*args: str, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("migrate_schemas", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def migrated_schemas() -> list[str]:
    """The tenant schemas that have the example migration."""
    return [f"tenant_{slug}" for slug in SLUGS if applied(f"tenant_{slug}")[-1:] == [NOTE]]


def by_hash(schema_names: list[str]) -> list[str]:
    return sorted(schema_names, key=lambda name: hashlib.md5(name.encode()).hexdigest())


@pytest.fixture
def five_tenants(make_tenant, settings):
    """Five tenants, acme and hooli on the enterprise plan, all one migration behind the code."""
    tenants = [make_tenant(slug, plan="enterprise" if slug in ("acme", "hooli") else "free") for slug in SLUGS]
    settings.MIGRATION_MODULES = ADD_FIELD
    return tenants


def test_tenants_migrates_only_the_tenants_named(five_tenants):
    out, _ = migrate("--tenant", "--tenants", "initech,acme")

    lines = out.strip().splitlines()
    assert re.fullmatch(rf"\[1/2\] tenant_acme  contexts\.{NOTE}  applied  \d+ ms", lines[0])
    assert re.fullmatch(rf"\[2/2\] tenant_initech  contexts\.{NOTE}  applied  \d+ ms", lines[1])
    assert lines[-1].startswith("Migrated 2 schema(s), 0 already current, 0 failed")
    assert migrated_schemas() == ["tenant_acme", "tenant_initech"]
    assert applied("tenant_globex") == REAL_MIGRATIONS


def test_plan_migrates_only_the_tenants_on_that_plan(five_tenants):
    out, _ = migrate("--tenant", "--plan", "enterprise")

    assert "Migrated 2 schema(s), 0 already current, 0 failed" in out
    assert migrated_schemas() == ["tenant_acme", "tenant_hooli"]


def test_a_plan_no_tenant_is_on_migrates_nothing_and_says_so(five_tenants):
    out, _ = migrate("--tenant", "--plan", "team")

    assert out.strip().splitlines()[-1].startswith("Migrated 0 schema(s), 0 already current, 0 failed")
    assert migrated_schemas() == []


def test_canary_takes_the_same_tenants_every_time_and_a_plain_run_afterwards_takes_the_rest(five_tenants):
    canaries = by_hash([f"tenant_{slug}" for slug in SLUGS])[:2]

    out, _ = migrate("--tenant", "--canary", "2")
    assert "Migrated 2 schema(s), 0 already current, 0 failed" in out
    assert migrated_schemas() == sorted(canaries)

    out, _ = migrate("--tenant", "--canary", "2")  # the same two: nothing left to do
    assert "Migrated 0 schema(s), 2 already current, 0 failed" in out

    out, _ = migrate("--tenant")  # the rest
    assert "Migrated 3 schema(s), 2 already current, 0 failed" in out
    assert not any(schema in out for schema in canaries)
    assert migrated_schemas() == [f"tenant_{slug}" for slug in SLUGS]


def test_canary_chooses_among_the_tenants_the_other_options_chose(five_tenants):
    out, _ = migrate("--tenant", "--plan", "enterprise", "--canary", "1")

    assert "Migrated 1 schema(s), 0 already current, 0 failed" in out
    assert migrated_schemas() == by_hash(["tenant_acme", "tenant_hooli"])[:1]


def test_a_canary_larger_than_the_fleet_takes_every_tenant(five_tenants):
    out, _ = migrate("--tenant", "--canary", "50")

    assert "Migrated 5 schema(s), 0 already current, 0 failed" in out


def test_a_wave_migrates_public_when_not_told_tenants_only_but_never_the_pool(five_tenants, settings):
    from tenants.engine.pool import pool_provision

    settings.MIGRATION_MODULES = {}
    pool_provision(count=1)  # at the real migrations: one behind the example's
    settings.MIGRATION_MODULES = ADD_FIELD
    pooled = PooledSchema.objects.get()
    fingerprint = pooled.fingerprint

    out, _ = migrate("--tenants", "globex")

    # public (current) and globex; the pooled schema waits for a run over everything.
    assert "Migrated 1 schema(s), 1 already current, 0 failed" in out
    assert applied(pooled.schema_name) == REAL_MIGRATIONS
    assert PooledSchema.objects.get().fingerprint == fingerprint
    run = MigrationRun.objects.latest("started_at")
    assert (run.schemas_total, run.schemas_migrated) == (2, 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenants", "acme,nope,zilch"], "No tenant has the slug 'nope', 'zilch'."),
        (["--plan", "gold"], "No plan 'gold'; the plans are free, team, enterprise."),
        (["--tenants", "acme", "--schema", "tenant_acme"], "--tenants, --plan and --canary choose tenants; --schema"),
        (["--canary", "1", "--shared"], "--shared migrates public only; --tenants, --plan and --canary choose"),
        (["--tenants", "acme", "--executor", "standard"], "need the fleet executor, not 'standard'."),
        (["--plan", "free", "--fake"], "need the fleet executor, not 'standard' (which --fake selects)."),
        (["--json", "--executor", "standard"], "A wave (--tenants, --plan NAME, --canary) and --json need the fleet executor"),
    ],
)
def test_a_wave_that_cannot_be_run_is_refused_before_anything_runs(five_tenants, args, message):
    runs = MigrationRun.objects.count()

    with pytest.raises(CommandError) as refused:
        migrate(*args)

    assert message in str(refused.value)
    assert migrated_schemas() == []
    assert MigrationRun.objects.count() == runs


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("args", "code", "line"),
    [
        (["--tenants", "nope"], 1, "CommandError: No tenant has the slug 'nope'."),
        (["--plan", "gold"], 1, "CommandError: No plan 'gold'; the plans are free, team, enterprise."),
        (["--canary", "0"], 2, "manage.py migrate_schemas: error: argument --canary: must be a whole number of 1 or "
                               "more, not '0' (see --help)"),
        (["--tenants", " , "], 2, "manage.py migrate_schemas: error: argument --tenants: must name one tenant slug "
                                  "or more, separated by commas, not ' , ' (see --help)"),
    ],
)
def test_bad_wave_options_on_the_command_line_are_one_line_and_a_non_zero_exit(db, args, code, line):
    result = run_manage("migrate_schemas", "--tenant", *args)

    assert (result.returncode, result.stderr, result.stdout) == (code, line + "\n", "")


def test_plan_alone_is_still_djangos_and_so_is_plan_before_an_app_label(committed, settings):
    # Committed: --plan runs django-tenants' standard executor, which holds the lock on a connection of its own.
    for slug in ("acme", "globex"):
        tenant_create(slug=slug, name=slug)
    settings.MIGRATION_MODULES = ADD_FIELD
    for args in (["--plan"], ["--plan", "contexts"], ["--plan", "contexts", NOTE]):
        out, _ = migrate("--tenant", *args)
        assert "Planned operations:" in out and f"contexts.{NOTE}" in out, args
    assert applied("tenant_acme") == applied("tenant_globex") == REAL_MIGRATIONS


@pytest.mark.parametrize("json_output", [False, True])
def test_migration_status_shows_the_mix_after_a_canary_and_check_gates_the_wave_or_the_fleet(
    five_tenants, json_output
):
    migrate("--tenant", "--canary", "2")
    canaries = sorted(by_hash([f"tenant_{slug}" for slug in SLUGS])[:2])
    rest = sorted(set(f"tenant_{slug}" for slug in SLUGS) - set(canaries))

    out = StringIO()
    call_command("migration_status", *(["--json"] if json_output else ["--mix"]), stdout=out)
    if json_output:
        import json

        mix = json.loads(out.getvalue())["mix"]
        assert [(group["last_applied"], group["state"], group["pending"], group["schemas"], group["examples"])
                for group in mix] == [
            ({"contexts": NOTE}, "current", 0, 2, canaries),
            ({"contexts": REAL_MIGRATIONS[-1]}, "behind", 1, 3, rest),
        ]
    else:
        lines = out.getvalue().splitlines()
        assert lines[0] == "By last applied migration:"
        assert lines[1].split() == ["contexts", NOTE, "2", "current"]
        assert lines[2].split()[:3] == ["contexts", REAL_MIGRATIONS[-1], "3"]
        assert lines[2].endswith(f"behind by 1: {', '.join(rest)}")
        assert lines[3].startswith("6 schemas: 3 current, 3 behind (3 migrations pending)")

    # The deploy gate: the canaries are current, the fleet is not.
    call_command("migration_status", "--check", "--canary", "2", stdout=StringIO())
    with pytest.raises(SystemExit) as gate:
        call_command("migration_status", "--check", stdout=StringIO())
    assert gate.value.code == 1
    with pytest.raises(SystemExit):
        call_command("migration_status", "--check", "--tenants", rest[0].removeprefix("tenant_"), stdout=StringIO())


def test_migration_status_names_a_few_of_a_large_group_and_counts_the_others(make_tenant, settings):
    slugs = [f"t{n}" for n in range(5)]
    for slug in slugs:
        make_tenant(slug)
    settings.MIGRATION_MODULES = ADD_FIELD

    out = StringIO()
    call_command("migration_status", "--mix", stdout=out)

    assert out.getvalue().splitlines()[1].endswith("5  behind by 1: tenant_t0, tenant_t1, tenant_t2 and 2 more")


def test_migration_status_with_a_wave_lists_that_wave_and_public(five_tenants):
    out = StringIO()
    call_command("migration_status", "--plan", "enterprise", stdout=out)

    rows = [line.split()[0] for line in out.getvalue().splitlines()[1:4]]
    assert rows == ["public", "tenant_acme", "tenant_hooli"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenants", "nope"], "No tenant has the slug 'nope'."),
        (["--plan", "gold"], "No plan 'gold'; the plans are free, team, enterprise."),
        (["--plan", "free", "--schema", "tenant_acme"], "Give either --schema or a wave"),
    ],
)
def test_migration_status_refuses_an_unknown_wave_in_one_line(five_tenants, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("migration_status", *args, stdout=StringIO())


@pytest.mark.subprocess
def test_migration_status_refuses_an_unknown_slug_on_the_command_line_in_one_line(db):
    result = run_manage("migration_status", "--tenants", "nope")

    assert (result.returncode, result.stderr, result.stdout) == (1, "CommandError: No tenant has the slug 'nope'.\n", "")
