"""Why a context operation was refused: one class per reason, each with its HTTP status and problem type.

The REST API and the MCP tools turn these into their own error shapes; the
admin shows the message. Nothing is changed when one is raised.
"""

from __future__ import annotations

from typing import Any


class ContextError(ValueError):
    """A context operation was refused; nothing was changed."""

    status = 400
    problem_type = "invalid-request"

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.field = field  # the input it is about, for errors[] in an API answer
        self.extra = extra  # more for the answer, e.g. the current version on a conflict


class InvalidContext(ContextError):
    """A field has a value no context may hold."""


class ContentTooLarge(ContextError):
    status = 413
    problem_type = "content-too-large"


class QuotaExceeded(ContextError):
    status = 403
    problem_type = "quota-exceeded"


class ContextNotFound(ContextError):
    status = 404
    problem_type = "context-not-found"


class VersionNotFound(ContextError):
    status = 404
    problem_type = "version-not-found"


class SummaryNotFound(ContextError):
    status = 404
    problem_type = "summary-not-found"


class ContextExpired(ContextError):
    status = 410
    problem_type = "context-expired"


class StaleVersion(ContextError):
    """The context changed since the caller read it (or exists, when the caller meant to create it)."""

    status = 412
    problem_type = "precondition-failed"


class PreconditionRequired(ContextError):
    status = 428
    problem_type = "precondition-required"


class SummaryConflict(ContextError):
    status = 409
    problem_type = "conflict"
