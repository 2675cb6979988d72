"""Tenant slugs, schema names and domains: the one place their rules live.

A schema name is only ever built from a slug that passed validate_slug, and
only ever reaches SQL quoted as an identifier (quote_schema).
"""

from __future__ import annotations

import re

from tenants.errors import InvalidDomain, InvalidSlug

PUBLIC_SCHEMA = "public"
SCHEMA_PREFIX = "tenant_"
# The name sqlmigrate renders tenant apps on when no tenant exists yet (slug "template" is reserved for it).
TEMPLATE_SCHEMA = f"{SCHEMA_PREFIX}template"
MAX_SCHEMA_NAME_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1
MAX_SLUG_LENGTH = MAX_SCHEMA_NAME_BYTES - len(SCHEMA_PREFIX)

# Lowercase letters, digits and single hyphens; a letter first, no hyphen last.
# The same shape is a valid DNS label, so <slug>.<BASE_DOMAIN> is a valid host.
SLUG_PATTERN = re.compile(r"[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*")
RESERVED_SLUGS = frozenset({"public", "information_schema", "template", "www"})
RESERVED_PREFIXES = ("pg-", "pg_")

# A host name: dot-separated DNS labels, lowercase.
HOST_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DOMAIN_PATTERN = re.compile(rf"{HOST_LABEL}(?:\.{HOST_LABEL})*")
MAX_DOMAIN_LENGTH = 253


def validate_slug(slug: str) -> str:
    """Return the slug unchanged if it is valid; raise InvalidSlug saying why if not."""
    if not isinstance(slug, str) or slug == "":
        raise InvalidSlug("The tenant slug is empty.")
    if slug in RESERVED_SLUGS or slug.startswith(RESERVED_PREFIXES):
        raise InvalidSlug(f"The tenant slug {slug!r} is reserved.")
    if len(slug.encode()) > MAX_SLUG_LENGTH:
        raise InvalidSlug(
            f"The tenant slug is {len(slug.encode())} characters long; the most is {MAX_SLUG_LENGTH}, "
            f"so that its schema name fits PostgreSQL's {MAX_SCHEMA_NAME_BYTES}-byte limit."
        )
    if not SLUG_PATTERN.fullmatch(slug):
        raise InvalidSlug(
            f"The tenant slug {slug!r} is not valid: use lowercase letters, digits and single hyphens, "
            "starting with a letter and not ending with a hyphen."
        )
    return slug


def schema_name_for(slug: str) -> str:
    """Return the schema name of the tenant with this slug (validating the slug first)."""
    return SCHEMA_PREFIX + validate_slug(slug).replace("-", "_")


def validate_domain(domain: str) -> str:
    """Return the domain if it is a valid lowercase host name; raise InvalidDomain if not."""
    if not isinstance(domain, str) or domain == "":
        raise InvalidDomain("The domain is empty.")
    if len(domain) > MAX_DOMAIN_LENGTH or not DOMAIN_PATTERN.fullmatch(domain):
        raise InvalidDomain(
            f"The domain {domain!r} is not a valid host name: use lowercase letters, digits, "
            "hyphens and dots, with no port or scheme."
        )
    return domain


def quote_schema(schema_name: str) -> str:
    """Quote a schema name as a SQL identifier."""
    return '"' + schema_name.replace('"', '""') + '"'
