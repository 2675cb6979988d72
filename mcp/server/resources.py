"""Resources: each context, each of its versions and its latest summary, as context:// URIs over the services.

Keys are path-like (notes/2026/q1), so a URI names one with its slashes as they
are: context://notes/2026/q1, context://notes/2026/q1/versions/3,
context://notes/2026/q1/summary. A key's slashes may also be sent encoded
(%2F, as RFC 6570's {key} expands them); that is how a key whose last segment
is "summary" is named, and how this server writes such a key's URI.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, unquote

from django.db.models import QuerySet

from contexts.errors import ContextError
from contexts.listing import ContextFilter, contexts_page
from contexts.models import Context, Summary
from contexts.selectors import context_get
from contexts.services import context_read
from contexts.versions import version_get
from mcp.server.errors import McpError, invalid_params
from mcp.server.sizing import MARKER, fit, max_result_bytes, size_of

SCHEME = "context://"
RESOURCES_PAGE_SIZE = 50
# Versions never change, so a client may keep one for an hour; contexts and summaries change at any time.
VERSION_TTL_MS = 3_600_000
TEMPLATES = [
    {
        "uriTemplate": "context://{key}",
        "name": "context",
        "title": "Context",
        "description": "The current content of a context (reading it counts a read). Keys may contain slashes: "
                       "context://notes/2026/q1. Metadata (version, title, tags, dates) is in _meta.",
        "mimeType": "text/plain",
    },
    {
        "uriTemplate": "context://{key}/versions/{n}",
        "name": "context-version",
        "title": "Context version",
        "description": "The content of version n of a context, as it was saved; versions never change.",
        "mimeType": "text/plain",
    },
    {
        "uriTemplate": "context://{key}/summary",
        "name": "context-summary",
        "title": "Context summary",
        "description": "The latest summary of a context as JSON: status, text, quality, the version it "
                       "summarises and whether the context changed since (stale).",
        "mimeType": "application/json",
    },
]
VERSION_URI = re.compile(r"(?P<key>.+)/versions/(?P<n>[0-9]{1,10})")


def context_uri(key: str) -> str:
    """Return the URI of a context."""
    if key == "summary" or key.endswith("/summary"):
        return SCHEME + quote(key, safe="")  # raw, it would name the summary of its parent
    return SCHEME + key


def version_uri(key: str, version: int) -> str:
    """Return the URI of one version of a context."""
    return f"{context_uri(key)}/versions/{version}"


def summary_uri(key: str) -> str:
    """Return the URI of a context's latest summary."""
    return f"{context_uri(key)}/summary"


def parse_uri(uri: Any) -> tuple[str, str, int | None]:
    """Return what a URI names: ('context' | 'version' | 'summary', key, version); refuse any other URI."""
    if not isinstance(uri, str) or not uri.startswith(SCHEME) or len(uri) > 1024:
        raise invalid_params("Resource URIs read context://{key}, context://{key}/versions/{n} or "
                             "context://{key}/summary.", uri=uri if isinstance(uri, str) else None)
    rest = uri[len(SCHEME):]
    match = VERSION_URI.fullmatch(rest)
    if match:
        return "version", unquote(match.group("key")), int(match.group("n"))
    if rest.endswith("/summary"):
        return "summary", unquote(rest[: -len("/summary")]), None
    return "context", unquote(rest), None


def resource_link(key: str, *, title: str = "", description: str = "") -> dict[str, Any]:
    """Return a resource_link content block naming a context."""
    link: dict[str, Any] = {"type": "resource_link", "uri": context_uri(key), "name": key, "mimeType": "text/plain"}
    if title:
        link["title"] = title
    if description:
        link["description"] = description
    return link


def _listing_entry(context: Context) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "uri": context_uri(context.key),
        "name": context.key,
        "mimeType": "text/plain",
        "annotations": {"lastModified": context.updated_at.isoformat()},
    }
    if context.title:
        entry["title"] = context.title
    return entry


def resources_list(cursor: Any, *, limit: int) -> dict[str, Any]:
    """Return one page of the tenant's live contexts as resources, newest change first, within the size limit."""
    if cursor is not None and not isinstance(cursor, str):
        raise invalid_params("The cursor must be a string from an earlier nextCursor.")
    page_size = RESOURCES_PAGE_SIZE
    while True:
        try:
            page = contexts_page(ContextFilter(), limit=page_size, cursor=cursor, with_content=False)
        except ContextError as refusal:
            raise invalid_params(str(refusal), cursor=cursor) from None
        listing: dict[str, Any] = {"resources": [_listing_entry(context) for context in page.contexts]}
        if page.next_cursor:
            listing["nextCursor"] = page.next_cursor
        # Long keys and titles: a shorter page, whose cursor then starts the next one where it stops.
        if page_size == 1 or size_of(listing) + 512 <= limit:
            return listing
        page_size = max(1, page_size * limit // (size_of(listing) + 512) - 1)


def templates_list() -> dict[str, Any]:
    """Return the resource templates."""
    return {"resourceTemplates": TEMPLATES}


def _not_found(uri: str, refusal: ContextError) -> McpError:
    # A missing resource is -32602 in 2026-07-28 (it was -32002): the URI names nothing this tenant holds.
    return invalid_params(f"Resource not found: {refusal}", uri=uri, reason=refusal.problem_type)


def _text_contents(uri: str, text: str, mime_type: str, meta: dict[str, Any]) -> dict[str, Any]:
    contents = {"uri": uri, "mimeType": mime_type, "text": text, "_meta": meta}

    def render(candidate: dict[str, Any]) -> int:
        return size_of({"contents": [candidate]}) + 400  # the envelope: jsonrpc, id, resultType, ttlMs, _meta

    fitted, kept = fit({"text": text}, lambda payload: render({**contents, "text": payload["text"]}))
    if kept:
        contents["text"] = fitted["text"]
        contents["_meta"] = {**meta, "truncated": True, "truncatedAt": kept["text"],
                             "note": MARKER.strip().format(omitted=len(text) - kept["text"],
                                                           limit=max_result_bytes())}
    return contents


def read_resource(uri: Any) -> tuple[dict[str, Any], int]:
    """Return the contents a URI names and how long a client may cache them (ms); -32602 if it names nothing."""
    kind, key, number = parse_uri(uri)
    try:
        if kind == "context":
            context = context_read(key=key)
            meta = {"key": context.key, "version": context.version, "title": context.title,
                    "tags": list(context.tags), "updated_at": context.updated_at.isoformat(),
                    "archived": context.is_archived}
            return {"contents": [_text_contents(uri, context.content, "text/plain", meta)]}, 0
        context = context_get(key=key)
        if kind == "version":
            past = version_get(context=context, version=number)  # type: ignore[arg-type]
            meta = {"key": context.key, "version": past.version, "current_version": context.version,
                    "title": past.title, "tags": list(past.tags), "created_at": past.created_at.isoformat()}
            return {"contents": [_text_contents(uri, past.content, "text/plain", meta)]}, VERSION_TTL_MS
        summary = latest_summary(context)
    except ContextError as refusal:
        raise _not_found(uri, refusal) from None
    if summary is None:
        raise invalid_params(f"Resource not found: context {key!r} has no summary yet; request one with the "
                             "request_summary tool.", uri=uri, reason="summary-not-found")
    body = json.dumps(summary_payload(summary, context), ensure_ascii=False)
    return {"contents": [_text_contents(uri, body, "application/json", {"key": key})]}, 0


def summaries_of(context: Context) -> QuerySet[Summary]:
    """Return a context's summaries, newest first."""
    return Summary.objects.filter(context=context).order_by("-created_at", "-id")


def latest_summary(context: Context) -> Summary | None:
    """Return the newest summary of a context, or None."""
    return summaries_of(context).first()


def summary_payload(summary: Summary, context: Context) -> dict[str, Any]:
    """Return what a client needs of a summary: its status, text, quality, version and staleness."""
    return {
        "summary_id": summary.pk,
        "key": context.key,
        "status": summary.status,
        "text": summary.text if summary.status == Summary.Status.SUCCEEDED else None,
        "quality": {"score": summary.quality_score, "metrics": summary.quality_metrics or {}},
        "context_version": summary.context_version,
        "current_version": context.version,
        "stale": summary.context_version != context.version,
        "attempts": summary.attempts,
        "max_attempts": summary.max_attempts,
        "last_error": summary.last_error or None,
        "created_at": summary.created_at.isoformat(),
        "finished_at": summary.finished_at.isoformat() if summary.finished_at else None,
        "uri": summary_uri(context.key),
    }
