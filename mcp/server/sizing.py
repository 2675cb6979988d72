"""No answer larger than settings.MCP_MAX_RESULT_BYTES: the longest texts are cut, with a marker that says so.

A model's context window is the scarce thing (one memory server's "read the
whole graph" answer filled 80,000 tokens, and some clients cap a tool's output
at 25,000). So every tool result and resource read is measured as it will be
sent, and when it is too large its longest strings are shortened, each ending
with a marker naming how much was left out, until it fits; lists are shortened
last. What was cut is named in the answer (truncated, truncated_fields).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from typing import Any

from django.conf import settings

MARKER = "\n[… {omitted} more characters not shown: answers are limited to {limit} bytes]"
# Texts are never cut below this; past it, list items go instead.
SHORTEST_CUT = 200
ATTEMPTS = 12


def max_result_bytes() -> int:
    """Return the largest answer the endpoint sends, in bytes of JSON."""
    return int(settings.MCP_MAX_RESULT_BYTES)


def encoded(value: Any) -> str:
    """Return the JSON the endpoint sends for a value: compact, UTF-8, not ASCII-escaped."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def size_of(value: Any) -> int:
    """Return how many bytes a value takes as the endpoint sends it."""
    return len(encoded(value).encode())


def _string_leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _string_leaves(item, (*path, key))]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in _string_leaves(item, (*path, index))]
    return []


def _lists(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], list[Any]]]:
    found: list[tuple[tuple[Any, ...], list[Any]]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_lists(item, (*path, key)))
    elif isinstance(value, list):
        if value:
            found.append((path, value))
        for index, item in enumerate(value):
            found.extend(_lists(item, (*path, index)))
    return found


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _put(value: Any, path: tuple[Any, ...], new: Any) -> None:
    _at(value, path[:-1])[path[-1]] = new


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(step) for step in path)


def fit(payload: dict[str, Any], render: Callable[[dict[str, Any]], int], *, limit: int | None = None,
        ) -> tuple[dict[str, Any], dict[str, int]]:
    """Return the payload shortened until render(payload) <= limit, and what was cut: {path: characters kept}.

    render gives the size of the whole answer built from the payload (a tool
    result holds it twice: as structuredContent and as its text mirror), so
    each cut is sized by the measured ratio between the two. A list shortened
    from its end is named with the number of items it kept.
    """
    limit = limit or max_result_bytes()
    size = render(payload)
    if size <= limit:
        return payload, {}
    payload = copy.deepcopy(payload)
    kept: dict[str, int] = {}
    totals: dict[str, int] = {}
    marker_room = len(MARKER.format(omitted=10**9, limit=limit).encode())
    for _ in range(ATTEMPTS):
        ratio = size / max(1, size_of(payload))  # bytes of answer per byte of payload
        needed = math.ceil((size - limit) / ratio) + marker_room + 16
        for path, text in sorted(_string_leaves(payload), key=lambda leaf: -len(leaf[1].encode())):
            name = _dotted(path)
            plain = (text[: kept[name]] if name in kept else text).encode()
            if needed <= 0 or len(plain) <= SHORTEST_CUT:
                break
            totals.setdefault(name, len(text))
            # Cut in bytes, which is what is measured, at a character's boundary.
            shortened = plain[: max(SHORTEST_CUT, len(plain) - needed)].decode("utf-8", errors="ignore")
            needed -= len(plain) - len(shortened.encode())
            kept[name] = len(shortened)
            _put(payload, path, shortened + MARKER.format(omitted=totals[name] - len(shortened), limit=limit))
        size = render(payload)
        if size <= limit:
            return payload, kept
        if needed > 0:
            dropped = _drop_list_items(payload, excess=size - limit, ratio=ratio)
            if dropped is None:
                break
            kept[dropped[0]] = dropped[1]
            size = render(payload)
            if size <= limit:
                return payload, kept
    raise ValueError(f"An answer could not be made to fit in {limit} bytes.")


def _drop_list_items(payload: dict[str, Any], *, excess: int, ratio: float) -> tuple[str, int] | None:
    """Drop items from the end of the largest list; return its path and how many items it kept."""
    for path, items in sorted(_lists(payload), key=lambda found: -size_of(found[1])):
        if len(items) <= 1:
            continue
        dropped = 0
        while len(items) > 1 and dropped * ratio < excess:
            dropped += size_of(items.pop())
        return _dotted(path), len(items)
    return None
