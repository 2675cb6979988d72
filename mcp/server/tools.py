"""The MCP tools: thin adapters over contexts' services, each with its schemas, annotations and scope.

A tool parses its arguments (its inputSchema refuses anything else), calls one
service or selector, and shapes the answer as an object (structuredContent,
mirrored as a text block) with links to the resources it names. A refusal the
model can act on (not found, conflict, limit, expired) is a result with
isError and a structured body; a malformed call is a JSON-RPC error. The list
is in a fixed order, and a key sees only the tools its scopes allow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from contexts import services, summaries
from contexts.errors import ContextError, ContextExpired, InvalidContext, StaleVersion, SummaryNotFound
from contexts.limits import MAX_KEY_LENGTH, MAX_TAG_LENGTH, MAX_TAGS, MAX_TITLE_LENGTH
from contexts.listing import ContextFilter, contexts_page, contexts_recent
from contexts.models import Context, Summary
from contexts.selectors import context_get
from contexts.versions import version_diff, version_get, versions_of
from mcp.server.errors import INVALID_PARAMS, McpError, invalid_params
from mcp.server.resources import (
    context_uri,
    latest_summary,
    resource_link,
    summary_payload,
    summary_uri,
    version_uri,
)
from mcp.server.sizing import encoded, fit, size_of
from tenants.access import require_scope
from tenants.models import ApiKey

READ, WRITE, SUMMARIZE = "contexts:read", "contexts:write", "summaries:write"
# Room for what wraps a tool result on the wire: jsonrpc, id, resultType, _meta.
ENVELOPE_BYTES = 512


# --- schemas ------------------------------------------------------------------------------------------------------

def _string(description: str, **more: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **more}


def _integer(description: str, **more: Any) -> dict[str, Any]:
    return {"type": "integer", "description": description, **more}


def _nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


def _input(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """An input schema that refuses properties it does not name."""
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


def _output(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object output schema; every answer may say it was cut to fit (truncated, truncated_fields)."""
    return {
        "type": "object",
        "properties": {
            **properties,
            "truncated": {"type": "boolean", "description": "Something was cut to fit the size limit."},
            "truncated_fields": {"type": "object", "additionalProperties": {"type": "integer"},
                                 "description": "What was cut: characters (or list items) kept, by field."},
        },
        "required": list(required),
    }


KEY = _string("The context's key: letters, digits and . _ ~ - in segments separated by slashes, e.g. "
              "notes/2026/q1.", minLength=1, maxLength=MAX_KEY_LENGTH)
VERSION = _integer("A version number (1 is the first).", minimum=1)
EXPECTED_VERSION = _integer("The version you read (get_context's version). The change is refused, and the "
                            "current version and content returned, if the context has moved on since.", minimum=1)
TAGS = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": MAX_TAG_LENGTH},
        "maxItems": MAX_TAGS}
ISO_TIME = _nullable("string")
CONTEXT_PROPERTIES: dict[str, Any] = {
    "key": {"type": "string"},
    "uri": {"type": "string", "description": "The context as a resource."},
    "title": {"type": "string"},
    "content": {"type": "string"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "metadata": {"type": "object"},
    "version": {"type": "integer", "description": "Pass it as expected_version to change the context."},
    "archived": {"type": "boolean"},
    "expired": {"type": "boolean"},
    "expires_at": ISO_TIME,
    "access_count": {"type": "integer"},
    "last_accessed_at": ISO_TIME,
    "created_at": {"type": "string"},
    "updated_at": {"type": "string"},
    "content_length": {"type": "integer", "description": "Characters in the whole content."},
}
ERROR_OUTPUT = {"error": {"type": "object"}, "current": {"type": "object"}}
SEARCH_FIELDS = ("key", "title", "snippet", "content", "tags", "metadata", "version", "archived", "expires_at",
                 "access_count", "last_accessed_at", "created_at", "updated_at")


# --- shapes -------------------------------------------------------------------------------------------------------

def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def context_fields(context: Context, *, with_content: bool) -> dict[str, Any]:
    """Return a context as a tool answers with it (with or without its content)."""
    fields: dict[str, Any] = {
        "key": context.key,
        "uri": context_uri(context.key),
        "title": context.title,
        "tags": list(context.tags),
        "metadata": context.metadata,
        "version": context.version,
        "archived": context.is_archived,
        "expired": context.is_expired,
        "expires_at": _iso(context.expires_at),
        "access_count": context.access_count,
        "last_accessed_at": _iso(context.last_accessed_at),
        "created_at": context.created_at.isoformat(),
        "updated_at": context.updated_at.isoformat(),
    }
    if with_content:
        fields["content"] = context.content
        fields["content_length"] = len(context.content)
    return fields


@dataclass
class ToolAnswer:
    """What a tool returns: its structured answer and the resources it links to."""

    structured: dict[str, Any]
    links: list[dict[str, Any]] = field(default_factory=list)
    is_error: bool = False
    # Called with the cut answer when the content had to be cut, to say where reading may go on.
    on_cut: Callable[[dict[str, Any], dict[str, int]], None] | None = None


# --- the tools ----------------------------------------------------------------------------------------------------

def search_contexts(args: dict[str, Any]) -> ToolAnswer:
    query = args.get("query", "").strip()
    max_chars = args.get("max_chars", 300)
    fields = args.get("fields") or ["key", "title", "tags", "version", "updated_at", *(["snippet"] if query else [])]
    criteria = ContextFilter(tags_any=args.get("tags", []), tags_all=args.get("tags_all", []),
                             include_archived=args.get("include_archived", False), q=query)
    page = contexts_page(criteria, limit=args.get("max_results", 10), cursor=args.get("cursor"),
                         with_content="content" in fields)
    results = []
    for context in page.contexts:
        row = {name: value for name, value in context_fields(context, with_content="content" in fields).items()
               if name in fields}
        if "snippet" in fields:
            row["snippet"] = _clip(getattr(context, "snippet", "") or "", max_chars)
        if "content" in fields:
            row["content"] = _clip(context.content, max_chars)
        results.append({"key": context.key, "uri": context_uri(context.key), **row})
    return ToolAnswer(
        {"results": results, "count": len(results), "next_cursor": page.next_cursor},
        links=[resource_link(context.key, title=context.title) for context in page.contexts],
    )


def _clip(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[:max_chars] + "…"


def get_context(args: dict[str, Any]) -> ToolAnswer:
    key, offset = args["key"], args.get("offset", 0)
    max_chars = args.get("max_chars")
    if "version" in args:
        context = context_get(key=key)
        past = version_get(context=context, version=args["version"])
        answer = {"key": key, "uri": version_uri(key, past.version), "version": past.version,
                  "current_version": context.version, "title": past.title, "tags": list(past.tags),
                  "metadata": past.metadata, "created_at": past.created_at.isoformat()}
        content = past.content
        links = [resource_link(key, title=context.title)]
    else:
        context = services.context_read(key=key)  # counts the read, in one statement
        answer = context_fields(context, with_content=False)
        content = context.content
        links = []
    end = len(content) if max_chars is None else min(len(content), offset + max_chars)
    answer.update(content=content[offset:end], content_length=len(content), content_offset=offset,
                  next_offset=end if end < len(content) else None)

    def on_cut(cut: dict[str, Any], kept: dict[str, int]) -> None:
        if "content" in kept:  # read on from where the cut content stops
            cut["next_offset"] = offset + kept["content"]

    return ToolAnswer(answer, links=links, on_cut=on_cut)


def _expiry(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    moment = parse_datetime(value)
    if moment is None:
        raise InvalidContext(f"expires_at {value!r} is not an ISO 8601 date and time, such as "
                             "2026-12-31T23:59:00Z.", field="expires_at")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, dt.UTC)


def put_context(args: dict[str, Any]) -> ToolAnswer:
    key = args["key"]
    values: dict[str, Any] = {name: args[name] for name in ("title", "content", "tags", "metadata") if name in args}
    if "expires_at" in args:
        values["expires_at"] = _expiry(args["expires_at"])
    if "expected_version" in args:
        if not values:
            raise InvalidContext("Nothing to change: give at least one of content, title, tags, metadata or "
                                 "expires_at.", field="content")
        context, created = services.context_patch(key=key, changes=values,
                                                  expected_version=args["expected_version"]), False
    else:
        context, created = services.context_put(key=key, values=values, create_only=True)
    answer = {**context_fields(context, with_content=False), "content_length": len(context.content),
              "created": created}
    return ToolAnswer(answer, links=[resource_link(key, title=context.title)])


def archive_context(args: dict[str, Any]) -> ToolAnswer:
    context = services.context_archive(key=args["key"], archived=args.get("archived", True),
                                       expected_version=args.get("expected_version"))
    return ToolAnswer(context_fields(context, with_content=False), links=[resource_link(context.key)])


def delete_context(args: dict[str, Any]) -> ToolAnswer:
    services.context_delete_by_key(key=args["key"], expected_version=args["expected_version"])
    return ToolAnswer({"key": args["key"], "deleted": True, "deleted_version": args["expected_version"]})


def list_versions(args: dict[str, Any]) -> ToolAnswer:
    context = context_get(key=args["key"])
    limit = args.get("limit", 20)
    versions = versions_of(context=context)
    if "before_version" in args:
        versions = versions.filter(version__lt=args["before_version"])
    rows = list(versions.defer("content")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return ToolAnswer({
        "key": context.key,
        "uri": context_uri(context.key),
        "current_version": context.version,
        "versions": [{"version": row.version, "title": row.title, "tags": list(row.tags),
                      "changed_by_id": row.changed_by_id, "created_at": row.created_at.isoformat(),
                      "uri": version_uri(context.key, row.version)} for row in rows],
        "next_before_version": rows[-1].version if more else None,
    }, links=[resource_link(context.key, title=context.title)])


def diff_versions(args: dict[str, Any]) -> ToolAnswer:
    context = context_get(key=args["key"])
    diff = version_diff(context=context, from_version=args.get("from_version", max(context.version - 1, 1)),
                        to_version=args.get("to_version", context.version))
    return ToolAnswer({**diff, "uri": context_uri(context.key)}, links=[resource_link(context.key)])


def restore_version(args: dict[str, Any]) -> ToolAnswer:
    context = services.context_restore(key=args["key"], version=args["version"],
                                       expected_version=args["expected_version"])
    return ToolAnswer({**context_fields(context, with_content=False), "restored_version": args["version"]},
                      links=[resource_link(context.key, title=context.title)])


def recent_contexts(args: dict[str, Any]) -> ToolAnswer:
    by = args.get("by", "updated")
    contexts = contexts_recent(by=by, limit=args.get("limit", 10),
                               include_archived=args.get("include_archived", False))
    fields = ("key", "uri", "title", "tags", "version", "archived", "access_count", "last_accessed_at",
              "updated_at")
    return ToolAnswer(
        {"by": by, "results": [{name: value for name, value in context_fields(context, with_content=False).items()
                                if name in fields} for context in contexts]},
        links=[resource_link(context.key, title=context.title) for context in contexts],
    )


def request_summary(args: dict[str, Any]) -> ToolAnswer:
    with transaction.atomic():
        context = context_get(key=args["key"])
        if context.is_expired:
            raise ContextExpired(f"Context {context.key!r} has expired.")
        summary = summaries.summary_request(context=context)
    return ToolAnswer({
        "summary_id": summary.pk,
        "key": context.key,
        "status": summary.status,
        "context_version": summary.context_version,
        "uri": summary_uri(context.key),
        "poll": f"Call get_summary with key {context.key!r} and summary_id {summary.pk} until its status is "
                "succeeded or failed.",
    }, links=[resource_link(context.key, title=context.title)])


def get_summary(args: dict[str, Any]) -> ToolAnswer:
    context = context_get(key=args["key"])
    summary: Summary | None
    if "summary_id" in args:
        summary = summaries.summary_get(context=context, summary_id=args["summary_id"])
    else:
        summary = latest_summary(context)
        if summary is None:
            raise SummaryNotFound(f"Context {context.key!r} has no summary yet; ask for one with request_summary.")
    return ToolAnswer(summary_payload(summary, context), links=[resource_link(context.key, title=context.title)])


@dataclass(frozen=True)
class Tool:
    name: str
    title: str
    description: str
    scope: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    read_only: bool
    destructive: bool
    idempotent: bool
    run: Callable[[dict[str, Any]], ToolAnswer]

    def definition(self) -> dict[str, Any]:
        """Return the tool as tools/list names it."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": self.input_schema,
            "outputSchema": self.output_schema,
            "annotations": {"title": self.title, "readOnlyHint": self.read_only,
                            "destructiveHint": self.destructive, "idempotentHint": self.idempotent,
                            # A closed world: the tenant's own store, nothing outside it.
                            "openWorldHint": False},
        }


SUMMARY_OUTPUT = _output({
    "summary_id": {"type": "integer"},
    "key": {"type": "string"},
    "status": {"type": "string", "enum": ["pending", "running", "succeeded", "failed"]},
    "text": _nullable("string"),
    "quality": {"type": "object", "properties": {"score": _nullable("number"), "metrics": {"type": "object"}}},
    "context_version": {"type": "integer", "description": "The version of the context summarised."},
    "current_version": {"type": "integer"},
    "stale": {"type": "boolean", "description": "The context has changed since the version summarised."},
    "attempts": {"type": "integer"},
    "max_attempts": {"type": "integer"},
    "last_error": _nullable("string"),
    "created_at": {"type": "string"},
    "finished_at": ISO_TIME,
    "uri": {"type": "string"},
}, ("summary_id", "key", "status", "text", "context_version", "stale"))

TOOLS: tuple[Tool, ...] = (
    Tool(
        "search_contexts", "Search contexts",
        "Find contexts by full-text search in web-search syntax (words, \"a phrase\", -without, or), best match "
        "first with a snippet (matches in «»), or list them newest change first when no query is given. Filter by "
        "tags (any) or tags_all. At most max_results (1-50, default 10) a page; each snippet or content is cut to "
        "max_chars (default 300). Archived and expired contexts are left out unless asked for. Pass next_cursor "
        "back as cursor for the next page. Returns keys to read in full with get_context.",
        READ,
        _input({
            "query": _string("Web-search syntax; omit to list newest first.", maxLength=500),
            "tags": {**TAGS, "description": "Contexts with any of these tags."},
            "tags_all": {**TAGS, "description": "Contexts with all of these tags."},
            "include_archived": {"type": "boolean", "default": False},
            "cursor": _string("next_cursor of the previous page of the same search.", maxLength=2000),
            "max_results": _integer("Results per page.", minimum=1, maximum=50, default=10),
            "max_chars": _integer("The most characters of each snippet or content.", minimum=0, maximum=5000,
                                  default=300),
            "fields": {"type": "array", "items": {"type": "string", "enum": list(SEARCH_FIELDS)}, "uniqueItems": True,
                       "description": "Fields of each result (key and uri always come)."},
        }),
        _output({
            "results": {"type": "array", "items": {"type": "object", "properties": {
                **CONTEXT_PROPERTIES, "snippet": {"type": "string"}}, "required": ["key", "uri"]}},
            "count": {"type": "integer"},
            "next_cursor": _nullable("string"),
        }, ("results", "next_cursor")),
        read_only=True, destructive=False, idempotent=True, run=search_contexts,
    ),
    Tool(
        "get_context", "Read a context",
        "Read one context by key: content, title, tags, metadata and its version (pass that version as "
        "expected_version to change it). Counts a read. With version, reads that past version instead. Long "
        "content is cut to fit the answer's size limit; offset and max_chars read it in parts (next_offset says "
        "where to go on). An expired context is refused; an archived one is served and says so.",
        READ,
        _input({"key": KEY, "version": VERSION,
                "offset": _integer("First character of the content to return.", minimum=0, default=0),
                "max_chars": _integer("The most characters of content to return.", minimum=1)}, ("key",)),
        _output({**CONTEXT_PROPERTIES, "current_version": {"type": "integer"},
                 "content_offset": {"type": "integer"}, "next_offset": _nullable("integer")},
                ("key", "uri", "version", "title", "content", "tags", "metadata")),
        read_only=True, destructive=False, idempotent=True, run=get_context,
    ),
    Tool(
        "put_context", "Create or change a context",
        "Without expected_version, creates a context (refused if the key exists). With expected_version (the "
        "version you read), changes it: the fields you give replace the current ones, the others are kept, and a "
        "new version is saved (every version stays restorable). A stale expected_version is refused with the "
        "current version and content, so nothing is lost: merge and retry. Limits: key 255 characters, title "
        f"{MAX_TITLE_LENGTH}, {MAX_TAGS} tags of {MAX_TAG_LENGTH}, metadata 16 KiB of JSON, content per the "
        "tenant's plan (64 KiB to 4 MiB).",
        WRITE,
        _input({
            "key": KEY,
            "content": _string("The text to store."),
            "title": _string("A short title.", maxLength=MAX_TITLE_LENGTH),
            "tags": TAGS,
            "metadata": {"type": "object", "description": "Any JSON object."},
            "expires_at": {"type": ["string", "null"], "description": "ISO 8601 time after which the context "
                           "is no longer served, or null for never."},
            "expected_version": EXPECTED_VERSION,
        }, ("key",)),
        _output({**CONTEXT_PROPERTIES, "created": {"type": "boolean"}}, ("key", "uri", "version", "created")),
        read_only=False, destructive=False, idempotent=True, run=put_context,
    ),
    Tool(
        "archive_context", "Archive a context",
        "Archive a context (archived=false unarchives it): it leaves search and listings but stays readable, and "
        "the change is a new version. With expected_version, refused if the context moved on.",
        WRITE,
        _input({"key": KEY, "archived": {"type": "boolean", "default": True}, "expected_version": EXPECTED_VERSION},
               ("key",)),
        _output(CONTEXT_PROPERTIES, ("key", "uri", "version", "archived")),
        read_only=False, destructive=False, idempotent=True, run=archive_context,
    ),
    Tool(
        "delete_context", "Delete a context",
        "Delete a context with all its versions and summaries; this cannot be undone (archive_context can). "
        "expected_version must be the current version, so that nothing changed since you read it is deleted.",
        WRITE,
        _input({"key": KEY, "expected_version": EXPECTED_VERSION}, ("key", "expected_version")),
        _output({"key": {"type": "string"}, "deleted": {"type": "boolean"}, "deleted_version": {"type": "integer"}},
                ("key", "deleted")),
        read_only=False, destructive=True, idempotent=True, run=delete_context,
    ),
    Tool(
        "list_versions", "List a context's versions",
        "List a context's versions, newest first: number, title, tags, time. At most limit (1-100, default 20) a "
        "page; pass next_before_version back as before_version for older ones. Read one with get_context and "
        "version, compare two with diff_versions.",
        READ,
        _input({"key": KEY, "limit": _integer("Versions per page.", minimum=1, maximum=100, default=20),
                "before_version": _integer("Only versions older than this one.", minimum=1)}, ("key",)),
        _output({
            "key": {"type": "string"}, "uri": {"type": "string"}, "current_version": {"type": "integer"},
            "versions": {"type": "array", "items": {"type": "object", "properties": {
                "version": {"type": "integer"}, "title": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}}, "changed_by_id": _nullable("integer"),
                "created_at": {"type": "string"}, "uri": {"type": "string"}}, "required": ["version", "uri"]}},
            "next_before_version": _nullable("integer"),
        }, ("key", "current_version", "versions", "next_before_version")),
        read_only=True, destructive=False, idempotent=True, run=list_versions,
    ),
    Tool(
        "diff_versions", "Compare two versions",
        "Show what changed between two versions of a context: a unified diff of the content and the title, tags "
        "and metadata that differ. Defaults: from the previous version to the current one. A long diff is cut to "
        "fit the answer's size limit.",
        READ,
        _input({"key": KEY, "from_version": VERSION, "to_version": VERSION}, ("key",)),
        _output({
            "key": {"type": "string"}, "uri": {"type": "string"}, "from_version": {"type": "integer"},
            "to_version": {"type": "integer"}, "content_diff": {"type": "string"},
            "changed_fields": {"type": "object"},
        }, ("key", "from_version", "to_version", "content_diff", "changed_fields")),
        read_only=True, destructive=False, idempotent=True, run=diff_versions,
    ),
    Tool(
        "restore_version", "Restore a version",
        "Make a past version's title, content, tags and metadata current again, as a new version (history is "
        "never rewritten). expected_version must be the current version.",
        WRITE,
        _input({"key": KEY, "version": VERSION, "expected_version": EXPECTED_VERSION},
               ("key", "version", "expected_version")),
        _output({**CONTEXT_PROPERTIES, "restored_version": {"type": "integer"}},
                ("key", "uri", "version", "restored_version")),
        read_only=False, destructive=False, idempotent=True, run=restore_version,
    ),
    Tool(
        "recent_contexts", "Recent contexts",
        "List the contexts changed (by=updated, the default) or read (by=accessed) most recently, without their "
        "content: key, title, tags, version, read count. At most limit (1-50, default 10).",
        READ,
        _input({"by": {"type": "string", "enum": ["updated", "accessed"], "default": "updated"},
                "limit": _integer("How many.", minimum=1, maximum=50, default=10),
                "include_archived": {"type": "boolean", "default": False}}),
        _output({"by": {"type": "string"}, "results": {"type": "array", "items": {
            "type": "object", "properties": CONTEXT_PROPERTIES, "required": ["key", "uri"]}}}, ("by", "results")),
        read_only=True, destructive=False, idempotent=True, run=recent_contexts,
    ),
    Tool(
        "request_summary", "Ask for a summary",
        "Ask for a summary of a context as it is now. Returns at once with a handle (summary_id) while the "
        "summarizer works; poll get_summary with it until the status is succeeded or failed. Each call asks for a "
        "new summary.",
        SUMMARIZE,
        _input({"key": KEY}, ("key",)),
        _output({"summary_id": {"type": "integer"}, "key": {"type": "string"}, "status": {"type": "string"},
                 "context_version": {"type": "integer"}, "uri": {"type": "string"}, "poll": {"type": "string"}},
                ("summary_id", "key", "status", "context_version")),
        read_only=False, destructive=False, idempotent=False, run=request_summary,
    ),
    Tool(
        "get_summary", "Read a summary",
        "Read a context's summary (the latest, or summary_id from request_summary): status (pending, running, "
        "succeeded, failed), text once succeeded, quality score and metrics, the version it summarises, and "
        "stale when the context has changed since.",
        READ,
        _input({"key": KEY, "summary_id": _integer("From request_summary; omit for the latest.", minimum=1)},
               ("key",)),
        SUMMARY_OUTPUT,
        read_only=True, destructive=False, idempotent=True, run=get_summary,
    ),
)
TOOLS_BY_NAME = {tool.name: tool for tool in TOOLS}
VALIDATORS = {tool.name: Draft202012Validator(tool.input_schema) for tool in TOOLS}


def tools_for(api_key: ApiKey) -> list[dict[str, Any]]:
    """Return the definitions of the tools this key's scopes allow, in their fixed order."""
    return [tool.definition() for tool in TOOLS if tool.scope in api_key.scopes]


def tools_page(api_key: ApiKey, cursor: Any, *, limit: int) -> dict[str, Any]:
    """Return the page of the key's tools a cursor names: as many as fit in the answer size limit (all, usually).

    Pages are cut the same way on every request, so a cursor ("page:<n>") stays good across requests.
    """
    pages: list[list[dict[str, Any]]] = [[]]
    for definition in tools_for(api_key):
        if pages[-1] and size_of({"tools": [*pages[-1], definition]}) + ENVELOPE_BYTES > limit:
            pages.append([])
        pages[-1].append(definition)
    number = 0
    if cursor is not None:
        if not (isinstance(cursor, str) and cursor.startswith("page:") and cursor[5:].isdigit()
                and 0 < int(cursor[5:]) < len(pages)):
            raise invalid_params("Invalid cursor: pass the nextCursor of the previous page.", cursor=cursor)
        number = int(cursor[5:])
    listing: dict[str, Any] = {"tools": pages[number]}
    if number + 1 < len(pages):
        listing["nextCursor"] = f"page:{number + 1}"
    return listing


def tool_named(name: Any) -> Tool:
    """Return the tool of this name, or raise -32602."""
    tool = TOOLS_BY_NAME.get(name) if isinstance(name, str) else None
    if tool is None:
        raise McpError(INVALID_PARAMS, f"Unknown tool {name!r}; tools/list names the tools.", {"tool": name})
    return tool


def validated_arguments(tool: Tool, arguments: Any) -> dict[str, Any]:
    """Return the arguments if they match the tool's inputSchema; raise -32602 naming the first problem."""
    arguments = {} if arguments is None else arguments
    error = best_match(VALIDATORS[tool.name].iter_errors(arguments))
    if error is not None:
        where = "/".join(str(step) for step in error.absolute_path) or "arguments"
        raise invalid_params(f"Invalid arguments for {tool.name}: {where}: {error.message}", tool=tool.name,
                             field=where)
    return arguments


def refusal_answer(refusal: ContextError, key: str | None) -> ToolAnswer:
    """Return a refusal the model can act on, as an isError answer; a stale write carries the current context."""
    error = {"type": refusal.problem_type, "status": refusal.status, "message": str(refusal),
             "field": refusal.field, **refusal.extra}
    answer: dict[str, Any] = {"error": error}
    links = []
    if isinstance(refusal, StaleVersion) and key is not None:
        try:
            current = context_get(key=key)
        except ContextError:
            pass
        else:
            error["current_version"] = current.version
            answer["current"] = context_fields(current, with_content=True)
            links.append(resource_link(current.key, title=current.title))
    return ToolAnswer(answer, links=links, is_error=True)


def tool_result(answer: ToolAnswer, *, limit: int) -> dict[str, Any]:
    """Return a tools/call result: structuredContent, its text mirror and the links, cut to fit the limit."""

    def build(parts: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {
            "content": [{"type": "text", "text": encoded(parts["answer"])}, *parts["links"]],
            "structuredContent": parts["answer"],
        }
        if answer.is_error:
            result["isError"] = True
        return result

    # The links are cut with the answer (they are what goes first: each names a resource the answer names too).
    # Saying what was cut takes room too: fit again, in less, until the whole answer fits.
    room = limit
    for _ in range(4):
        parts, kept = fit({"links": answer.links, "answer": answer.structured},
                          lambda candidate: size_of(build(candidate)) + ENVELOPE_BYTES, limit=room)
        cut = _cut_fields(kept)
        if cut:
            parts["answer"].update(truncated=True, truncated_fields=cut)
            if answer.on_cut is not None:
                answer.on_cut(parts["answer"], cut)
        result = build(parts)
        overshoot = size_of(result) + ENVELOPE_BYTES - limit
        if overshoot <= 0:
            return result
        room -= overshoot
    raise ValueError(f"A tool's answer could not be made to fit in {limit} bytes.")


def _cut_fields(kept: dict[str, int]) -> dict[str, int]:
    """Name what was cut in the answer, items of a list as one (results.*.content: the least kept)."""
    cut: dict[str, int] = {}
    for name, count in kept.items():
        if not name.startswith("answer."):
            continue
        field_name = ".".join("*" if step.isdigit() else step for step in name.removeprefix("answer.").split("."))
        cut[field_name] = min(count, cut.get(field_name, count))
    return cut


def call_tool(api_key: ApiKey, name: Any, arguments: Any, *, limit: int) -> dict[str, Any]:
    """Run one tool for this key: check its scope and arguments, call it, shape the result."""
    tool = tool_named(name)
    require_scope(api_key, tool.scope)
    args = validated_arguments(tool, arguments)
    try:
        answer = tool.run(args)
    except ContextError as refusal:
        answer = refusal_answer(refusal, args.get("key"))
    return tool_result(answer, limit=limit)
