"""The REST API of a tenant's contexts and summaries: thin views over contexts.services and the selectors.

Every view runs on the tenant's own host, in its schema (the host picked it);
the API key was checked against that tenant before the view runs, and noted in
the request's context, where the audit log finds it as the actor of each change.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contexts import services, summaries
from contexts.api.preconditions import expected_version, not_modified, wants_create_only
from contexts.api.serializers import (
    LISTING_DEFAULT_FIELDS,
    BatchGet,
    ContextRead,
    ContextWrite,
    DiffQuery,
    EmptyBody,
    ListingQuery,
    SummaryRead,
    VersionRead,
    VersionSummaryRead,
    context_url,
    etag,
    summary_url,
)
from contexts.errors import ContextExpired, InvalidContext
from contexts.listing import ContextFilter, contexts_page
from contexts.selectors import context_get
from contexts.versions import version_diff, version_get, versions_of


def validated(serializer_class: type, data: Any, *, partial: bool = False) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidContext("The body must be a JSON object.", field="body")
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def context_response(context: Any, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(ContextRead(context).data, status=status_code, headers={"ETag": etag(context), **(headers or {})})


class ContextCollection(APIView):
    """GET /api/v1/contexts/: filters, full-text search, cursor pagination and field projection."""

    def get(self, request: Request) -> Response:
        query = validated(ListingQuery, request.query_params.dict())
        fields = tuple(query.pop("fields", None) or LISTING_DEFAULT_FIELDS)
        if query.get("q") and "fields" not in request.query_params:
            fields = (*fields, "snippet")
        limit, cursor = query.pop("limit"), query.pop("cursor", None)
        criteria = ContextFilter(**{"tags_any" if name == "tags" else name: value for name, value in query.items()})
        page = contexts_page(criteria, limit=limit, cursor=cursor, with_content="content" in fields)
        data = ContextRead(page.contexts, many=True, fields=fields).data
        headers = {}
        next_url = None
        if page.next_cursor:
            query = request.query_params.copy()
            query["cursor"] = page.next_cursor
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
            headers["Link"] = f'<{next_url}>; rel="next"'
        return Response({"results": data, "next": next_url}, headers=headers)


class ContextDetail(APIView):
    """One context by key: read (counted), create or replace, change some fields, delete."""

    def get(self, request: Request, key: str) -> Response:
        context = services.context_read(key=key)
        if not_modified(request, etag(context)):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag(context)})
        return context_response(context)

    def put(self, request: Request, key: str) -> Response:
        values = validated(ContextWrite, request.data)
        context, created = services.context_put(
            key=key, values=values, create_only=wants_create_only(request),
            expected_version=expected_version(request, required=False),
        )
        if created:
            return context_response(context, status_code=201, headers={"Location": context_url(context)})
        return context_response(context)

    def patch(self, request: Request, key: str) -> Response:
        changes = validated(ContextWrite, request.data, partial=True)
        context = services.context_patch(key=key, changes=changes,
                                         expected_version=expected_version(request, required=True))  # type: ignore[arg-type]
        return context_response(context)

    def delete(self, request: Request, key: str) -> Response:
        services.context_delete_by_key(key=key,
                                       expected_version=expected_version(request, required=True))  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContextArchive(APIView):
    """POST …/archive or …/unarchive: archived contexts stay readable and say so."""

    archived = True

    def post(self, request: Request, key: str) -> Response:
        context = services.context_archive(key=key, archived=self.archived,
                                           expected_version=expected_version(request, required=False))
        return context_response(context)


class BatchGetView(APIView):
    """POST /api/v1/contexts:batch-get: up to 100 contexts in one query; each read is counted."""

    required_scopes = {"POST": "contexts:read"}

    def post(self, request: Request) -> Response:
        keys = list(dict.fromkeys(validated(BatchGet, request.data)["keys"]))
        found = {context.key: context for context in services.contexts_read_many(keys=keys)}
        return Response({
            "results": ContextRead([found[key] for key in keys if key in found], many=True).data,
            "missing": [key for key in keys if key not in found],
        })


class VersionList(APIView):
    def get(self, request: Request, key: str) -> Response:
        context = context_get(key=key)
        return Response({"key": context.key, "current_version": context.version,
                         "results": VersionSummaryRead(versions_of(context=context), many=True).data})


class VersionDetail(APIView):
    def get(self, request: Request, key: str, version: int) -> Response:
        return Response(VersionRead(version_get(context=context_get(key=key), version=version)).data)


class VersionRestore(APIView):
    """POST …/versions/{n}/restore: the old fields become a new version."""

    def post(self, request: Request, key: str, version: int) -> Response:
        context = services.context_restore(key=key, version=version,
                                           expected_version=expected_version(request, required=True))  # type: ignore[arg-type]
        return context_response(context)


class VersionDiff(APIView):
    """GET …/diff?from=1&to=3: a unified diff of the content and the fields that changed."""

    def get(self, request: Request, key: str) -> Response:
        context = context_get(key=key)
        query = validated(DiffQuery, request.query_params.dict())
        return Response(version_diff(
            context=context, from_version=query.get("from_version", max(context.version - 1, 1)),
            to_version=query.get("to_version", context.version),
        ))


class SummaryCollection(APIView):
    required_scopes = {"POST": "summaries:write"}

    def get(self, request: Request, key: str) -> Response:
        context = context_get(key=key)
        rows = context.summaries.select_related("context").order_by("-created_at", "-id")[:100]
        return Response({"results": SummaryRead(rows, many=True).data})

    def post(self, request: Request, key: str) -> Response:
        validated(EmptyBody, request.data or {})
        with transaction.atomic():
            context = context_get(key=key)
            if context.is_expired:
                raise ContextExpired(f"Context {key!r} has expired.")
            summary = summaries.summary_request(context=context)
        return Response(SummaryRead(summary).data, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": summary_url(summary)})


class SummaryDetail(APIView):
    def get(self, request: Request, key: str, summary_id: int) -> Response:
        return Response(SummaryRead(summaries.summary_get(context=context_get(key=key), summary_id=summary_id)).data)


class SummaryRetry(APIView):
    required_scopes = {"POST": "summaries:write"}

    def post(self, request: Request, key: str, summary_id: int) -> Response:
        summary = summaries.summary_get(context=context_get(key=key), summary_id=summary_id)
        return Response(SummaryRead(summaries.summary_retry(summary=summary)).data,
                        status=status.HTTP_202_ACCEPTED, headers={"Location": summary_url(summary)})
