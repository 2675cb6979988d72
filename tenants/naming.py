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
# Written in the syntax Python's re and PostgreSQL's regular expressions share:
# the tenants table's check constraint is built from this same string.
SLUG_REGEX = r"[a-z]([a-z0-9]|-(?=[a-z0-9]))*"
SLUG_PATTERN = re.compile(SLUG_REGEX)
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
    """Return the domain as it is stored (lowercase, IDNA-encoded); raise InvalidDomain saying why if invalid.

    A domain is a host name alone: no scheme, port, path or spaces. Case is
    normalised (host names are case-insensitive) and international names are
    stored in their ASCII form, which is what browsers send in the Host header.
    """
    if not isinstance(domain, str) or domain.strip() == "":
        raise InvalidDomain("The domain is empty.")
    domain = domain.strip()
    if "://" in domain:
        raise InvalidDomain(f"The domain {domain!r} has a scheme: give the host name alone, e.g. acme.example.com.")
    if any(char.isspace() for char in domain):
        raise InvalidDomain(f"The domain {domain!r} contains a space: a host name has none.")
    if "/" in domain or "?" in domain or "#" in domain:
        raise InvalidDomain(f"The domain {domain!r} has a path: give the host name alone, e.g. acme.example.com.")
    if ":" in domain:
        raise InvalidDomain(
            f"The domain {domain!r} has a port: give the host name alone (the port is the server's, see SITE_URL)."
        )
    try:
        # Python's IDNA codec (IDNA 2003) lowercases and turns each non-ASCII label into its xn-- form.
        ascii_domain = domain.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidDomain(f"The domain {domain!r} is not a valid international host name.") from None
    if len(ascii_domain) > MAX_DOMAIN_LENGTH or not DOMAIN_PATTERN.fullmatch(ascii_domain):
        raise InvalidDomain(
            f"The domain {domain!r} is not a valid host name: use letters, digits, hyphens and dots, "
            "each part 1 to 63 characters, not starting or ending with a hyphen."
        )
    return ascii_domain


def quote_schema(schema_name: str) -> str:
    """Quote a schema name as a SQL identifier."""
    return '"' + schema_name.replace('"', '""') + '"'
