"""The project's settings with one extra tenant migration (contexts.0002_context_note), for the benchmark."""

from mcp.settings import *  # noqa: F403

MIGRATION_MODULES = {"contexts": "tests.fleet_migrations.add_field"}
