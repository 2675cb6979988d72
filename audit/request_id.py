"""What the current request is, for logs and audit entries: its id, client, tenant and user.

Held in a context variable, so that code deep in a service (or a log filter)
knows the request without being handed it, and nothing leaks between
requests: the middleware restores the previous value when the request ends.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token
from dataclasses import dataclass, replace

HEADER = "X-Request-ID"
# Ids that are safe to log and echo: no spaces, quotes or control characters.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip_address: str | None = None
    user_agent: str = ""
    tenant_slug: str = ""
    user_id: int | None = None


_current: ContextVar[RequestContext] = ContextVar("request_context", default=RequestContext())


def request_id_from_header(value: str | None) -> str:
    """Return the client's id if it is well-formed, or a new one (an invalid id is replaced, not trusted)."""
    if value and VALID_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def current_context() -> RequestContext:
    """What is known about the request being served (empty outside a request)."""
    return _current.get()


def current_request_id() -> str:
    """Return the id of the request being served, or '' outside a request."""
    return _current.get().request_id


def start_request(**fields: object) -> Token[RequestContext]:
    """Begin a request's context; end_request(token) restores what was there before."""
    return _current.set(RequestContext(**fields))  # type: ignore[arg-type]


def end_request(token: Token[RequestContext]) -> None:
    _current.reset(token)


def note(**fields: object) -> None:
    """Add what a later middleware learns (tenant, user) to the current request's context."""
    _current.set(replace(_current.get(), **fields))  # type: ignore[arg-type]
