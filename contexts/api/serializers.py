"""The API's shapes: what a request may send (types only; the rules are the services') and what it gets."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.http import RFC3986_SUBDELIMS
from rest_framework import serializers

from contexts.limits import MAX_BATCH_KEYS, MAX_TAG_LENGTH, MAX_TAGS, MAX_TITLE_LENGTH, unstorable_json
from contexts.models import Context, ContextVersion, Summary


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, so a typo is an error rather than silently ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class TextField(serializers.CharField):
    """A string, and only a string: DRF's CharField would turn 5 or true into "5" or "True"."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ContextWrite(StrictSerializer):
    title = TextField(required=False, allow_blank=True, max_length=MAX_TITLE_LENGTH, trim_whitespace=False)
    content = TextField(required=False, allow_blank=True, trim_whitespace=False)
    tags = serializers.ListField(child=TextField(max_length=MAX_TAG_LENGTH), required=False, max_length=MAX_TAGS)
    metadata = serializers.DictField(required=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class BatchGet(StrictSerializer):
    keys = serializers.ListField(child=serializers.CharField(), min_length=1, max_length=MAX_BATCH_KEYS)


def etag(context: Context) -> str:
    """The context's strong ETag: its version."""
    return f'"v{context.version}"'


def context_url(context: Context, suffix: str = "") -> str:
    """Return the path of a context (or of one of its sub-resources), as reverse() builds it."""
    return _context_url_prefix(get_urlconf(), get_script_prefix()) + quote(context.key, safe=URL_SAFE) + suffix


# What reverse() leaves unquoted in a URL (django.urls.resolvers); keys hold none of the rest anyway.
URL_SAFE = RFC3986_SUBDELIMS + "/~:@"
_KEY_PLACEHOLDER = "key"


@functools.lru_cache(maxsize=32)
def _context_url_prefix(urlconf: str | None, script_prefix: str) -> str:
    # reverse() costs some 80 µs and a context's representation names three of its URLs: resolve the route once
    # (per URLconf and script prefix, which is all reverse() depends on besides the key) and add the key to it.
    path = reverse("api:context-detail", kwargs={"key": _KEY_PLACEHOLDER})
    assert path.endswith(_KEY_PLACEHOLDER), path
    return path[: -len(_KEY_PLACEHOLDER)]


# Every field a context representation may have; a listing's fields= picks among them.
CONTEXT_FIELDS = (
    "key", "title", "content", "snippet", "tags", "metadata", "version", "etag", "expires_at", "expired",
    "archived", "archived_at", "access_count", "last_accessed_at", "created_at", "updated_at", "links",
)
LISTING_DEFAULT_FIELDS = tuple(name for name in CONTEXT_FIELDS if name not in ("content", "snippet"))
DETAIL_FIELDS = tuple(name for name in CONTEXT_FIELDS if name != "snippet")


class ContextRead(serializers.ModelSerializer):
    etag = serializers.SerializerMethodField()
    expired = serializers.SerializerMethodField()
    archived = serializers.SerializerMethodField()
    snippet = serializers.SerializerMethodField(help_text="With q: the best matching passages, matches in «».")
    links = serializers.SerializerMethodField()

    class Meta:
        model = Context
        fields = CONTEXT_FIELDS
        read_only_fields = CONTEXT_FIELDS  # an answer's shape: every field it has is always there (OpenAPI)

    def __init__(self, *args: Any, fields: tuple[str, ...] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in set(self.fields) - set(fields or DETAIL_FIELDS):
            self.fields.pop(name)

    def get_etag(self, context: Context) -> str:
        return etag(context)

    def get_expired(self, context: Context) -> bool:
        return context.is_expired

    def get_archived(self, context: Context) -> bool:
        return context.is_archived

    def get_snippet(self, context: Context) -> str | None:
        return getattr(context, "snippet", None)

    def get_links(self, context: Context) -> dict[str, str]:
        return _links(context)


# ContextRead's answer built by plain functions, for the views. ContextRead (a ModelSerializer) rebuilds its
# seventeen fields from the model on each instance, 0.5 ms or more of a read by key that otherwise takes about
# as long; it stays the description the OpenAPI document gives, and a test holds the two to the same output.
def _optional_datetime(value: Any) -> str | None:
    """DRF's DateTimeField output (ISO 8601 in the current time zone, "Z" for UTC) without its per-call settings
    lookups: five of these are a tenth of a read's time in DRF's version."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _links(context: Context) -> dict[str, str]:
    path = context_url(context)
    return {"self": path, "versions": path + "/versions", "summaries": path + "/summaries"}


_CONTEXT_VALUES: dict[str, Callable[[Context], Any]] = {
    "key": lambda context: context.key,
    "title": lambda context: context.title,
    "content": lambda context: context.content,
    "snippet": lambda context: getattr(context, "snippet", None),
    "tags": lambda context: list(context.tags),
    "metadata": lambda context: context.metadata,
    "version": lambda context: context.version,
    "etag": etag,
    "expires_at": lambda context: _optional_datetime(context.expires_at),
    "expired": lambda context: context.is_expired,
    "archived": lambda context: context.is_archived,
    "archived_at": lambda context: _optional_datetime(context.archived_at),
    "access_count": lambda context: context.access_count,
    "last_accessed_at": lambda context: _optional_datetime(context.last_accessed_at),
    "created_at": lambda context: _optional_datetime(context.created_at),
    "updated_at": lambda context: _optional_datetime(context.updated_at),
    "links": _links,
}
assert tuple(_CONTEXT_VALUES) == CONTEXT_FIELDS


@functools.lru_cache(maxsize=256)
def _context_values(fields: tuple[str, ...]) -> tuple[tuple[str, Callable[[Context], Any]], ...]:
    # In ContextRead's order whatever the order asked, as the serializer answers.
    wanted = fields or DETAIL_FIELDS  # as ContextRead's fields=() would
    return tuple((name, value) for name, value in _CONTEXT_VALUES.items() if name in wanted)


def context_representation(context: Context, fields: tuple[str, ...] = DETAIL_FIELDS) -> dict[str, Any]:
    """Return what ContextRead(context, fields=fields).data holds, without building a serializer."""
    return {name: value(context) for name, value in _context_values(fields)}


def contexts_representation(contexts: Any, fields: tuple[str, ...] = DETAIL_FIELDS) -> list[dict[str, Any]]:
    """Return what ContextRead(contexts, many=True, fields=fields).data holds."""
    values = _context_values(fields)
    return [{name: value(context) for name, value in values} for context in contexts]


class VersionRead(serializers.ModelSerializer):
    class Meta:
        model = ContextVersion
        fields = ("version", "title", "content", "tags", "metadata", "changed_by_id", "created_at")
        read_only_fields = fields


class VersionSummaryRead(serializers.ModelSerializer):
    class Meta:
        model = ContextVersion
        fields = ("version", "title", "tags", "changed_by_id", "created_at")
        read_only_fields = fields


class SummaryRead(serializers.ModelSerializer):
    stale = serializers.SerializerMethodField(help_text="The context has changed since the version summarised.")
    links = serializers.SerializerMethodField()

    class Meta:
        model = Summary
        fields = ("id", "status", "context_version", "stale", "text", "backend", "model", "quality_score",
                  "quality_metrics", "processing_metadata", "attempts", "max_attempts", "last_error",
                  "next_attempt_at", "started_at", "finished_at", "created_at", "updated_at", "links")
        read_only_fields = fields

    def get_stale(self, summary: Summary) -> bool:
        return summary.is_stale

    def get_links(self, summary: Summary) -> dict[str, str]:
        return {"self": summary_url(summary), "context": context_url(summary.context)}


def summary_url(summary: Summary) -> str:
    return reverse("api:summary-detail", kwargs={"key": summary.context.key, "summary_id": summary.pk})


class CommaList(serializers.CharField):
    """A query parameter holding a comma-separated list."""

    # A CharField's checks on the text, then the list it holds: the override returns what the field is for.
    def to_internal_value(self, data: Any) -> list[str]:  # type: ignore[override]
        text = super().to_internal_value(data)
        # CharField's own check for NUL runs on the value this returns, a list, where it never finds one.
        self.run_validators(text)
        return [item.strip() for item in text.split(",") if item.strip()]

    def run_validators(self, value: Any) -> None:
        if isinstance(value, str):
            super().run_validators(value)


class JsonObject(serializers.CharField):
    """A query parameter holding a JSON object."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:  # type: ignore[override]  # as CommaList's
        import json

        text = super().to_internal_value(data)
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser can follow
            raise serializers.ValidationError("Not valid JSON.") from None
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object, e.g. {\"team\": \"billing\"}.")
        unstorable = unstorable_json(value, self.field_name or "metadata")
        if unstorable:  # no stored metadata can hold it, and PostgreSQL would refuse the query
            raise serializers.ValidationError(unstorable)
        return value


class ListingQuery(StrictSerializer):
    tags = CommaList(required=False, help_text="Any of these tags (comma-separated).")
    tags_all = CommaList(required=False, help_text="All of these tags (comma-separated).")
    metadata = JsonObject(required=False, help_text="Contexts whose metadata contains this JSON object.")
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    updated_after = serializers.DateTimeField(required=False)
    updated_before = serializers.DateTimeField(required=False)
    include_archived = serializers.BooleanField(required=False, default=False)
    include_expired = serializers.BooleanField(required=False, default=False)
    q = serializers.CharField(required=False, max_length=500,
                              help_text='Full-text search in web-search syntax: words, "a phrase", -without, or.')
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)
    cursor = serializers.CharField(required=False, max_length=2000)
    # A field named like Serializer.fields: DRF's metaclass moves declared fields into _declared_fields, so the
    # attribute never shadows the property at run time; only the type checker sees a clash.
    fields = CommaList(required=False, help_text=f"Fields to return, among: {', '.join(CONTEXT_FIELDS)}.")  # type: ignore[assignment]

    def validate_fields(self, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in CONTEXT_FIELDS]
        if unknown:
            raise serializers.ValidationError(f"Unknown field {unknown[0]!r}; choose among {', '.join(CONTEXT_FIELDS)}.")
        return value


class DiffQuery(StrictSerializer):
    from_version = serializers.IntegerField(required=False, min_value=1)
    to_version = serializers.IntegerField(required=False, min_value=1)

    def to_internal_value(self, data: Any) -> Any:
        # ?from=1&to=3 in the URL ("from" is a Python keyword, hence the renaming).
        renamed = {{"from": "from_version", "to": "to_version"}.get(name, name): value for name, value in data.items()}
        return super().to_internal_value(renamed)


class EmptyBody(StrictSerializer):
    """A body that must be empty or {}."""
