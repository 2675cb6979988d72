"""Remove audit entries older than a cut: the one sanctioned way to delete from audit_logs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import CommandError, CommandParser

from audit.services import audit_prune
from tenants.management.base import ProjectCommand
from tenants.management.options import parse_days

# The database refuses to delete younger entries (audit migration 0003), whoever asks.
MINIMUM_DAYS = 30


def parse_age(value: str) -> dt.timedelta:
    """Read an age like 365d, no younger than the database lets go."""
    age = parse_days(value, "--older-than")
    if age.days < MINIMUM_DAYS:
        raise CommandError(f"--older-than {value!r} is too young: entries are kept at least {MINIMUM_DAYS} days.")
    return age


class Command(ProjectCommand):
    help = (
        "Delete the audit entries older than --older-than (e.g. 365d), print how many, and record the pruning "
        "itself as an entry. audit_logs refuses every other UPDATE, DELETE and TRUNCATE."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", required=True, help="An age in days, e.g. 365d.")
        parser.add_argument("--dry-run", action="store_true", help="Only count what would be deleted.")

    def handle(self, *args: Any, **options: Any) -> None:
        age = parse_age(options["older_than"])
        count = audit_prune(older_than=age, dry_run=options["dry_run"], actor_label=self.actor_label)
        if options["dry_run"]:
            self.stdout.write(f"{count} audit entries are older than {age.days} days (dry run: nothing deleted).")
        else:
            self.stdout.write(self.style.SUCCESS(f"Deleted {count} audit entries older than {age.days} days."))
