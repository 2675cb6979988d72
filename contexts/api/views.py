"""The REST API of a tenant's contexts and summaries: thin views over contexts.services and the selectors.

Every view runs on the tenant's own host, in its schema (the host picked it);
the API key was checked against that tenant before the view runs, and noted in
the request's context, where the audit log finds it as the actor of each change.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contexts import services, summaries
from contexts.api import schema as doc
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
    context_representation,
    context_url,
    contexts_representation,
    etag,
    summary_url,
)
from contexts.errors import ContextError, ContextExpired, InvalidContext, SummaryNotFound, VersionNotFound
from contexts.listing import ContextFilter, contexts_page
from contexts.selectors import context_get
from contexts.versions import version_diff, version_get, versions_of


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def api_not_found(request: Request) -> Response:
    """Answer a path the API does not serve (before asking for a key: there is nothing to protect)."""
    raise NotFound(f"The API serves nothing at {request.path}; see /api/docs/.")


def number_in_path(value: str, *, maximum: int, refusal: type[ContextError], what: str) -> int:
    """The number a path segment holds; one that is not a number, or past what can exist, names nothing (404)."""
    # The length first: int() refuses more than 4300 digits with a ValueError, which would be a 500.
    if not (value.isascii() and value.isdigit()) or len(value) > 20 or not 1 <= int(value) <= maximum:
        raise refusal(f"There is no {what} {value!r}.", field=what.replace(" ", "_"))
    return int(value)


def version_in_path(value: str) -> int:
    return number_in_path(value, maximum=doc.MAX_VERSION, refusal=VersionNotFound, what="version")


def summary_in_path(value: str) -> int:
    return number_in_path(value, maximum=doc.MAX_SUMMARY_ID, refusal=SummaryNotFound, what="summary id")


def validated(serializer_class: type, data: Any, *, partial: bool = False) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidContext("The body must be a JSON object.", field="body")
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def context_response(context: Any, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(context_representation(context), status=status_code, headers={"ETag": etag(context), **(headers or {})})


class ContextCollection(APIView):
    """GET /api/v1/contexts/: filters, full-text search, cursor pagination and field projection."""

    @doc.operation(
        "contexts_list", tag="contexts", summary="List and search contexts",
        description="Newest change first, or best match first with `q`. Archived and expired contexts are left "
                    "out unless asked for. Follow `next` (or the Link header) for the next page.",
        parameters=(ListingQuery, doc.NEXT_LINK_HEADER), responses={200: doc.ContextPage}, refusals=(400,),
    )
    def get(self, request: Request) -> Response:
        query = validated(ListingQuery, request.query_params.dict())
        fields = tuple(query.pop("fields", None) or LISTING_DEFAULT_FIELDS)
        if query.get("q") and "fields" not in request.query_params:
            fields = (*fields, "snippet")
        limit, cursor = query.pop("limit"), query.pop("cursor", None)
        criteria = ContextFilter(**{"tags_any" if name == "tags" else name: value for name, value in query.items()})
        page = contexts_page(criteria, limit=limit, cursor=cursor, with_content="content" in fields)
        data = contexts_representation(page.contexts, fields)
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

    @doc.operation(
        "contexts_get", tag="contexts", summary="Read a context",
        description="Counts the read. An archived context is served (and says so); an expired one is 410.",
        parameters=(doc.KEY, doc.IF_NONE_MATCH_GET, doc.etag_header(200, 304)),
        responses={200: ContextRead, 304: doc.NOT_MODIFIED}, refusals=(*doc.ON_KEY, 410),
    )
    def get(self, request: Request, key: str) -> Response:
        context = services.context_read(key=key)
        if not_modified(request, etag(context)):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag(context)})
        return context_response(context)

    @doc.operation(
        "contexts_put", tag="contexts", summary="Create or replace a context",
        description="With `If-None-Match: *`, creates it (201). With `If-Match`, replaces it whole: fields left "
                    "out take their defaults (empty title, content, tags and metadata; no expiry).",
        parameters=(doc.KEY, doc.IF_NONE_MATCH_PUT, doc.IF_MATCH_PUT, doc.etag_header(200, 201),
                    doc.location_header(201, "the new context")),
        request=ContextWrite, responses={200: ContextRead, 201: ContextRead},
        refusals=(*doc.BODY, *doc.ON_KEY, 412, 428),
    )
    def put(self, request: Request, key: str) -> Response:
        values = validated(ContextWrite, request.data)
        context, created = services.context_put(
            key=key, values=values, create_only=wants_create_only(request),
            expected_version=expected_version(request, required=False),
        )
        if created:
            return context_response(context, status_code=201, headers={"Location": context_url(context)})
        return context_response(context)

    @doc.operation(
        "contexts_patch", tag="contexts", summary="Change some fields of a context",
        parameters=(doc.KEY, doc.IF_MATCH_REQUIRED, doc.etag_header(200)),
        request=ContextWrite, responses={200: ContextRead}, refusals=(*doc.BODY, *doc.ON_KEY, 412, 428),
    )
    def patch(self, request: Request, key: str) -> Response:
        changes = validated(ContextWrite, request.data, partial=True)
        context = services.context_patch(key=key, changes=changes,
                                         expected_version=expected_version(request, required=True))  # type: ignore[arg-type]
        return context_response(context)

    @doc.operation(
        "contexts_delete", tag="contexts", summary="Delete a context",
        parameters=(doc.KEY, doc.IF_MATCH_REQUIRED), responses={204: doc.NO_CONTENT},
        refusals=(*doc.ON_KEY, 412, 428),
    )
    def delete(self, request: Request, key: str) -> Response:
        services.context_delete_by_key(key=key,
                                       expected_version=expected_version(request, required=True))  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContextArchive(APIView):
    """POST …/archive or …/unarchive: archived contexts stay readable and say so."""

    archived = True

    @doc.operation(
        "contexts_archive", tag="contexts", summary="Archive a context",
        description="Leaves it out of listings (unless include_archived=true); it stays readable. A new version.",
        parameters=(doc.KEY, doc.IF_MATCH_OPTIONAL, doc.etag_header(200)), responses={200: ContextRead},
        refusals=(400, 404, 412),
    )
    def post(self, request: Request, key: str) -> Response:
        context = services.context_archive(key=key, archived=self.archived,
                                           expected_version=expected_version(request, required=False))
        return context_response(context)


@extend_schema_view(post=doc.operation(
    "contexts_unarchive", tag="contexts", summary="Unarchive a context",
    parameters=(doc.KEY, doc.IF_MATCH_OPTIONAL, doc.etag_header(200)), responses={200: ContextRead},
    refusals=(400, 404, 412),
))
class ContextUnarchive(ContextArchive):
    archived = False


class BatchGetView(APIView):
    """POST /api/v1/contexts:batch-get: up to 100 contexts in one query; each read is counted."""

    required_scopes = {"POST": "contexts:read"}

    @doc.operation(
        "contexts_batch_get", tag="contexts", summary="Read many contexts at once",
        description="Up to 100 keys, answered in one query; each context found counts a read. Needs "
                    "contexts:read only.",
        request=BatchGet, responses={200: doc.BatchGetResult}, refusals=doc.BODY,
    )
    def post(self, request: Request) -> Response:
        keys = list(dict.fromkeys(validated(BatchGet, request.data)["keys"]))
        found = {context.key: context for context in services.contexts_read_many(keys=keys)}
        return Response({
            "results": contexts_representation([found[key] for key in keys if key in found]),
            "missing": [key for key in keys if key not in found],
        })


class VersionList(APIView):
    @doc.operation("versions_list", tag="versions", summary="List a context's versions",
                   parameters=(doc.KEY,), responses={200: doc.VersionPage}, refusals=(400, 404))
    def get(self, request: Request, key: str) -> Response:
        context = context_get(key=key)
        return Response({"key": context.key, "current_version": context.version,
                         "results": VersionSummaryRead(versions_of(context=context), many=True).data})


class VersionDetail(APIView):
    @doc.operation("versions_get", tag="versions", summary="Read one version of a context",
                   parameters=(doc.KEY, doc.VERSION), responses={200: VersionRead}, refusals=(400, 404))
    def get(self, request: Request, key: str, version: str) -> Response:
        return Response(VersionRead(version_get(context=context_get(key=key), version=version_in_path(version))).data)


class VersionRestore(APIView):
    """POST …/versions/{n}/restore: the old fields become a new version."""

    @doc.operation(
        "versions_restore", tag="versions", summary="Restore a version",
        description="Its title, content, tags and metadata become a new version; history is never rewritten.",
        parameters=(doc.KEY, doc.VERSION, doc.IF_MATCH_REQUIRED, doc.etag_header(200)),
        responses={200: ContextRead}, refusals=(400, 404, 412, 413, 428),
    )
    def post(self, request: Request, key: str, version: str) -> Response:
        context = services.context_restore(key=key, version=version_in_path(version),
                                           expected_version=expected_version(request, required=True))  # type: ignore[arg-type]
        return context_response(context)


class VersionDiff(APIView):
    """GET …/diff?from=1&to=3: a unified diff of the content and the fields that changed."""

    @doc.operation("versions_diff", tag="versions", summary="Compare two versions",
                   parameters=(doc.KEY, doc.DIFF_FROM, doc.DIFF_TO), responses={200: doc.VersionDiffRead},
                   refusals=(400, 404))
    def get(self, request: Request, key: str) -> Response:
        context = context_get(key=key)
        query = validated(DiffQuery, request.query_params.dict())
        return Response(version_diff(
            context=context, from_version=query.get("from_version", max(context.version - 1, 1)),
            to_version=query.get("to_version", context.version),
        ))


class SummaryCollection(APIView):
    required_scopes = {"POST": "summaries:write"}

    @doc.operation("summaries_list", tag="summaries", summary="List a context's summaries",
                   parameters=(doc.KEY,), responses={200: doc.SummaryPage}, refusals=(400, 404))
    def get(self, request: Request, key: str) -> Response:
        context = context_get(key=key)
        rows = context.summaries.select_related("context").order_by("-created_at", "-id")[:100]
        return Response({"results": SummaryRead(rows, many=True).data})

    @doc.operation(
        "summaries_request", tag="summaries", summary="Ask for a summary",
        description="Of the context as it is now; the summarizer works on it later (202). Needs summaries:write.",
        parameters=(doc.KEY, doc.location_header(202, "the summary")), request=EmptyBody,
        responses={202: SummaryRead}, refusals=(*doc.BODY, 404, 410),
    )
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
    @doc.operation("summaries_get", tag="summaries", summary="Read a summary",
                   parameters=(doc.KEY, doc.SUMMARY_ID), responses={200: SummaryRead}, refusals=(400, 404))
    def get(self, request: Request, key: str, summary_id: str) -> Response:
        return Response(SummaryRead(summaries.summary_get(context=context_get(key=key), summary_id=summary_in_path(summary_id))).data)


class SummaryRetry(APIView):
    required_scopes = {"POST": "summaries:write"}

    @doc.operation(
        "summaries_retry", tag="summaries", summary="Retry a failed summary",
        description="With a fresh budget of attempts; 409 unless the summary has failed. Needs summaries:write.",
        parameters=(doc.KEY, doc.SUMMARY_ID, doc.location_header(202, "the summary")),
        responses={202: SummaryRead}, refusals=(400, 404, 409),
    )
    def post(self, request: Request, key: str, summary_id: str) -> Response:
        summary = summaries.summary_get(context=context_get(key=key), summary_id=summary_in_path(summary_id))
        return Response(SummaryRead(summaries.summary_retry(summary=summary)).data,
                        status=status.HTTP_202_ACCEPTED, headers={"Location": summary_url(summary)})
