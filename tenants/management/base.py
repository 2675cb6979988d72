"""What every project command shares: one clear line instead of a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.request_id import command_actor_label
from tenants.db_errors import CLOSED_CONNECTION_ERRORS, DATABASE_ERRORS, connection_lost, first_loss, sqlstate
from tenants.engine.progress import PROGRESS_MODES
from tenants.errors import TenantError, first_line
from tenants.schema_switch import restoring_schema
from tenants.session_database import session_database

# What to do about the refusals an operator meets most.
SQLSTATE_HINTS = {
    "42501": " (the database role lacks a privilege: creating tenants needs CREATE on the database)",
    "42P01": " (a table is missing: run manage.py migrate_schemas)",
    "3F000": " (a schema is missing: see migrate_schemas --schema in the README)",
}
LOST_HINT = " (the server restarted, or the session was terminated; what was not committed was rolled back)"

# What a command turns into one line: the domain's refusals, and every database error, Django's or the driver's.
REPORTED_ERRORS: tuple[type[BaseException], ...] = (TenantError, *DATABASE_ERRORS)


def as_command_error(exc: BaseException) -> CommandError:
    """Turn a domain or database error into a one-line CommandError."""
    if isinstance(exc, TenantError):
        return CommandError(str(exc))
    if connection_lost(exc):
        exc = first_loss(exc)
    code = sqlstate(exc)
    if connection_lost(exc):
        if code is None and not isinstance(exc, CLOSED_CONNECTION_ERRORS):
            # No SQLSTATE: the server never answered (refused, down, bad credentials) or dropped the socket.
            return CommandError(f"Cannot reach the database: {first_line(exc)}")
        return CommandError(f"Lost the connection to the database: {first_line(exc)}{LOST_HINT}")
    return CommandError(f"The database refused: {first_line(exc)}{SQLSTATE_HINTS.get(code or '', '')}")


@contextmanager
def errors_in_one_line(*, traceback: bool = False) -> Iterator[None]:
    """Turn a domain or database error raised in the block into a one-line CommandError (unless --traceback)."""
    try:
        yield
    except REPORTED_ERRORS as exc:
        if traceback:
            raise
        raise as_command_error(exc) from exc


def positive_int(value: str) -> int:
    """Read a whole number of 1 or more (an argparse type)."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, not {value!r}")
    return number


def slug_list(value: str) -> list[str]:
    """Read comma-separated tenant slugs (an argparse type): `acme,globex`."""
    slugs = [slug.strip() for slug in value.split(",") if slug.strip()]
    if not slugs:
        raise argparse.ArgumentTypeError(f"must name one tenant slug or more, separated by commas, not {value!r}")
    return list(dict.fromkeys(slugs))


def add_wave_arguments(parser: CommandParser, *, plan: bool = True) -> None:
    """The options that choose a wave of tenants: --tenants, --plan (unless the command adds its own), --canary."""
    parser.add_argument(
        "--tenants", type=slug_list, metavar="SLUG,SLUG",
        help="Only these tenants (slugs, comma-separated); an unknown slug is refused.",
    )
    if plan:
        parser.add_argument("--plan", dest="plan", metavar="PLAN", help="Only the tenants on this plan.")
    parser.add_argument(
        "--canary", type=positive_int, metavar="N",
        help="Only N tenants (of those the other options choose), the same N on every run: "
        "those whose schema name's MD5 sorts first.",
    )


def add_progress_argument(parser: CommandParser) -> None:
    """--progress: how a run over many schemas shows itself (tenants.engine.progress)."""
    parser.add_argument(
        "--progress", choices=PROGRESS_MODES, default="auto",
        help="A live bar, or a line per schema; auto (the default): a bar on a terminal, lines elsewhere.",
    )


class OneLineCommandParser(CommandParser):
    """Django's parser, refusing bad arguments on the command line in one line (the usage is one --help away)."""

    def error(self, message: str) -> NoReturn:
        if self.called_from_command_line:
            self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
        raise CommandError(f"Error: {message}")


class ProjectCommand(BaseCommand):
    """A command whose refusals print one line on stderr and exit non-zero."""

    # A command that holds session state (the migration lock, a transaction per schema) runs on
    # MIGRATION_DATABASE_URL when it is set, and refuses to run through a transaction pooler without it.
    needs_session = False

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = OneLineCommandParser  # Django builds a CommandParser and offers no hook for the class
        return parser

    def execute(self, *args: Any, **options: Any) -> str | None:
        with errors_in_one_line(traceback=bool(options.get("traceback"))):
            with session_database() if self.needs_session else nullcontext():
                return super().execute(*args, **options)

    @property
    def actor_label(self) -> str:
        """How audit entries name whoever runs this command."""
        return command_actor_label(self.__module__.rsplit(".", 1)[-1])


class WrappingCommand(ProjectCommand):
    """A django-tenants command that runs another command in tenant schemas: one-line errors, the schema put back."""

    def handle(self, *args: Any, **options: Any) -> None:
        # django-tenants leaves the connection on the tenant it switched to (call_command in a task or a shell).
        with restoring_schema():
            super().handle(*args, **options)

    def run_wrapped(self, argv: list[str]) -> None:
        """Parse argv and run the wrapped command, as django-tenants does."""
        super().run_from_argv(argv)

    def run_from_argv(self, argv: list[str]) -> None:
        # django-tenants parses and runs the wrapped command here, outside the handling BaseCommand gives handle().
        traceback = "--traceback" in argv
        try:
            with errors_in_one_line(traceback=traceback), restoring_schema():
                self.run_wrapped(argv)
        except CommandError as exc:
            if traceback:
                raise
            sys.stderr.write(f"CommandError: {exc}\n")
            sys.exit(exc.returncode)


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
