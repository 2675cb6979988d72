"""Parsing what operators type into command options."""

from __future__ import annotations

import datetime as dt
import re

from django.core.management.base import CommandError

DAYS = re.compile(r"([1-9]\d{0,4})d")


def parse_days(value: str, option: str) -> dt.timedelta:
    """Read a number of days such as 90d; refuse anything else naming the option."""
    match = DAYS.fullmatch(value.strip())
    if not match:
        raise CommandError(f"{option} {value!r} is not a number of days such as 90d.")
    return dt.timedelta(days=int(match.group(1)))
