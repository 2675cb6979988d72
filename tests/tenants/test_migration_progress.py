"""How a fleet run shows itself: a live bar on a terminal, a line per schema elsewhere, a JSON summary for scripts."""

import json
import os
import re
import subprocess
import sys
import tempfile
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError, OutputWrapper
from django.db import connection
from django_tenants.utils import tenant_context

from contexts.services import context_create
from tenants.engine.progress import ProgressBar, SchemaLines, run_display
from tenants.services import tenant_create
from tests.catalog import applied
from tests.conftest import PROJECT_DIR, child_database_url, run_manage
from tests.fleet_migrations import LATEST_REAL, REAL_MIGRATIONS

UNIQUE_TITLE = {"contexts": "tests.fleet_migrations.unique_title"}
ADD_FIELD = {"contexts": "tests.fleet_migrations.add_field"}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# A frame of the bar: `Migrating ━━━━━━━  3/3 schemas  41.3/s  0:00:00 left  0 failed`
BAR = re.compile(r"(Migrating|Provisioning) [━╸╺ ]+ (\d+)/(\d+) schemas ([\d.,]+|-)/s (\d+:\d\d:\d\d|-:--:--) left (\d+) failed")
ONE_BACK = ("contexts", REAL_MIGRATIONS[-2])


def frames(output: str) -> list[tuple[str, ...]]:
    """The bar's frames as a terminal received them (colours and cursor movements taken out)."""
    return BAR.findall(ANSI.sub("", output))


def run_on_terminal(*args: str, columns: int = 120) -> tuple[int, str, str]:
    """Run manage.py with its stdout on a pseudo-terminal; return the exit code, what the terminal got, stderr."""
    controller, terminal = os.openpty()
    env = {**os.environ, "DATABASE_URL": child_database_url(), "DEBUG": "true", "COLUMNS": str(columns),
           "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    with tempfile.TemporaryFile() as stderr:
        child = subprocess.Popen([sys.executable, *args], cwd=PROJECT_DIR, env=env, stdin=subprocess.DEVNULL,
                                 stdout=terminal, stderr=stderr)
        os.close(terminal)
        received = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the child has closed the terminal
                break
            if not chunk:
                break
            received += chunk
        os.close(controller)
        code = child.wait(timeout=120)
        stderr.seek(0)
        return code, received.decode(), stderr.read().decode()


@pytest.fixture
def three_tenants_one_behind(committed):
    """Three committed tenants, one migration behind the code (for runs in a child process)."""
    for slug in ("acme", "globex", "initech"):
        tenant_create(slug=slug, name=slug)
    result = run_manage("migrate_schemas", "--tenant", *ONE_BACK, "-v", "0")
    assert result.returncode == 0, result.stderr


@pytest.mark.subprocess
def test_on_a_terminal_the_run_draws_one_live_bar_instead_of_a_line_per_schema(three_tenants_one_behind):
    code, terminal, stderr = run_on_terminal("manage.py", "migrate_schemas", "--tenant")

    assert (code, stderr) == (0, "")
    text = ANSI.sub("", terminal)
    assert "[1/3]" not in text  # no line per schema
    last = frames(terminal)[-1]
    assert last[0] == "Migrating" and last[1:3] == ("3", "3") and last[4] == "0:00:00" and last[5] == "0"
    assert re.fullmatch(r"[\d.,]+", last[3])  # schemas a second
    # The bar stays on screen at its final count, the summary line follows it, the cursor is shown again.
    assert re.search(r"3/3 schemas .*\n.*Migrated 3 schema\(s\), 0 already current, 0 failed", text)
    assert "\x1b[?25h" in terminal
    assert all(applied(f"tenant_{slug}") == REAL_MIGRATIONS for slug in ("acme", "globex", "initech"))


@pytest.mark.subprocess
def test_on_a_terminal_progress_lines_asks_for_the_lines(three_tenants_one_behind):
    code, terminal, _ = run_on_terminal("manage.py", "migrate_schemas", "--tenant", "--progress", "lines")

    assert code == 0
    text = ANSI.sub("", terminal)
    assert not frames(terminal)
    assert re.search(rf"\[3/3\] tenant_initech  contexts\.{LATEST_REAL[1]}  applied  \d+ ms", text)


@pytest.mark.subprocess
def test_a_run_with_nothing_to_do_draws_no_bar_and_never_imports_rich(committed):
    tenant_create(slug="acme", name="acme")

    code, terminal, stderr = run_on_terminal("-X", "importtime", "manage.py", "migrate_schemas", "--tenant")

    assert code == 0
    assert "Migrated 0 schema(s), 1 already current, 0 failed" in ANSI.sub("", terminal)
    imported = {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}
    assert "django" in imported  # the import log is there...
    assert not {name for name in imported if name.split(".")[0] == "rich"}  # ...and rich is not in it


def globex_will_fail(make_tenant, settings) -> None:
    """Three tenants and a migration (a unique title) that globex's two contexts of one title make fail there."""
    tenants = [make_tenant(slug) for slug in ("acme", "globex", "initech")]
    with tenant_context(tenants[1]):
        context_create(key="a", title="Same title")
        context_create(key="b", title="Same title")
    settings.MIGRATION_MODULES = UNIQUE_TITLE


def test_the_bar_shows_failures_so_far_and_prints_each_failing_schema_above_it(make_tenant, settings, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    globex_will_fail(make_tenant, settings)

    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match=r"1 schema\(s\) failed"):
        call_command("migrate_schemas", "--tenant", "--progress", "bar", stdout=out, stderr=err)

    text = ANSI.sub("", out.getvalue())
    assert re.search(r"\[2/3\] tenant_globex  contexts\.0002_context_title_unique  FAILED  \d+ ms  IntegrityError", text)
    assert "[1/3]" not in text and "[3/3]" not in text  # the schemas that went well have no line
    last = frames(out.getvalue())[-1]
    assert last[1:3] == ("3", "3") and last[5] == "1"
    assert "Migrated 2 schema(s), 0 already current, 1 failed" in text
    assert "tenant_globex: IntegrityError" in err.getvalue()


def test_a_schema_done_costs_the_bar_two_additions_and_nothing_of_rich():
    bar = ProgressBar(OutputWrapper(StringIO()))
    bar.start(3)

    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"the bar's display was touched per schema ({name})")

    drawing, bar._progress = bar._progress, Untouchable()
    try:
        for _ in range(3):
            bar.advance(failed=False, line=lambda: pytest.fail("a schema that went well has its line formatted"))
    finally:
        bar._progress = drawing
        bar.stop()
    assert (bar.done, bar.failed) == (3, 0)


def test_the_display_is_a_bar_on_a_terminal_and_lines_elsewhere_or_at_verbosity_zero():
    class Terminal(StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(run_display(OutputWrapper(Terminal())), ProgressBar)
    assert isinstance(run_display(OutputWrapper(StringIO())), SchemaLines)
    assert isinstance(run_display(OutputWrapper(StringIO()), mode="bar"), ProgressBar)
    assert isinstance(run_display(OutputWrapper(Terminal()), mode="lines"), SchemaLines)
    assert isinstance(run_display(OutputWrapper(Terminal()), verbosity=0), SchemaLines)


def test_json_prints_the_run_summary_on_stdout_and_the_progress_on_stderr(make_tenant, settings):
    globex_will_fail(make_tenant, settings)

    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match=r"1 schema\(s\) failed"):
        call_command("migrate_schemas", "--tenant", "--json", stdout=out, stderr=err)

    summary = json.loads(out.getvalue())
    assert summary["outcome"] == "failed" and isinstance(summary["run"], int)
    assert summary["schemas"] == {"total": 3, "migrated": 2, "current": 0, "failed": 1, "skipped": 0}
    [failure] = summary["failures"]
    assert failure["schema"] == "tenant_globex"
    assert failure["migrations"] == ["contexts.0002_context_title_unique"]
    assert failure["error"].startswith("IntegrityError: could not create unique index")
    assert [entry["schema"] for entry in summary["migrated"]] == ["tenant_acme", "tenant_initech"]
    assert all(entry["duration_ms"] >= 0 and entry["direction"] == "forwards" for entry in summary["migrated"])
    assert summary["duration_s"] >= 0 and summary["stopped_early"] is False
    assert "[2/3] tenant_globex" in err.getvalue() and "Migrated 2 schema(s)" in err.getvalue()


@pytest.mark.subprocess
def test_json_on_the_command_line_is_the_only_thing_on_stdout_public_step_included(three_tenants_one_behind):
    # Public with a migration to record (a run skips Django's migrate on a public that has them all).
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM public.django_migrations WHERE app = %s AND name = %s", LATEST_REAL)
    result = run_manage("migrate_schemas", "--json")  # public (Django's migrate prints its own lines) and tenants

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["schemas"] == {"total": 4, "migrated": 3, "current": 1, "failed": 0, "skipped": 0}
    assert summary["failures"] == []
    assert "Running migrations:" in result.stderr  # Django's own output for public, out of the document's way
    assert "[3/3] tenant_initech" in result.stderr


def test_a_run_without_failures_in_json_exits_zero_with_every_schema_and_its_timing(make_tenant, settings):
    for slug in ("acme", "globex"):
        make_tenant(slug)
    settings.MIGRATION_MODULES = ADD_FIELD

    out = StringIO()
    call_command("migrate_schemas", "--tenant", "--json", "--canary", "1", stdout=out, stderr=StringIO())

    summary = json.loads(out.getvalue())
    assert summary["outcome"] == "succeeded"
    assert summary["schemas"] == {"total": 1, "migrated": 1, "current": 0, "failed": 0, "skipped": 0}
    assert summary["migrated"][0]["migrations"] == ["contexts.0002_context_note"]


@pytest.mark.parametrize("mode", ["bar", "lines"])
def test_provision_schemas_shows_the_same_progress(public_tenant, mode, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    out = StringIO()
    call_command("provision_schemas", "--count", "2", "--progress", mode, stdout=out)

    text = ANSI.sub("", out.getvalue())
    if mode == "bar":
        last = frames(out.getvalue())[-1]
        assert (last[0], last[1], last[2], last[5]) == ("Provisioning", "2", "2", "0")
    else:
        assert re.search(r"^\[1/2\] pool_[0-9a-f]+  ready  \d+ ms$", text, re.M)
        assert re.search(r"^\[2/2\] pool_[0-9a-f]+  ready  \d+ ms$", text, re.M)
    assert "Added 2 schema(s) to the pool" in text
