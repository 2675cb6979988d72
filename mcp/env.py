"""Reading configuration from the environment (used by settings only)."""

from __future__ import annotations

import os
import re
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured


class ConfigurationError(ImproperlyConfigured):
    """The environment does not describe a runnable project; the message says what to set."""


def env_bool(name: str, default: bool = False) -> bool:
    """Read a boolean: 1/true/yes/on are true, 0/false/no/off false; anything else is an error."""
    value = os.environ.get(name, "").strip().lower()
    if value == "":
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name}={os.environ[name]!r} is not a boolean; use true or false.")


def env_int(name: str, default: int) -> int:
    """Read a whole number."""
    value = os.environ.get(name, "").strip()
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigurationError(f"{name}={value!r} is not a whole number.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    """Read a comma-separated list."""
    value = os.environ.get(name, "").strip()
    if value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# PostgreSQL is the only database this project runs on (schemas per tenant); dj_database_url would
# happily configure MySQL or SQLite, which the tenants backend then treats as PostgreSQL.
POSTGRES_SCHEMES = ("postgres", "postgresql")
DATABASE_URL_EXAMPLE = "postgres://user:password@host:5432/dbname"


def mask_password(url: str) -> str:
    """Return the URL with its password (user part or query) replaced by ***, for messages."""
    # Up to the last @: a password with an unencoded @ or / must not leak either.
    masked = re.sub(r"^([^/]*//[^/@:]*:).*@", r"\1***@", url)
    return re.sub(r"(?i)([?&]password=)[^&]*", r"\1***", masked)


def database_from_url(name: str, url: str) -> dict[str, Any]:
    """Parse a PostgreSQL URL into Django DATABASES fields; refuse any other scheme or a malformed URL."""
    shown = f"{name}={mask_password(url)!r}"
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if not scheme:
        raise ConfigurationError(f"{shown} is not a URL; use {DATABASE_URL_EXAMPLE}.")
    if scheme not in POSTGRES_SCHEMES:
        accepted = " or ".join(f"{s}://" for s in POSTGRES_SCHEMES)
        raise ConfigurationError(f"{shown} is not PostgreSQL; only {accepted} URLs are accepted.")
    try:
        database: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True))
    except ValueError:  # dj_database_url's ParseError: a port that is not a number, an unquoted character
        raise ConfigurationError(
            f"{shown} is not a valid URL: check the port, and percent-encode special characters in the user "
            f"and password; use {DATABASE_URL_EXAMPLE}."
        ) from None
    if not database.get("NAME") and "service" not in database.get("OPTIONS", {}):
        raise ConfigurationError(f"{shown} names no database; use {DATABASE_URL_EXAMPLE}.")
    return database
