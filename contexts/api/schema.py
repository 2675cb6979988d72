"""The REST API as OpenAPI 3.1 (drf-spectacular): the key, the errors, the headers and the shapes the views share.

The views say what each operation takes and answers (extend_schema beside each
method); this module holds what they have in common, derived from the rules
themselves (contexts.limits, mcp.problems), so the document cannot drift from
what the API does. The fuzzer (tests/contexts/test_api_fuzz.py) checks every
answer of a live server against it.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import HttpResponse
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers

from contexts.api.serializers import CONTEXT_FIELDS, ContextRead, SummaryRead, VersionSummaryRead
from contexts.limits import MAX_BATCH_KEYS, MAX_KEY_LENGTH, RESERVED_KEY_SEGMENTS
from mcp.problems import CONTENT_TYPE as PROBLEM_CONTENT_TYPE
from mcp.problems import PROBLEM_TYPES

API_PREFIX = "/api/v1/"


class ApiDocumentView(SpectacularAPIView):
    """The OpenAPI document, built and rendered once per process and format: it depends on the code alone.

    Anyone may ask for it (no key), and building and rendering it takes some 50-100 ms of CPU: done on
    every request, that would let anyone keep the workers busy for free.
    """

    _rendered: dict[type, HttpResponse] = {}

    def get(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        # Keyed by the renderer (YAML or JSON), never by what the client's Accept says: a bounded cache.
        renderer = request.accepted_renderer
        if type(renderer) not in self._rendered:
            response = self._get_schema_response(request)
            media_type = renderer.media_type
            content_type = f"{media_type}; charset={renderer.charset}" if renderer.charset else media_type
            body = renderer.render(response.data, media_type, self.get_renderer_context())
            self._rendered[type(renderer)] = HttpResponse(body, content_type=content_type)
        cached = self._rendered[type(renderer)]
        return HttpResponse(cached.content, content_type=cached["Content-Type"])


def api_endpoints_only(endpoints: list[tuple[str, str, str, Any]]) -> list[tuple[str, str, str, Any]]:
    """Describe the REST API alone (a preprocessing hook): the tenant host's other views are not part of it."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(API_PREFIX)]


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """ApiKeyAuthentication as a Bearer scheme, so the docs page has a field to paste a key into."""

    target_class = "contexts.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        scheme = build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer",
                                                     bearer_format="mcpk_<id>_<secret>")
        scheme["description"] = (
            "An API key of this host's tenant, sent as `Authorization: Bearer mcpk_<id>_<secret>` (never in a "
            "query string). Its scopes decide what it may do: `contexts:read` for reads, `contexts:write` for "
            "changes, `summaries:write` to request or retry summaries."
        )
        return scheme


class StrictShape(OpenApiSerializerExtension):
    """A StrictSerializer refuses fields it does not know: say so (additionalProperties: false)."""

    target_class = "contexts.api.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}


# --- Parameters -------------------------------------------------------------------

# A key as contexts.limits.validate_key accepts it: segments of letters, digits and . _ ~ - (not starting
# with a dot) separated by single slashes, none of them a reserved segment, which would name a
# sub-resource in URLs. tests/contexts/test_api_schema.py checks that the two agree.
_SEGMENT = rf"(?!(?:{'|'.join(sorted(RESERVED_KEY_SEGMENTS))})(?:/|$))[A-Za-z0-9_~-][A-Za-z0-9._~-]*"
# The end is (?![\s\S]), not $: a generator reading the pattern as Python's re would let $ match before a final
# newline, and offer "notes\n" as a valid key.
KEY_PARAMETER_PATTERN = rf"^{_SEGMENT}(?:/{_SEGMENT})*(?![\s\S])"

EXAMPLE_KEY = "projects/acme/notes"  # the fuzzer's tenant holds it, so its examples reach real contexts
KEY = OpenApiParameter(
    "key", {"type": "string", "pattern": KEY_PARAMETER_PATTERN, "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    OpenApiParameter.PATH,
    description="The context's key, e.g. `projects/acme/notes`. Its slashes may be sent as they are or as %2F.",
    examples=[OpenApiExample("A key with slashes", value=EXAMPLE_KEY)],
)
MAX_VERSION = 2**31 - 1  # versions are PostgreSQL integers
MAX_SUMMARY_ID = 2**63 - 1  # summary ids are bigints
VERSION = OpenApiParameter("version", {"type": "integer", "minimum": 1, "maximum": MAX_VERSION},
                           OpenApiParameter.PATH, description="A version number of the context (1 is the first).",
                           examples=[OpenApiExample("The first version", value=1)])
SUMMARY_ID = OpenApiParameter("summary_id", {"type": "integer", "minimum": 1, "maximum": MAX_SUMMARY_ID},
                              OpenApiParameter.PATH, description="The summary's id.",
                              examples=[OpenApiExample("A summary's id", value=1)])

ETAG_VALUE = {"type": "string", "pattern": r'^(W/)?"v[1-9][0-9]{0,9}"$'}
IF_MATCH_REQUIRED = OpenApiParameter(
    "If-Match", ETAG_VALUE, OpenApiParameter.HEADER,
    description='The ETag you read, e.g. `"v3"`. Required: without it the answer is 428; if the context has '
                "changed since, 412 and nothing changes.",
)
IF_MATCH_OPTIONAL = OpenApiParameter(
    "If-Match", ETAG_VALUE, OpenApiParameter.HEADER,
    description='The ETag you read, e.g. `"v3"`. Optional: when given and the context has changed since, 412 '
                "and nothing changes.",
)
IF_MATCH_PUT = OpenApiParameter(
    "If-Match", ETAG_VALUE, OpenApiParameter.HEADER,
    description='To replace: the ETag you read, e.g. `"v3"` (412 and nothing changes if the context has changed '
                "since). Send this or `If-None-Match: *`; with neither the answer is 428.",
)
IF_NONE_MATCH_PUT = OpenApiParameter(
    "If-None-Match", {"type": "string", "enum": ["*"]}, OpenApiParameter.HEADER,
    description="`*` to create: 201 if no context has the key, 412 and nothing changes if one does.",
)
IF_NONE_MATCH_GET = OpenApiParameter(
    "If-None-Match", str, OpenApiParameter.HEADER,
    description='ETags you hold, e.g. `"v3"` (comma-separated): 304 with no body while the context is at one '
                "of them.",
)
DIFF_FROM = OpenApiParameter("from", {"type": "integer", "minimum": 1}, OpenApiParameter.QUERY,
                             description="The older version (default: the one before the current).")
DIFF_TO = OpenApiParameter("to", {"type": "integer", "minimum": 1}, OpenApiParameter.QUERY,
                           description="The newer version (default: the current one).")


# --- Response headers ---------------------------------------------------------------

def etag_header(*statuses: int) -> OpenApiParameter:
    return OpenApiParameter("ETag", ETAG_VALUE, OpenApiParameter.HEADER, required=True, response=list(statuses),
                            description="The context's version as a strong ETag; send it back in If-Match.")


def location_header(status: int, what: str) -> OpenApiParameter:
    return OpenApiParameter("Location", str, OpenApiParameter.HEADER, required=True, response=[status],
                            description=f"The path of {what}.")


NEXT_LINK_HEADER = OpenApiParameter(
    "Link", str, OpenApiParameter.HEADER, response=[200],
    description='`<next page URL>; rel="next"` (RFC 8288) when there are more results; the same URL as `next`.',
)


# --- Errors ---------------------------------------------------------------------------

class FieldError(serializers.Serializer):
    field = serializers.CharField(help_text="The input it is about: a body field (`tags`, `keys[3]`), a query "
                                            "parameter, a header (`If-Match`), or `body`.")
    message = serializers.CharField()


class Problem(serializers.Serializer):
    """An error (RFC 9457); every refusal of the API is one, as application/problem+json."""

    type = serializers.URLField(help_text="The problem type: a stable URI whose page says what it means and what "
                                          "to do. Its last segment is the type's slug, e.g. `context-not-found`.")
    title = serializers.CharField(help_text="The type's title, the same for every problem of the type.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(help_text="What went wrong this time, for a person.")
    request_id = serializers.CharField(required=False, help_text="This request's id (also in X-Request-ID): "
                                                                 "quote it to support.")
    # Named like Serializer.errors: DRF's metaclass moves it into _declared_fields (see ListingQuery.fields).
    errors = FieldError(many=True, required=False,  # type: ignore[assignment]
                        help_text="One entry for each input refused (400, 413).")
    current_version = serializers.IntegerField(required=False, allow_null=True,
                                               help_text="On 412: the context's version now (null: it exists "
                                                         "although If-None-Match: * asked to create it).")


# Why a status can come from an operation whose own rules never give it.
STATUS_NOTES = {
    405: "The key's last segment names a sub-resource (…/diff, …/archive, …/versions), so the path is that "
         "sub-resource's, which does not take this method. No key has such a segment.",
}


def _statuses_described(status: int) -> str:
    types = [(slug, problem) for slug, problem in PROBLEM_TYPES.items() if problem.status == status]
    if len(types) == 1:
        slug, problem = types[0]
        described = f"`{slug}`: {problem.description}"
    else:
        described = "One of: " + ", ".join(f"`{slug}` ({problem.title})" for slug, problem in types) + "."
    return f"{described} {STATUS_NOTES[status]}" if status in STATUS_NOTES else described


def errors(*statuses: int) -> dict[Any, OpenApiResponse]:
    """The problem+json answers an operation may give, each described by the problem types of its status."""
    return {(status, PROBLEM_CONTENT_TYPE): OpenApiResponse(Problem, description=_statuses_described(status))
            for status in statuses}


WWW_AUTHENTICATE = OpenApiParameter(
    "WWW-Authenticate", str, OpenApiParameter.HEADER, required=True, response=[401],
    description='`Bearer realm="api"`, with `error="invalid_token"` when a key was sent (RFC 6750).',
)
ALLOW = OpenApiParameter("Allow", str, OpenApiParameter.HEADER, required=True, response=[405],
                         description="The methods the path takes.")
RETRY_AFTER = OpenApiParameter("Retry-After", {"type": "string", "pattern": "^[0-9]+$"}, OpenApiParameter.HEADER,
                               response=[429], description="Seconds to wait before trying again.")

# What every operation may answer whatever it does: no valid key (401), a scope missing or the tenant
# suspended (403), the request budget spent (429), and 406 to an Accept the API cannot answer.
ACCESS = (401, 403, 406, 429)
RATE_LIMIT = OpenApiParameter(
    "RateLimit", str, OpenApiParameter.HEADER, response=True,
    description='What is left of each budget and when it resets, e.g. `"key";r=599;t=42, "tenant";r=2999;t=42` '
                "(draft-ietf-httpapi-ratelimit-headers); on every answer to a request with a valid key.",
)
RATE_LIMIT_POLICY = OpenApiParameter(
    "RateLimit-Policy", str, OpenApiParameter.HEADER, response=True,
    description='The budgets of the key and the tenant, by plan, e.g. `"key";q=600;w=60, "tenant";q=3000;w=60`.',
)
ACCESS_HEADERS = [WWW_AUTHENTICATE, RETRY_AFTER, ALLOW, RATE_LIMIT, RATE_LIMIT_POLICY]
# An operation that reads a JSON body: malformed (400), larger than any plan allows (413), not JSON (415).
BODY = (400, 413, 415)
# An operation on /contexts/{key} itself: a key ending in a reserved segment routes elsewhere (STATUS_NOTES).
ON_KEY = (400, 404, 405)


def operation(operation_id: str, *, tag: str, summary: str, responses: dict[Any, Any], refusals: tuple[int, ...] = (),
              parameters: tuple[Any, ...] = (), request: Any = None, description: str | None = None) -> Any:
    """extend_schema for one of the API's operations: its answers, plus the refusals any operation may give."""
    answers = {status: answer if isinstance(answer, OpenApiResponse) else
               OpenApiResponse(answer, description=HTTPStatus(status).phrase) for status, answer in responses.items()}
    return extend_schema(
        operation_id=operation_id, tags=[tag], summary=summary, description=description, request=request,
        parameters=[*parameters, *ACCESS_HEADERS],
        responses={**answers, **errors(*sorted(set(refusals) | set(ACCESS)))},
    )


NOT_MODIFIED = OpenApiResponse(description="Not modified: the context is still at an ETag of If-None-Match.")
NO_CONTENT = OpenApiResponse(description="Deleted, with its versions and summaries.")


# --- Shapes the views build as dicts ------------------------------------------------

class ContextListItem(ContextRead):
    """A context in a listing: only the fields asked for (fields=…), so none is always present."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fields", CONTEXT_FIELDS)  # every field a listing may hold, snippet included
        super().__init__(*args, **kwargs)


class ContextListItemShape(OpenApiSerializerExtension):
    target_class = ContextListItem

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema.pop("required", None)
        return schema


class ContextPage(serializers.Serializer):
    results = ContextListItem(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page (the same URL with its cursor), or null "
                                                           "on the last page.")


class BatchGetResult(serializers.Serializer):
    results = ContextRead(many=True, help_text="The live contexts found, in the order asked (each read counted).")
    missing = serializers.ListField(child=serializers.CharField(), max_length=MAX_BATCH_KEYS,
                                    help_text="The keys asked for that name no live context (none, or expired).")


class VersionPage(serializers.Serializer):
    key = serializers.CharField()
    current_version = serializers.IntegerField(min_value=1)
    results = VersionSummaryRead(many=True, help_text="Newest first.")


# A field's old and new values; built with type() because "from" is a Python keyword.
FieldChange = type("FieldChange", (serializers.Serializer,), {
    "from": serializers.JSONField(help_text="The older version's value."),
    "to": serializers.JSONField(help_text="The newer version's value."),
})


class VersionDiffRead(serializers.Serializer):
    key = serializers.CharField()
    from_version = serializers.IntegerField(min_value=1)
    to_version = serializers.IntegerField(min_value=1)
    content_diff = serializers.CharField(help_text="A unified diff of the content; empty when it did not change.")
    changed_fields = serializers.DictField(child=FieldChange(), help_text="title, tags and metadata, when they "
                                                                          "changed: their old and new values.")


class SummaryPage(serializers.Serializer):
    results = SummaryRead(many=True, help_text="Newest first, at most 100.")
