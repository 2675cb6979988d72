"""HTTP preconditions on contexts (RFC 9110 §13): ETags are versions, and every write names what it expects."""

from __future__ import annotations

import re

from rest_framework.request import Request

from contexts.errors import InvalidContext, PreconditionRequired

ETAG = re.compile(r'(?:W/)?"v([1-9][0-9]{0,9})"')


def expected_version(request: Request, *, required: bool) -> int | None:
    """The version If-Match names; None when absent (refused with 428 when required)."""
    header = request.headers.get("If-Match")
    if header is None:
        if required:
            raise PreconditionRequired(
                'Send If-Match with the ETag you read (e.g. If-Match: "v3"), so that no change is lost.'
            )
        return None
    match = ETAG.fullmatch(header.strip())
    if match is None:
        raise InvalidContext(f'If-Match {header!r} is not an ETag of this API, such as "v3".', field="If-Match")
    return int(match.group(1))


def wants_create_only(request: Request) -> bool:
    """Whether the request says If-None-Match: * (create, never replace)."""
    return request.headers.get("If-None-Match", "").strip() == "*"


def not_modified(request: Request, current_etag: str) -> bool:
    """Whether a conditional GET already holds the current representation."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or current_etag in tags
