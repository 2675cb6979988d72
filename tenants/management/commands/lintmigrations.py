"""django-migration-linter's lintmigrations, with this project's PostgreSQL checks (tenants.ci.migration_lint).

The linter is imported here, when this command runs, and never by the settings or app loading: a
migration run, or any other command, does not pay for importing it (about 0.2 s of start-up).
"""

from __future__ import annotations

from django.core.management.base import CommandError

try:
    from django_migration_linter.management.commands.lintmigrations import Command as LinterCommand
except ImportError as exc:  # production installs requirements.txt without the development tools
    raise CommandError(f"lintmigrations needs django-migration-linter (development and CI only): {exc}") from None

from tenants.ci.migration_lint import register_sql_analyser

register_sql_analyser()


class Command(LinterCommand):
    pass
