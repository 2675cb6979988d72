"""django-tenants' all_tenants_command (run a command in every tenant's schema), with one-line refusals."""

from __future__ import annotations

from django_tenants.management.commands.all_tenants_command import Command as AllTenantsCommand

from tenants.management.base import WrappingCommand


class Command(WrappingCommand, AllTenantsCommand):
    help = (
        "Run a Django command in every tenant's schema, public included unless --no-public. "
        "The connection is back on its previous schema afterwards, even when the command fails."
    )

    def run_wrapped(self, argv: list[str]) -> None:
        # Its own run_from_argv would print errors its way; this is the part that runs the command.
        self.run_wrapped_command_from_argv(argv)
