"""Example migrations for the engine's tests: each package is the real contexts migrations plus one of its own.

Each package adds the real migrations' folder to its search path, so Django's loader finds them
there, and its own migration depends on the latest real one: the examples follow the code's
migrations as they grow, and tests compare against REAL_MIGRATIONS rather than a fixed list.
"""

from __future__ import annotations

from pathlib import Path

import contexts.migrations

REAL_DIR = Path(contexts.migrations.__file__).parent
# The contexts app's own migrations, in order (their names sort in the order they apply).
REAL_MIGRATIONS = sorted(path.stem for path in REAL_DIR.glob("[0-9][0-9][0-9][0-9]_*.py"))
LATEST_REAL = ("contexts", REAL_MIGRATIONS[-1])


def with_real_migrations(package_path: list[str]) -> list[str]:
    """Return a package's search path with the real migrations' folder after its own."""
    return [*package_path, str(REAL_DIR)]
