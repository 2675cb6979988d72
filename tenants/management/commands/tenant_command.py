"""django-tenants' tenant_command (run any command in one tenant's schema), with one-line refusals."""

from __future__ import annotations

import sys

from django.core.management.base import CommandError
from django_tenants.management.commands.tenant_command import Command as TenantCommand


class Command(TenantCommand):
    help = "Run a Django command in one tenant's schema: tenant_command showmigrations --schema tenant_acme"

    def run_from_argv(self, argv: list[str]) -> None:
        # django-tenants raises CommandError here, outside the handling BaseCommand gives handle().
        try:
            super().run_from_argv(argv)
        except CommandError as exc:
            if "--traceback" in argv:
                raise
            sys.stderr.write(f"CommandError: {exc}\n")
            sys.exit(exc.returncode)
