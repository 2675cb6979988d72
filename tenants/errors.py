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


class UnknownPlan(TenantError):
    """No plan of that name."""


# The migration engine's (tenants.engine): the same family, so that every command reports them in one line.


class MigrationError(TenantError):
    """A migration run, a backfill or an export cannot go on as asked."""


class UnknownMigration(MigrationError):
    """No migration of that name (or app) in the code."""


class MigrationLockBusy(MigrationError):
    """Another run holds the migration lock."""


class TemplateUnavailable(MigrationError):
    """The migrations cannot be captured as a script (e.g. one cannot run in a transaction)."""


class NotCapturable(MigrationError):
    """A statement was run in a way that cannot be replayed as SQL text."""


class ExportError(MigrationError):
    """The SQL could not be produced (pg_dump missing or failing)."""


class BackfillError(MigrationError):
    """A backfill cannot run as asked; nothing was changed."""


class UnknownBackfill(BackfillError):
    """No backfill of that name is registered."""


class BackfillBusy(BackfillError):
    """Another run of the same backfill is going on."""


class AccessRefused(TenantError):
    """A request's credential does not let it in; status and problem_type say how to answer."""

    status = 401
    problem_type = "credential-invalid"


class CredentialMissing(AccessRefused):
    problem_type = "credential-missing"


class CredentialInvalid(AccessRefused):
    problem_type = "credential-invalid"


class CredentialRevoked(AccessRefused):
    problem_type = "credential-revoked"


class CredentialExpired(AccessRefused):
    problem_type = "credential-expired"


class CredentialOfAnotherTenant(AccessRefused):
    problem_type = "credential-wrong-tenant"


class ScopeMissing(AccessRefused):
    status = 403
    problem_type = "insufficient-scope"

    def __init__(self, scope: str) -> None:
        super().__init__(f"This API key lacks the scope {scope!r}; create a key that has it.")
        self.scope = scope
