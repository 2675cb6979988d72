"""django-tenants' tenant_command (run any command in one tenant's schema), with one-line refusals."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import CommandError
from django_tenants.management.commands.tenant_command import Command as TenantCommand

from tenants.management.base import ProjectCommand, errors_in_one_line
from tenants.schema_switch import restoring_schema


class Command(ProjectCommand, TenantCommand):
    help = (
        "Run a Django command in one tenant's schema: tenant_command showmigrations contexts --schema tenant_acme. "
        "The connection is back on its previous schema afterwards, even when the command fails."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        # django-tenants switches the connection to the tenant and leaves it there (call_command in a task or a shell).
        with restoring_schema():
            super().handle(*args, **options)

    def run_from_argv(self, argv: list[str]) -> None:
        # django-tenants parses and runs the wrapped command here, outside the handling BaseCommand gives handle().
        try:
            with errors_in_one_line(traceback="--traceback" in argv), restoring_schema():
                super().run_from_argv(argv)
        except CommandError as exc:
            if "--traceback" in argv:
                raise
            sys.stderr.write(f"CommandError: {exc}\n")
            sys.exit(exc.returncode)
