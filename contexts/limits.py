"""What a context may hold, and how much a tenant may store: the one place these rules live.

Shape rules (key, tags, metadata) are the same for everyone; sizes, counts and
request budgets depend on the tenant's plan (settings.PLAN_LIMITS).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from contexts.errors import ContentTooLarge, InvalidContext

MAX_KEY_LENGTH = 255
# Path-like keys: segments of letters, digits and . _ ~ - separated by single slashes.
KEY_PATTERN = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]*(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*")
# Segments that name a context's sub-resources in URLs (/contexts/{key}/versions …), so no key may contain them.
RESERVED_KEY_SEGMENTS = frozenset({"versions", "summaries", "archive", "unarchive", "diff"})
MAX_TITLE_LENGTH = 500
MAX_TAGS = 32
MAX_TAG_LENGTH = 64
TAG_PATTERN = re.compile(r"[^\s,][^,]*")  # no commas (the admin's separator), no blank tags
MAX_METADATA_BYTES = 16 * 1024
MAX_BATCH_KEYS = 100


@dataclass(frozen=True)
class PlanLimits:
    max_content_bytes: int
    max_contexts: int | None  # None: no limit
    max_total_bytes: int | None
    requests_per_minute_key: int
    requests_per_minute_tenant: int


def plan_limits(plan: str) -> PlanLimits:
    """Return the limits of a plan (settings.PLAN_LIMITS)."""
    return PlanLimits(**settings.PLAN_LIMITS[plan])


def validate_key(key: Any) -> str:
    """Return the key if it can name a context; raise InvalidContext saying why not."""
    if not isinstance(key, str) or key == "":
        raise InvalidContext("The key is empty.", field="key")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidContext(f"The key is {len(key)} characters long; the most is {MAX_KEY_LENGTH}.", field="key")
    if not KEY_PATTERN.fullmatch(key):
        raise InvalidContext(
            f"The key {key!r} is not valid: use letters, digits and . _ ~ - in segments separated by single "
            "slashes, not starting with a dot.", field="key",
        )
    reserved = RESERVED_KEY_SEGMENTS.intersection(key.split("/"))
    if reserved:
        raise InvalidContext(
            f"The key {key!r} contains the segment {sorted(reserved)[0]!r}, which names a sub-resource in URLs.",
            field="key",
        )
    return key


def validate_title(title: Any) -> str:
    if not isinstance(title, str):
        raise InvalidContext("The title must be a string.", field="title")
    if len(title) > MAX_TITLE_LENGTH:
        raise InvalidContext(f"The title is {len(title)} characters long; the most is {MAX_TITLE_LENGTH}.",
                             field="title")
    return title


def validate_tags(tags: Any) -> list[str]:
    """Return the tags without duplicates, in the order given; raise InvalidContext naming the first bad one."""
    if not isinstance(tags, list | tuple) or not all(isinstance(tag, str) for tag in tags):
        raise InvalidContext("Tags must be a list of strings.", field="tags")
    unique = list(dict.fromkeys(tag.strip() for tag in tags))
    if len(unique) > MAX_TAGS:
        raise InvalidContext(f"{len(unique)} tags; the most is {MAX_TAGS}.", field="tags")
    for tag in unique:
        if len(tag) > MAX_TAG_LENGTH:
            raise InvalidContext(f"The tag {tag[:20]!r}… is longer than {MAX_TAG_LENGTH} characters.", field="tags")
        if not TAG_PATTERN.fullmatch(tag):
            raise InvalidContext(f"The tag {tag!r} is not valid: tags are not blank and hold no commas.", field="tags")
    return unique


# Characters PostgreSQL cannot hold in text or jsonb: NUL, and UTF-16 surrogates that pair with nothing
# (JSON's "\ud800" alone decodes to one, and no UTF-8 can encode it).
UNSTORABLE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


def unstorable_json(value: Any, where: str) -> str | None:
    """Say why PostgreSQL's jsonb cannot store this JSON value (NUL, a lone surrogate, NaN or infinity), or None."""
    stack = [(value, where)]
    while stack:  # iterative: nesting as deep as the JSON parser allows must not exhaust the stack
        item, location = stack.pop()
        if isinstance(item, str) and UNSTORABLE_CHARACTERS.search(item):
            return f"{location} holds a NUL character or a lone UTF-16 surrogate, which cannot be stored."
        if isinstance(item, float) and not math.isfinite(item):
            return f"{location} holds a number too large to store (JSON numbers must be finite)."
        if isinstance(item, dict):
            for name, member in item.items():
                if UNSTORABLE_CHARACTERS.search(name):
                    return f"A key in {location} holds a NUL character or a lone UTF-16 surrogate."
                stack.append((member, f"{location}.{name}"))
        elif isinstance(item, list):
            stack.extend((member, f"{location}[{index}]") for index, member in enumerate(item))
    return None


def validate_metadata(metadata: Any) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise InvalidContext("Metadata must be a JSON object.", field="metadata")
    unstorable = unstorable_json(metadata, "metadata")
    if unstorable:
        raise InvalidContext(unstorable, field="metadata")
    size = len(json.dumps(metadata, separators=(",", ":")).encode())
    if size > MAX_METADATA_BYTES:
        raise ContentTooLarge(f"The metadata takes {size} bytes as JSON; the most is {MAX_METADATA_BYTES}.",
                              field="metadata")
    return metadata


def validate_content(content: Any, limits: PlanLimits) -> str:
    if not isinstance(content, str):
        raise InvalidContext("The content must be a string.", field="content")
    size = len(content.encode())
    if size > limits.max_content_bytes:
        raise ContentTooLarge(
            f"The content takes {size} bytes; this tenant's plan allows {limits.max_content_bytes} per context.",
            field="content",
        )
    if "\x00" in content:
        raise InvalidContext("The content holds a NUL character, which PostgreSQL text cannot store.", field="content")
    return content
