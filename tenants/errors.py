"""The domain's exceptions: each carries a message fit for a person."""


def first_line(exc: BaseException) -> str:
    """Return the first non-empty line of an exception's message (its class name if it has none)."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return exc.__class__.__name__


class TenantError(ValueError):
    """A tenant operation was refused; nothing was changed."""


class InvalidSlug(TenantError):
    """The slug breaks the naming rules."""


class InvalidDomain(TenantError):
    """The domain is not a valid host name."""


class TenantExists(TenantError):
    """A tenant with that slug (or schema) already exists."""


class DomainTaken(TenantError):
    """Another tenant already serves that domain."""


class TenantNotFound(TenantError):
    """No tenant has that slug."""


class UnknownMigration(TenantError):
    """No migration of that name (or app) in the code."""
