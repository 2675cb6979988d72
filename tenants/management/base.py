"""What every project command shares: one clear line instead of a traceback."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, OperationalError

from audit.request_id import command_actor_label
from tenants.errors import TenantError, first_line

# What to do about the refusals an operator meets most.
SQLSTATE_HINTS = {
    "42501": " (the database role lacks a privilege: creating tenants needs CREATE on the database)",
    "42P01": " (a table is missing: run manage.py migrate_schemas)",
    "3F000": " (a schema is missing: see migrate_schemas --schema in the README)",
}


def as_command_error(exc: BaseException) -> CommandError:
    """Turn a domain or database error into a one-line CommandError."""
    if isinstance(exc, TenantError):
        return CommandError(str(exc))
    sqlstate = getattr(exc.__cause__, "pgcode", None)
    if sqlstate is None and isinstance(exc, OperationalError):
        # No SQLSTATE: the server never answered (refused, down, bad credentials).
        return CommandError(f"Cannot reach the database: {first_line(exc)}")
    return CommandError(f"The database refused: {first_line(exc)}{SQLSTATE_HINTS.get(sqlstate, '')}")


class ProjectCommand(BaseCommand):
    """A command whose refusals print one line on stderr and exit non-zero."""

    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except (TenantError, DatabaseError) as exc:
            if options.get("traceback"):
                raise
            raise as_command_error(exc) from exc

    @property
    def actor_label(self) -> str:
        """How audit entries name whoever runs this command."""
        return command_actor_label(self.__module__.rsplit(".", 1)[-1])


class ReplacedCommand(BaseCommand):
    """A django-tenants command that would bypass this project's rules (validation, the lock, the audit log)."""

    instead = ""

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("args", nargs="*", help="Ignored.")

    def handle(self, *args: Any, **options: Any) -> None:
        raise CommandError(f"This project does not use django-tenants' {self.name}: {self.instead}")

    @property
    def name(self) -> str:
        return self.__module__.rsplit(".", 1)[-1]
