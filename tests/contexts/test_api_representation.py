"""The views answer with contexts.api.serializers.context_representation, ContextRead's output without the
serializer: the two must agree field for field, in every shape a context takes and every projection a listing asks.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from rest_framework.renderers import JSONRenderer

from contexts import services
from contexts.api.serializers import (
    CONTEXT_FIELDS,
    DETAIL_FIELDS,
    LISTING_DEFAULT_FIELDS,
    ContextRead,
    context_representation,
    contexts_representation,
)
from contexts.models import Context
from tests.contexts.api_client import api_for


def rendered(data: Any) -> bytes:
    """The bytes the API sends for data (its renderer: key order, types and all)."""
    return JSONRenderer().render(data)


@pytest.fixture
def contexts(acme: Any) -> list[Context]:
    """Contexts in the shapes a read can find: plain, full of fields, expiring, expired, archived, read, deep."""
    with tenant_context(acme):
        services.context_create(key="plain")
        services.context_create(
            key="notes/2026/q1.draft~v2", title="Título «quoted» \u2028", content="Line one.\nLine two ✓",
            tags=["a", "b-c", "ünï"], metadata={"team": "ops", "nested": {"list": [1, 2.5, None, True]}},
            expires_at=timezone.now() + dt.timedelta(days=3),
        )
        expired = services.context_create(key="gone", content="Expired.")
        Context.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        archived = services.context_create(key="old/one", content="Archived.")
        services.context_set_archived(context=archived, archived=True)
        services.context_read(key="plain")
        services.context_read(key="plain")
        found = list(Context.objects.order_by("key"))
        found[0].snippet = "a «match» here"  # type: ignore[attr-defined]  # as a search annotates it
        return found


def test_the_detail_representation_is_what_context_read_gives(contexts):
    for context in contexts:
        expected = ContextRead(context).data
        actual = context_representation(context)
        assert actual == expected
        assert list(actual) == list(expected) == list(DETAIL_FIELDS)
        assert rendered(actual) == rendered(expected)


@pytest.mark.parametrize("fields", [
    CONTEXT_FIELDS, LISTING_DEFAULT_FIELDS, DETAIL_FIELDS, ("key",), ("snippet", "key", "title"),
    ("links", "updated_at", "version", "etag"), ("content", "expired", "archived", "archived_at"), (),
])
def test_every_projection_is_what_context_read_gives(contexts, fields):
    expected = ContextRead(contexts, many=True, fields=fields).data
    actual = contexts_representation(contexts, fields)
    assert rendered(actual) == rendered(expected)
    for context in contexts:
        assert rendered(context_representation(context, fields)) == rendered(ContextRead(context, fields=fields).data)


def test_dates_follow_the_current_time_zone_as_the_serializer_does(contexts):
    with timezone.override(dt.timezone(dt.timedelta(hours=5, minutes=30))):
        for context in contexts:
            assert rendered(context_representation(context)) == rendered(ContextRead(context).data)
            assert "+05:30" in context_representation(context)["created_at"]


def test_a_read_by_key_answers_what_context_read_gives_for_the_row_read(acme, contexts):
    api = api_for(acme)

    response = api.get("contexts/notes/2026/q1.draft~v2")

    assert response.status_code == 200
    with tenant_context(acme):
        row = Context.objects.get(key="notes/2026/q1.draft~v2")
    assert response.content == rendered(ContextRead(row).data)
    assert json.loads(response.content)["links"]["self"] == "/api/v1/contexts/notes/2026/q1.draft~v2"
