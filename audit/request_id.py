"""The request id: accepted from X-Request-ID when it is well-formed, generated otherwise."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

HEADER = "X-Request-ID"
# Ids that are safe to log and echo: no spaces, quotes or control characters.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_current_request_id: ContextVar[str] = ContextVar("request_id", default="")


def request_id_from_header(value: str | None) -> str:
    """Return the client's id if it is well-formed, or a new one."""
    if value and VALID_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def current_request_id() -> str:
    """Return the id of the request being served, or '' outside a request."""
    return _current_request_id.get()


def set_request_id(request_id: str) -> object:
    """Make request_id current; returns a token for reset_request_id."""
    return _current_request_id.set(request_id)


def reset_request_id(token: object) -> None:
    _current_request_id.reset(token)  # type: ignore[arg-type]
