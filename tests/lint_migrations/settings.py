"""The project's settings with the contexts app's migrations taken from the examples here (for a child process).

LINT_EXAMPLES picks which: unsafe (the default) or safe.
"""

import os

from mcp.settings import *  # noqa: F403

MIGRATION_MODULES = {"contexts": f"tests.lint_migrations.{os.environ.get('LINT_EXAMPLES', 'unsafe')}"}
