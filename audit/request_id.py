"""What the current request is, for logs and audit entries: its id, client, tenant and user.

Held in a context variable, so that code deep in a service (or a log filter)
knows the request without being handed it. Each request starts a new one and
it is cleared when the response is closed, so nothing carries over.
"""

from __future__ import annotations

import getpass
import os
import re
import uuid
from contextvars import ContextVar
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
    api_key_id: int | None = None  # the ApiKey row of a REST or MCP request
    api_key_label: str = ""  # "key k3v9x2m1q8ab (ci)"
    command: str = ""  # "create_tenant by deploy" while a management command runs


def os_user() -> str:
    """The operating-system user running this process."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return str(os.getuid())


def command_actor_label(command: str) -> str:
    """Name the OS user running a management command, e.g. 'create_tenant by deploy'."""
    return f"{command} by {os_user()}"


def start_command(command: str) -> None:
    """Mark this process as running a management command, so that what it records names it as the actor."""
    _current.set(RequestContext(command=command_actor_label(command)))


_current: ContextVar[RequestContext] = ContextVar("request_context", default=RequestContext())


def request_id_from_header(value: str | None) -> str:
    """Return the client's id if it is well-formed, or a new one (an invalid id is replaced, not trusted)."""
    if value and VALID_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def current_context() -> RequestContext:
    """What is known about the request being served (empty outside a request)."""
    return _current.get()


def start_request(**fields: object) -> None:
    """Begin a request's context (replacing whatever an earlier request left)."""
    _current.set(RequestContext(**fields))  # type: ignore[arg-type]


def end_request(**kwargs: object) -> None:
    """Forget the request once its response is closed (connected to request_finished).

    Not at the end of the middleware: Django logs 4xx and 5xx responses after
    the middleware chain returns, and those lines must carry the request id too.
    """
    _current.set(RequestContext())


def note(**fields: object) -> None:
    """Add what a later middleware learns (tenant, user) to the current request's context."""
    _current.set(replace(_current.get(), **fields))  # type: ignore[arg-type]
