"""Which package may import which: the tenant apps never reach into the migration engine, and the engine's private
uses of Django sit in tenants.django_internals alone."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    """Every module a Python file imports, at module level or inside functions."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def sources(package: str) -> list[Path]:
    return sorted(path for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts)


def test_the_tenant_apps_never_import_the_migration_engine():
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in imported_modules(path) if m.startswith("tenants.engine"))
        for path in sources("contexts")
    }

    assert sources("contexts"), "no sources found under contexts/"
    assert {path: found for path, found in offenders.items() if found} == {}


def test_only_django_internals_reaches_into_djangos_private_migration_api():
    private = ("MigrationExecutor.__new__", "_create_project_state", ".applied_migrations =", "connection.connection",
               ".mogrify(")
    found = {
        f"{path.relative_to(ROOT)}: {name}"
        for package in ("tenants", "contexts", "audit", "mcp")
        for path in sources(package)
        if path.name != "django_internals.py"
        for name in private
        if name in path.read_text()
    }

    assert found == set()


def test_the_boundary_check_sees_an_engine_import(tmp_path):
    module = tmp_path / "sample.py"
    module.write_text("def f():\n    from tenants.engine.status import migration_status\n")

    assert "tenants.engine.status" in imported_modules(module)
