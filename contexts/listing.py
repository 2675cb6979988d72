"""Listing and searching a tenant's contexts: filters, ranked full-text search and opaque cursors.

Cursors are signed and bound to the tenant (its schema name is part of the
signature's salt), so a cursor cannot be forged, nor replayed on another
tenant's host: it is refused there as invalid, and reads nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.core import signing
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from contexts.errors import InvalidContext
from contexts.models import SEARCH_CONFIG, Context
from tenants.current import tenant_db

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# Marks around the matched words in a search snippet.
SNIPPET_START, SNIPPET_STOP = "«", "»"


@dataclass
class ContextFilter:
    tags_any: list[str] = field(default_factory=list)
    tags_all: list[str] = field(default_factory=list)
    metadata: dict[str, Any] | None = None  # contexts whose metadata contains this object
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    updated_after: dt.datetime | None = None
    updated_before: dt.datetime | None = None
    include_archived: bool = False
    include_expired: bool = False
    q: str = ""  # web-search syntax: words, "a phrase", -excluded, or


@dataclass
class ContextPage:
    contexts: list[Context]
    next_cursor: str | None


def _salt() -> str:
    return f"contexts.listing:{tenant_db.schema_name}"


def encode_cursor(position: dict[str, Any]) -> str:
    return signing.dumps(position, salt=_salt(), compress=True)


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        return signing.loads(cursor, salt=_salt())
    except signing.BadSignature:
        raise InvalidContext("The cursor is not valid here: use the next link of this tenant's listing.",
                             field="cursor") from None


def filtered(criteria: ContextFilter) -> QuerySet[Context]:
    """The tenant's contexts that match the filter (no order, no search ranking)."""
    contexts = Context.objects.all()
    if criteria.tags_any:
        contexts = contexts.filter(tags__overlap=criteria.tags_any)
    if criteria.tags_all:
        contexts = contexts.filter(tags__contains=criteria.tags_all)
    if criteria.metadata:
        contexts = contexts.filter(metadata__contains=criteria.metadata)
    for lookup, value in (("created_at__gt", criteria.created_after), ("created_at__lt", criteria.created_before),
                          ("updated_at__gt", criteria.updated_after), ("updated_at__lt", criteria.updated_before)):
        if value is not None:
            contexts = contexts.filter(**{lookup: value})
    if not criteria.include_archived:
        contexts = contexts.filter(archived_at__isnull=True)
    if not criteria.include_expired:
        contexts = contexts.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
    return contexts


def contexts_page(criteria: ContextFilter, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None,
                  with_content: bool = True) -> ContextPage:
    """One page of contexts: newest change first, or best match first when searching."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    position = decode_cursor(cursor) if cursor else None
    contexts = filtered(criteria)
    if not with_content:
        contexts = contexts.defer("content")
    if criteria.q.strip():
        return _search_page(contexts, criteria.q, limit, position)
    if position is not None:
        # Keyset: rows strictly after the last one shown, in (updated_at, id) descending order.
        try:
            updated_at, last_id = dt.datetime.fromisoformat(position["u"]), int(position["i"])
        except (KeyError, TypeError, ValueError):
            raise InvalidContext("The cursor is not valid here.", field="cursor") from None
        contexts = contexts.filter(Q(updated_at__lt=updated_at) | Q(updated_at=updated_at, id__lt=last_id))
    rows = list(contexts.order_by("-updated_at", "-id")[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor({"u": rows[-1].updated_at.isoformat(), "i": rows[-1].pk})
    return ContextPage(rows, next_cursor)


def _search_page(contexts: QuerySet[Context], q: str, limit: int, position: dict[str, Any] | None) -> ContextPage:
    # Ranked results have no stable key to seek on, so a search cursor holds an offset, tied to its query.
    offset = 0
    if position is not None:
        if position.get("q") != q or not isinstance(position.get("o"), int) or position["o"] < 0:
            raise InvalidContext("The cursor belongs to another search.", field="cursor")
        offset = position["o"]
    query = SearchQuery(q, search_type="websearch", config=SEARCH_CONFIG)
    ranked = (
        contexts.filter(search_vector=query)
        .annotate(rank=SearchRank(F("search_vector"), query))
        .order_by("-rank", "-updated_at", "-id")[offset: offset + limit + 1]
    )
    rows: list[Any] = list(ranked)  # contexts with a rank, and the snippet set below
    has_more = len(rows) > limit
    rows = rows[:limit]
    if rows:
        # Headlines for this page's rows only: ts_headline reads the whole content, so never for every match.
        snippets = dict(
            Context.objects.filter(pk__in=[row.pk for row in rows])
            .annotate(snippet=SearchHeadline("content", query, config=SEARCH_CONFIG, start_sel=SNIPPET_START,
                                             stop_sel=SNIPPET_STOP, max_words=30, min_words=12, max_fragments=2))
            .values_list("pk", "snippet")
        )
        for row in rows:
            row.snippet = snippets.get(row.pk, "")
    return ContextPage(rows, encode_cursor({"q": q, "o": offset + limit}) if has_more else None)


RECENT_ORDERS = {
    "updated": ("-updated_at", "-id"),
    # Contexts never read come last, in the order they changed.
    "accessed": (F("last_accessed_at").desc(nulls_last=True), "-updated_at", "-id"),
}


def contexts_recent(*, by: str = "updated", limit: int = DEFAULT_PAGE_SIZE, include_archived: bool = False,
                    ) -> list[Context]:
    """Return the live contexts changed (by="updated") or read (by="accessed") most recently, without content."""
    criteria = ContextFilter(include_archived=include_archived)
    return list(filtered(criteria).defer("content").order_by(*RECENT_ORDERS[by])[: max(1, min(limit, MAX_PAGE_SIZE))])
