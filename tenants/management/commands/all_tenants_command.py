"""django-tenants' all_tenants_command (run a command in every tenant's schema), with one-line refusals."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import CommandError
from django_tenants.management.commands.all_tenants_command import Command as AllTenantsCommand

from tenants.management.base import ProjectCommand, errors_in_one_line
from tenants.schema_switch import restoring_schema


class Command(ProjectCommand, AllTenantsCommand):
    help = (
        "Run a Django command in every tenant's schema, public included unless --no-public. "
        "The connection is back on its previous schema afterwards, even when the command fails."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        # django-tenants leaves the connection on the last tenant (call_command in a task or a shell).
        with restoring_schema():
            super().handle(*args, **options)

    def run_from_argv(self, argv: list[str]) -> None:
        # django-tenants runs the wrapped command here, outside the handling BaseCommand gives handle().
        try:
            with errors_in_one_line(traceback="--traceback" in argv), restoring_schema():
                self.run_wrapped_command_from_argv(argv)
        except CommandError as exc:
            if "--traceback" in argv:
                raise
            sys.stderr.write(f"CommandError: {exc}\n")
            sys.exit(exc.returncode)
